import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSMessageAttributes, SQSRecord } from "aws-lambda";
import type { FunctionName } from "#infra/manifest";
import { readBatchResponse } from "./batch-response.ts";
import type { FunctionRunner } from "./functions.ts";
import type { Logger } from "./log.ts";
import { STOP_GRACE_MS, settleWithin } from "./settle.ts";

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  functionName: FunctionName;
  batchSize: number;
  batchingWindowSeconds: number;
  /** Batches in flight at once. AWS scales to `maxConcurrency`; a laptop does not need that many. */
  concurrency: number;
  functions: FunctionRunner;
  log: Logger;
}

const MAX_RECEIVE = 10;
const LONG_POLL_SECONDS = 20;

function toLambdaAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    result[name] = {
      stringValue: value.StringValue,
      binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : undefined,
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString("base64")),
      dataType: value.DataType ?? "String",
    };
  }
  return result;
}

/** An SQS record as the Lambda event source mapping builds it from a received message. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  const now = String(Date.now());
  const record: SQSRecord = {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ...attributes,
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? now,
      SenderId: attributes.SenderId ?? "000000000000",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? now,
    },
    messageAttributes: toLambdaAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
  if (message.MD5OfMessageAttributes) record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  return record;
}

/**
 * One Lambda event source mapping for an SQS queue: long-polls, invokes the function with a batch, and deletes
 * the records that succeeded. Failed records stay in flight until their visibility timeout ends, so SQS
 * redelivers them and, after `maxReceiveCount` receives, moves them to the DLQ.
 */
export class SqsPoller {
  private readonly aborter = new AbortController();
  /** One controller per receive: the SDK leaves a listener on the signal it is given, so a shared one would pile them up. */
  private readonly receives = new Set<AbortController>();
  private loops: Promise<void>[] = [];

  constructor(private readonly options: SqsPollerOptions) {}

  start(): void {
    for (let index = 0; index < this.options.concurrency; index++) this.loops.push(this.loop());
  }

  /** Stops polling and waits for the batches in flight to finish, as a drained event source mapping would. */
  async stop(): Promise<void> {
    this.aborter.abort();
    for (const receive of this.receives) receive.abort();
    if (!(await settleWithin(this.loops, STOP_GRACE_MS))) {
      this.options.log.warn(`${this.options.functionName} is still running a batch; stopping without it`);
    }
    this.loops = [];
  }

  private get stopped(): boolean {
    return this.aborter.signal.aborted;
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const receive = new AbortController();
    this.receives.add(receive);
    if (this.stopped) receive.abort();
    try {
      const { Messages } = await this.options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.options.queueUrl,
          MaxNumberOfMessages: Math.min(max, MAX_RECEIVE),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ["All"],
          MessageAttributeNames: ["All"],
        }),
        { abortSignal: receive.signal },
      );
      return Messages ?? [];
    } finally {
      this.receives.delete(receive);
    }
  }

  private async loop(): Promise<void> {
    const { batchSize, batchingWindowSeconds, log } = this.options;
    while (!this.stopped) {
      let messages: Message[];
      try {
        messages = await this.receive(batchSize, LONG_POLL_SECONDS);
        const windowEnds = Date.now() + batchingWindowSeconds * 1000;
        while (
          messages.length > 0 &&
          messages.length < batchSize &&
          Date.now() < windowEnds &&
          !this.stopped
        ) {
          const waitSeconds = Math.max(
            1,
            Math.min(LONG_POLL_SECONDS, Math.ceil((windowEnds - Date.now()) / 1000)),
          );
          messages.push(...(await this.receive(batchSize - messages.length, waitSeconds)));
        }
      } catch (error) {
        if (this.stopped) return;
        log.error(`receive from ${this.options.queueArn} failed; retrying in 1s`, error);
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      if (messages.length > 0) await this.process(messages);
    }
  }

  private async process(messages: Message[]): Promise<void> {
    const { functionName, functions, queueArn, region, log } = this.options;
    const records = messages.map((message) => toSqsRecord(message, queueArn, region));
    let result: unknown;
    try {
      result = await functions.invoke(functionName, { Records: records });
    } catch (error) {
      log.error(
        `${functionName} failed on a batch of ${records.length}; every record will be redelivered`,
        error,
      );
      return;
    }
    const outcome = readBatchResponse(
      result,
      records.map((record) => record.messageId),
    );
    if (outcome.kind === "failure") {
      log.error(`${functionName} returned ${outcome.reason}; the whole batch will be redelivered`);
      return;
    }
    const succeeded =
      outcome.kind === "partial"
        ? records.filter((record) => !outcome.failed.has(record.messageId))
        : records;
    await this.delete(succeeded);
  }

  private async delete(records: SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += MAX_RECEIVE) {
      const chunk = records.slice(start, start + MAX_RECEIVE);
      try {
        const { Failed } = await this.options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
            })),
          }),
        );
        if (Failed && Failed.length > 0) {
          this.options.log.warn(
            `could not delete ${Failed.length} processed messages; they will be redelivered`,
          );
        }
      } catch (error) {
        this.options.log.error(
          "DeleteMessageBatch failed; the processed messages will be redelivered",
          error,
        );
      }
    }
  }
}
