import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { TimelineEvent } from "#events/timeline";
import type { ServerMessage } from "#events/ws";
import { mayAccess } from "./auth/ownership.ts";
import { dynamo } from "./aws.ts";
import { tableName } from "./db.ts";
import { isConditionalCheckFailed } from "./errors.ts";
import { timelineOf } from "./jobs/timeline.ts";
import { logger } from "./observability.ts";
import { sendToConnection } from "./sockets.ts";
import {
  deleteConnection,
  directReads,
  listeningSubscribers,
  type SubscriberReads,
} from "./stores/connections.ts";
import { imageOf } from "./stores/jobs/items.ts";
import { SUMMARY_FIELDS, summaryItem } from "./stores/jobs/summary.ts";
import { writeTimelinePage } from "./stores/jobs/timeline.ts";

function imageItem(image: unknown): Record<string, unknown> | undefined {
  return image === undefined ? undefined : unmarshall(image as Record<string, AttributeValue>);
}

/**
 * The events one stream record of a job item stands for, numbered from the old image's seq. The same
 * derivation counted them when the item was written, so the numbers match the job's `seq` and are the same
 * on every delivery.
 */
export function eventsOfRecord(record: DynamoDBRecord): TimelineEvent[] {
  const after = imageItem(record.dynamodb?.NewImage);
  if (after === undefined || after.type !== "job") return [];
  const before = imageItem(record.dynamodb?.OldImage);
  const derived = timelineOf(before === undefined ? undefined : imageOf(before), imageOf(after));
  const from = Number(before?.seq ?? 0);
  const at = String(after.updatedAt);
  const jobId = String(after.id);
  const events: TimelineEvent[] = [];
  for (const [index, event] of derived.entries()) {
    const parsed = TimelineEvent.safeParse({ ...event, jobId, seq: from + index + 1, at });
    if (parsed.success) events.push(parsed.data);
    else
      logger.error("Derived timeline event does not match its schema; not stored", {
        jobId,
        type: event.type,
      });
  }
  return events;
}

/** WebSocket messages are billed per 32 KB: a batch frame stays within one unit where it can. */
const FRAME_BYTES = 32 * 1024;

/** The events as batch frames of at most FRAME_BYTES each (a single larger event gets a frame of its own). */
export function batchFrames(jobId: string, events: TimelineEvent[]): ServerMessage[] {
  const frames: ServerMessage[] = [];
  let current: TimelineEvent[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length > 0)
      frames.push({
        type: "batch",
        at: current.at(-1)?.at ?? new Date().toISOString(),
        jobId,
        events: current,
      });
    current = [];
    bytes = 0;
  };
  for (const event of events) {
    const size = Buffer.byteLength(JSON.stringify(event), "utf8") + 1;
    if (bytes + size > FRAME_BYTES - 128) flush();
    current.push(event);
    bytes += size;
  }
  flush();
  return frames;
}

function summaryChanged(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
): boolean {
  // The job's insert wrote its summary in the same request (see insertJob).
  if (before === undefined) return false;
  return SUMMARY_FIELDS.some(
    (field) => field !== "updatedAt" && JSON.stringify(before[field]) !== JSON.stringify(after[field]),
  );
}

/** Moves the list summary to this version of the job, unless a later version already got there. */
async function updateSummary(job: Record<string, unknown>): Promise<void> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: summaryItem(job),
        ConditionExpression: "attribute_not_exists(pk) OR v < :v",
        ExpressionAttributeValues: { ":v": Number(job.version ?? 0) },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** One job's events of one stream batch, stored as its timeline page and waiting to be pushed. */
export interface StoredJobEvents {
  tenantId: string;
  jobId: string;
  createdBy?: string;
  events: TimelineEvent[];
}

/**
 * Stores one job's records of one stream batch, in stream order: derives the timeline events, writes them as
 * one page, and keeps the list summary in step. Undefined when the records hold no job item.
 */
export async function storeJobRecords(records: DynamoDBRecord[]): Promise<StoredJobEvents | undefined> {
  const events: TimelineEvent[] = [];
  let latest: Record<string, unknown> | undefined;
  let moved = false;
  for (const record of records) {
    const after = imageItem(record.dynamodb?.NewImage);
    if (after === undefined || after.type !== "job") continue;
    events.push(...eventsOfRecord(record));
    if (summaryChanged(imageItem(record.dynamodb?.OldImage), after)) moved = true;
    latest = after;
  }
  if (latest === undefined) return undefined;
  const tenantId = String(latest.tenantId);
  const jobId = String(latest.id);
  await writeTimelinePage(tenantId, jobId, events);
  if (moved) await updateSummary(latest);
  return {
    tenantId,
    jobId,
    ...(typeof latest.createdBy === "string" ? { createdBy: latest.createdBy } : {}),
    events,
  };
}

/**
 * Pushes a stored job's events to its subscribers. Subscribers are looked up only when there are events, and
 * only of the kinds the tenant's presence count says it holds. Call it only once the events are stored, and
 * read the presence after that too: a subscribe counts itself, then replays what is stored without waiting,
 * so an event it did not find stored is one whose push finds it counted.
 */
export async function pushJobEvents(
  stored: StoredJobEvents,
  reads: SubscriberReads = directReads,
): Promise<number> {
  const { tenantId, jobId, events, createdBy } = stored;
  if (events.length === 0) return 0;
  // A tenant-wide subscription made under owner-only access follows only its owner's jobs.
  const subscribers = (await listeningSubscribers(tenantId, jobId, reads)).filter((s) =>
    mayAccess(s, createdBy),
  );
  let sent = 0;
  await Promise.all(
    subscribers.map(async ({ connectionId, fromSeq, batch }) => {
      const fresh = events.filter((event) => event.seq > fromSeq);
      const frames: ServerMessage[] = batch ? batchFrames(jobId, fresh) : fresh;
      for (const frame of frames) {
        if ((await sendToConnection(connectionId, frame)) === "sent") sent++;
        else {
          await deleteConnection(tenantId, connectionId);
          return;
        }
      }
    }),
  );
  return sent;
}
