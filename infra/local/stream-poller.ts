import {
  type _Record,
  type AttributeValue,
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ResourceNotFoundException,
  type Shard,
  type ShardIteratorType,
  TrimmedDataAccessException,
} from "@aws-sdk/client-dynamodb-streams";
import type { DynamoDBRecord, AttributeValue as LambdaAttributeValue } from "aws-lambda";
import { manifest, type StreamConsumerSpec } from "#infra/manifest";
import { readBatchResponse } from "./batch-response.ts";
import type { FunctionRunner } from "./functions.ts";
import type { Logger } from "./log.ts";
import { STOP_GRACE_MS, settleWithin } from "./settle.ts";

export interface StreamPollerOptions {
  streams: DynamoDBStreamsClient;
  /** The ARN DynamoDB Local gave the stream; calls use it as is. */
  streamArn: string;
  region: string;
  consumer: StreamConsumerSpec;
  /** Where to start on shards that exist when polling starts: the whole stream of a new table, or only new writes. */
  startAt: "TRIM_HORIZON" | "LATEST";
  functions: FunctionRunner;
  log: Logger;
  idlePollMs?: number;
}

interface ShardState {
  id: string;
  parentId?: string;
  startingSequence: string;
  iterator?: string;
  lastSequence?: string;
  firstIterator: ShardIteratorType;
  done: boolean;
}

const DESCRIBE_EVERY_MS = 1_000;

function toLambdaValue(value: AttributeValue): LambdaAttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString("base64") };
  if (value.BS !== undefined) return { BS: value.BS.map((item) => Buffer.from(item).toString("base64")) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  // A type newer than this SDK: nothing faithful can be passed on.
  return { NULL: true };
}

function toLambdaImage(image: Record<string, AttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));
}

/** DynamoDB Local names its region `ddblocal`; a function sees the region it is deployed in. */
export function publicStreamArn(streamArn: string, region: string): string {
  return streamArn.replace(/^arn:aws:dynamodb:[^:]*:/, `arn:aws:dynamodb:${region}:`);
}

/** A stream record as Lambda delivers it: binary as base64, the creation time in epoch seconds. */
export function toDynamoDbRecord(record: _Record, eventSourceArn: string, region: string): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  const result: DynamoDBRecord = {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? "1.1",
    eventSource: "aws:dynamodb",
    awsRegion: region,
    eventSourceARN: eventSourceArn,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(
        (stream.ApproximateCreationDateTime?.getTime() ?? Date.now()) / 1000,
      ),
      Keys: stream.Keys ? toLambdaImage(stream.Keys) : undefined,
      NewImage: stream.NewImage ? toLambdaImage(stream.NewImage) : undefined,
      OldImage: stream.OldImage ? toLambdaImage(stream.OldImage) : undefined,
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes,
      StreamViewType: stream.StreamViewType,
    },
  };
  if (record.userIdentity) result.userIdentity = record.userIdentity;
  for (const key of ["Keys", "NewImage", "OldImage"] as const) {
    if (result.dynamodb?.[key] === undefined) delete result.dynamodb?.[key];
  }
  return result;
}

/**
 * The consumer's filter criteria, as the event source mapping applies them: the event name, and a prefix of the
 * new image's sort key. A record without a new image (REMOVE) has no sort key to match, as in AWS.
 */
export function matchesFilter(record: DynamoDBRecord, consumer: StreamConsumerSpec): boolean {
  if (!record.eventName || !consumer.eventNames.includes(record.eventName)) return false;
  if (consumer.skPrefixes.length === 0) return true;
  const sortKey = record.dynamodb?.NewImage?.[manifest.table.sortKey]?.S;
  return sortKey !== undefined && consumer.skPrefixes.some((prefix) => sortKey.startsWith(prefix));
}

/**
 * One Lambda event source mapping for the table's stream. It reads every shard in order, a child only after its
 * parent is exhausted, so the records of one item reach the function in the order they were written. A failing
 * batch is retried from its first failed record up to `retryAttempts` times, then skipped.
 */
export class StreamPoller {
  private readonly aborter = new AbortController();
  private readonly shards = new Map<string, ShardState>();
  private readonly eventSourceArn: string;
  private lastDescribe = 0;
  private running?: Promise<void>;

  constructor(private readonly options: StreamPollerOptions) {
    this.eventSourceArn = publicStreamArn(options.streamArn, options.region);
  }

  /** Takes the positions of the shards that exist now, so writes made after this call are all delivered. */
  async start(): Promise<void> {
    await this.discover(true);
    for (const shard of this.shards.values()) {
      if (!shard.done && !shard.iterator) await this.openIterator(shard);
    }
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.aborter.abort();
    if (this.running && !(await settleWithin([this.running], STOP_GRACE_MS))) {
      this.options.log.warn(
        `${this.options.consumer.function} is still running a batch; stopping without it`,
      );
    }
  }

  private get stopped(): boolean {
    return this.aborter.signal.aborted;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const signal = this.aborter.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    });
  }

  private async describeAll(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.options.streams.send(
        new DescribeStreamCommand({
          StreamArn: this.options.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
        }),
      );
      shards.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  private async discover(initial: boolean): Promise<void> {
    this.lastDescribe = Date.now();
    for (const shard of await this.describeAll()) {
      if (!shard.ShardId || this.shards.has(shard.ShardId)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const skipHistory = initial && this.options.startAt === "LATEST";
      this.shards.set(shard.ShardId, {
        id: shard.ShardId,
        parentId: shard.ParentShardId,
        startingSequence: shard.SequenceNumberRange?.StartingSequenceNumber ?? "0",
        // A shard that appears later is read from its start: its records are new.
        firstIterator: skipHistory ? "LATEST" : "TRIM_HORIZON",
        done: skipHistory && closed,
      });
    }
  }

  private async openIterator(shard: ShardState): Promise<void> {
    const { ShardIterator } = await this.options.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.options.streamArn,
        ShardId: shard.id,
        ...(shard.lastSequence
          ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: shard.lastSequence }
          : { ShardIteratorType: shard.firstIterator }),
      }),
    );
    shard.iterator = ShardIterator;
    if (!ShardIterator) shard.done = true;
  }

  /** Shards whose parent is done (or gone), oldest first. */
  private readable(): ShardState[] {
    return [...this.shards.values()]
      .filter((shard) => {
        if (shard.done) return false;
        const parent = shard.parentId ? this.shards.get(shard.parentId) : undefined;
        return parent === undefined || parent.done;
      })
      .sort((a, b) => (BigInt(a.startingSequence) < BigInt(b.startingSequence) ? -1 : 1));
  }

  private async loop(): Promise<void> {
    const idle = this.options.idlePollMs ?? 150;
    while (!this.stopped) {
      let delivered = false;
      try {
        if (Date.now() - this.lastDescribe >= DESCRIBE_EVERY_MS) await this.discover(false);
        for (const shard of this.readable()) {
          if (this.stopped) break;
          delivered = (await this.readShard(shard)) || delivered;
        }
      } catch (error) {
        if (this.stopped) return;
        this.options.log.error("reading the stream failed; retrying in 1s", error);
        await this.sleep(1_000);
        continue;
      }
      if (!delivered) await this.sleep(idle);
    }
  }

  /** Reads one page of a shard and delivers it; returns whether it found records. */
  private async readShard(shard: ShardState): Promise<boolean> {
    if (!shard.iterator) await this.openIterator(shard);
    if (shard.done || !shard.iterator) return false;
    let page: { Records?: _Record[]; NextShardIterator?: string };
    try {
      page = await this.options.streams.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }),
      );
    } catch (error) {
      if (error instanceof ExpiredIteratorException) {
        shard.iterator = undefined;
        return false;
      }
      if (error instanceof TrimmedDataAccessException) {
        this.options.log.warn(
          `shard ${shard.id} was trimmed past the last record read; continuing from its oldest record`,
        );
        shard.lastSequence = undefined;
        shard.firstIterator = "TRIM_HORIZON";
        shard.iterator = undefined;
        return false;
      }
      if (error instanceof ResourceNotFoundException) {
        shard.done = true;
        return false;
      }
      throw error;
    }
    const records = [...(page.Records ?? [])];
    let next = page.NextShardIterator;
    if (records.length > 0) next = await this.gather(records, next);
    if (records.length > 0) {
      await this.deliver(records);
      shard.lastSequence = records.at(-1)?.dynamodb?.SequenceNumber ?? shard.lastSequence;
    }
    shard.iterator = next;
    if (!next) {
      shard.done = true;
      // Its children may already be listed; look again at once rather than after the next describe interval.
      this.lastDescribe = 0;
    }
    return records.length > 0;
  }

  /**
   * The mapping's batching window: after the first records it waits out the window and reads the shard
   * once more, so the function gets the window's records as one batch instead of one batch per write. A
   * read that fails here ends the window; the shard is read on from the last iterator that worked.
   */
  private async gather(records: _Record[], iterator: string | undefined): Promise<string | undefined> {
    const { consumer } = this.options;
    if (!iterator || consumer.maxBatchingWindowSeconds <= 0 || records.length >= consumer.batchSize)
      return iterator;
    await this.sleep(consumer.maxBatchingWindowSeconds * 1000);
    if (this.stopped) return iterator;
    try {
      const page = await this.options.streams.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
      );
      records.push(...(page.Records ?? []));
      return page.NextShardIterator;
    } catch {
      return iterator;
    }
  }

  private async deliver(raw: _Record[]): Promise<void> {
    const { consumer } = this.options;
    const records = raw
      .map((record) => toDynamoDbRecord(record, this.eventSourceArn, this.options.region))
      .filter((record) => matchesFilter(record, consumer));
    for (let start = 0; start < records.length; start += consumer.batchSize) {
      await this.deliverBatch(records.slice(start, start + consumer.batchSize));
    }
  }

  private async deliverBatch(batch: DynamoDBRecord[]): Promise<void> {
    const { consumer, functions, log } = this.options;
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      let firstFailed: number;
      try {
        const result = await functions.invoke(consumer.function, { Records: pending });
        const sequences = pending.map((record) => record.dynamodb?.SequenceNumber ?? "");
        const outcome = readBatchResponse(result, sequences);
        if (outcome.kind === "success") return;
        if (outcome.kind === "failure") {
          log.error(`${consumer.function} returned ${outcome.reason}; retrying the whole batch`);
          firstFailed = 0;
        } else {
          // Records before the first failure are checkpointed; the batch resumes at the failure, as in AWS.
          firstFailed = sequences.findIndex((sequence) => outcome.failed.has(sequence));
        }
      } catch (error) {
        log.error(`${consumer.function} failed on a batch of ${pending.length} stream records`, error);
        firstFailed = 0;
      }
      pending = pending.slice(firstFailed);
      if (attempt >= consumer.retryAttempts) {
        const first = pending[0]?.dynamodb?.SequenceNumber;
        const last = pending.at(-1)?.dynamodb?.SequenceNumber;
        log.error(
          `DROPPED ${pending.length} stream records (sequence ${first}..${last}) after ${consumer.retryAttempts} retries of ${consumer.function}. ` +
            "AWS would send them to the mapping's on-failure destination.",
        );
        return;
      }
      if (this.stopped) return;
      await this.sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}
