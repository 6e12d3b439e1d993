import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { AuditEntry as AuditEntryView } from "#events/auth";
import { dynamo } from "../aws.ts";
import { encodeCursor, epochSeconds, tableName } from "../db.ts";
import { cursorAfter, mergeShardPages } from "./page.ts";

/** Audit entries are kept for a year, then DynamoDB's TTL removes them. */
export const AUDIT_TTL_SECONDS = 365 * 24 * 3600;

export interface AuditEntry {
  tenantId: string;
  actorId: string;
  actorType: "user" | "apiKey" | "anonymous";
  action: string;
  resource: string;
  requestId: string;
  sourceIp: string;
  status: number;
  at: string;
}

/**
 * The log is split in AUDIT_SHARDS partitions by request id, and so is each actor's list on gsi1, so one
 * tenant submitting 1,000 jobs a second writes about 125 WCU/s to each (DynamoDB allows 1,000 per
 * partition). Entries written before the split are in the unsharded partitions, which a page still reads.
 */
export const AUDIT_SHARDS = 8;

export function auditShard(requestId: string): number {
  let hash = 0;
  for (const char of requestId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % AUDIT_SHARDS;
}

export const auditKeys = {
  pk: (tenantId: string, shard?: number) => `T#${tenantId}#AUDIT${shard === undefined ? "" : `#${shard}`}`,
  sk: (entry: Pick<AuditEntry, "at" | "requestId">) => `${entry.at}#${entry.requestId}`,
  byActor: (tenantId: string, actorId: string, shard?: number) =>
    `T#${tenantId}#AUDIT#A#${actorId}${shard === undefined ? "" : `#${shard}`}`,
};

/** The stored entry: a caller may write it together with its own items (a job's submission does). */
export function auditItem(entry: AuditEntry): Record<string, unknown> {
  const shard = auditShard(entry.requestId);
  return {
    pk: auditKeys.pk(entry.tenantId, shard),
    sk: auditKeys.sk(entry),
    type: "audit",
    ...entry,
    gsi1pk: auditKeys.byActor(entry.tenantId, entry.actorId, shard),
    gsi1sk: auditKeys.sk(entry),
    ttl: epochSeconds(new Date(entry.at)) + AUDIT_TTL_SECONDS,
  };
}

export async function recordAudit(entry: AuditEntry): Promise<void> {
  await dynamo().send(new PutCommand({ TableName: tableName(), Item: auditItem(entry) }));
}

export interface AuditFilter {
  limit: number;
  cursor?: string;
  actorId?: string;
  /** Keeps entries whose resource starts with this. */
  resource?: string;
  /** Inclusive bounds on the entry's time (ISO 8601, any offset). */
  from?: string;
  to?: string;
}

/** A filtered page reads this many entries per partition, so a sparse filter still fills pages. */
const FILTERED_READ = 200;

function toEntry(item: Record<string, unknown>): AuditEntryView {
  return {
    id: String(item.sk),
    tenantId: String(item.tenantId),
    actorId: String(item.actorId),
    actorType: item.actorType as AuditEntryView["actorType"],
    action: String(item.action),
    resource: String(item.resource),
    requestId: String(item.requestId),
    sourceIp: String(item.sourceIp),
    status: Number(item.status),
    at: String(item.at),
  };
}

/**
 * The tenant's log, newest first. An actor is a list of its own (gsi1), time bounds are a range on the
 * sort key (`<at>#<requestId>`, with `at` in UTC so strings sort as times), and the resource prefix is a
 * filter. A page is one query per shard (and one of the unsharded partition) below the cursor, merged; a
 * shard that stopped early bounds the page, so nothing is skipped. A filtered page may hold fewer than
 * `limit` entries while a cursor says there are more to look at.
 */
export async function listAudit(
  tenantId: string,
  filter: AuditFilter,
): Promise<{ items: AuditEntryView[]; cursor?: string }> {
  const actorId = filter.actorId;
  const pkName = actorId === undefined ? "pk" : "gsi1pk";
  const skName = actorId === undefined ? "sk" : "gsi1sk";
  const partitionOf = (shard?: number) =>
    actorId === undefined ? auditKeys.pk(tenantId, shard) : auditKeys.byActor(tenantId, actorId, shard);
  const family = partitionOf();
  const after = cursorAfter(filter.cursor, family);
  // `#` sorts below every character of a request id, `~` above them, so both bounds take the whole instant.
  const from = filter.from === undefined ? undefined : `${new Date(filter.from).toISOString()}#`;
  let to = filter.to === undefined ? undefined : `${new Date(filter.to).toISOString()}#~`;
  if (after !== undefined && (to === undefined || after <= to)) to = after;
  const values: Record<string, unknown> = {};
  let condition = "#pk = :pk";
  if (from !== undefined && to !== undefined) {
    condition += " AND #sk BETWEEN :from AND :to";
    Object.assign(values, { ":from": from, ":to": to });
  } else if (from !== undefined) {
    condition += " AND #sk >= :from";
    values[":from"] = from;
  } else if (to !== undefined) {
    condition += " AND #sk <= :to";
    values[":to"] = to;
  }
  const names: Record<string, string> = {
    "#pk": pkName,
    ...(condition.includes("#sk") ? { "#sk": skName } : {}),
  };
  if (filter.resource !== undefined) {
    names["#resource"] = "resource";
    values[":resource"] = filter.resource;
  }
  const partitions = [undefined, ...Array.from({ length: AUDIT_SHARDS }, (_, shard) => shard)];
  const pages = await Promise.all(
    partitions.map(async (shard) => {
      const page = await dynamo().send(
        new QueryCommand({
          TableName: tableName(),
          ...(actorId === undefined ? {} : { IndexName: "gsi1" }),
          KeyConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ":pk": partitionOf(shard) },
          ...(filter.resource === undefined ? {} : { FilterExpression: "begins_with(#resource, :resource)" }),
          ScanIndexForward: false,
          // One more below a cursor: the cursor's own entry is read again (the bound is inclusive).
          Limit:
            (filter.resource === undefined ? filter.limit : Math.max(filter.limit, FILTERED_READ)) +
            (after === undefined ? 0 : 1),
        }),
      );
      const stoppedAt =
        page.LastEvaluatedKey === undefined ? undefined : String(page.LastEvaluatedKey[skName]);
      // BETWEEN and <= are inclusive: the cursor's own entry was on the page before.
      const items = (page.Items ?? []).filter(
        (item) => after === undefined || String(item[skName]) !== after,
      );
      return { items, stoppedAt };
    }),
  );
  const merged = mergeShardPages(pages, skName, filter.limit);
  const cursor = merged.next === undefined ? undefined : encodeCursor({ l: family, k: merged.next });
  return { items: merged.items.map((item) => toEntry(item)), ...(cursor === undefined ? {} : { cursor }) };
}
