import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { TimelineEvent } from "#events/timeline";
import { dynamo } from "../../aws.ts";
import { epochSeconds, tableName } from "../../db.ts";
import { isConditionalCheckFailed } from "../../errors.ts";
import { keys } from "../../keys.ts";

/** Timeline pages are kept this long, then DynamoDB's TTL removes them. */
export const EVENT_TTL_SECONDS = 30 * 24 * 3600;

/**
 * A page's events are stored compressed (`z`, brotli of their JSON) when that is smaller: writes are billed
 * per KB, and a page of a few steps' events is mostly repeated names, so it usually fits in one. Quality 5
 * packs these pages as small as 9 does, at a tenth of the CPU.
 */
function packEvents(events: TimelineEvent[]): { events: TimelineEvent[] } | { z: Uint8Array } {
  const json = JSON.stringify(events);
  const packed = brotliCompressSync(json, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: 5,
      [constants.BROTLI_PARAM_SIZE_HINT]: json.length,
    },
  });
  return packed.length < Buffer.byteLength(json) ? { z: new Uint8Array(packed) } : { events };
}

/** The events of a stored page (or of an approval's own event item), as written. */
export function pageEvents(item: Record<string, unknown>): TimelineEvent[] {
  // A stream record that reached a Lambda as JSON carries a binary attribute as base64.
  const packed = typeof item.z === "string" ? Buffer.from(item.z, "base64") : item.z;
  if (packed instanceof Uint8Array)
    return JSON.parse(brotliDecompressSync(packed).toString("utf8")) as TimelineEvent[];
  if (Array.isArray(item.events)) return item.events as TimelineEvent[];
  return item.event === undefined ? [] : [item.event as TimelineEvent];
}

/**
 * Stores the events the stream consumer derived for one job from one stream batch, as one item keyed by the
 * last event's seq. A redelivered batch derives the same events with the same numbers, so writing the page
 * again changes nothing; pages that overlap after a partial retry are merged by seq when read.
 */
export async function writeTimelinePage(
  tenantId: string,
  jobId: string,
  events: TimelineEvent[],
): Promise<void> {
  const last = events.at(-1);
  if (last === undefined) return;
  await dynamo()
    .send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...keys.event(tenantId, jobId, last.seq),
          type: "timelinePage",
          tenantId,
          jobId,
          from: events[0]?.seq,
          seq: last.seq,
          ...packEvents(events),
          ttl: epochSeconds(new Date(last.at)) + EVENT_TTL_SECONDS,
        },
        // A retry that resumes mid-batch ends on the same event with fewer before it: keep the fuller page.
        ConditionExpression: "attribute_not_exists(pk) OR #from > :from",
        ExpressionAttributeNames: { "#from": "from" },
        ExpressionAttributeValues: { ":from": events[0]?.seq },
      }),
    )
    .catch((error: Error) => {
      if (!isConditionalCheckFailed(error)) throw error;
    });
}

/** How long a read waits for the stream consumer to store events the job already counts. */
const CATCH_UP_MS = 5_000;

async function readAfter(tenantId: string, jobId: string, since: number, limit: number) {
  const bySeq = new Map<number, TimelineEvent>();
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  let more = false;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
        ExpressionAttributeValues: {
          ":pk": keys.jobPk(tenantId, jobId),
          ":from": keys.eventSk(since + 1),
          ":to": "E#~",
        },
        ConsistentRead: true,
        Limit: 100,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      // Pages hold many events; an approval's own write stores its one event as an item.
      for (const event of pageEvents(item)) if (event.seq > since) bySeq.set(event.seq, event);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
    more = ExclusiveStartKey !== undefined;
  } while (more && bySeq.size < limit);
  const items = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  return { items: items.slice(0, limit), more: more || items.length > limit };
}

/**
 * Timeline events with a sequence number above `since`, oldest first. With `until` (the job's seq as just
 * read) it waits, briefly, until the stream consumer has stored the events up to it, so a reader sees what the
 * job already counts.
 */
export async function listEvents(
  tenantId: string,
  jobId: string,
  since = 0,
  limit = 1000,
  until?: number,
  now: () => number = Date.now,
): Promise<{ items: TimelineEvent[]; cursor?: string }> {
  const deadline = now() + CATCH_UP_MS;
  for (;;) {
    const { items, more } = await readAfter(tenantId, jobId, since, limit);
    const last = items.at(-1);
    const caughtUp = until === undefined || more || (last?.seq ?? since) >= until || items.length >= limit;
    if (caughtUp || now() >= deadline) {
      return { items, ...(more && last !== undefined ? { cursor: String(last.seq) } : {}) };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
