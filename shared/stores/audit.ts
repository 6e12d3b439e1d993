import { PutCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { AuditEntry as AuditEntryView } from "#events/auth";
import { dynamo } from "../aws.ts";
import { encodeCursor, epochSeconds, tableName } from "../db.ts";
import { startKey } from "./page.ts";

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

export const auditKeys = {
  pk: (tenantId: string) => `T#${tenantId}#AUDIT`,
  sk: (entry: Pick<AuditEntry, "at" | "requestId">) => `${entry.at}#${entry.requestId}`,
  byActor: (tenantId: string, actorId: string) => `T#${tenantId}#AUDIT#A#${actorId}`,
};

export async function recordAudit(entry: AuditEntry): Promise<void> {
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: auditKeys.pk(entry.tenantId),
        sk: auditKeys.sk(entry),
        type: "audit",
        ...entry,
        gsi1pk: auditKeys.byActor(entry.tenantId, entry.actorId),
        gsi1sk: auditKeys.sk(entry),
        ttl: epochSeconds(new Date(entry.at)) + AUDIT_TTL_SECONDS,
      },
    }),
  );
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

/** A filter that matches few entries must not make one request scan the whole log. */
const MAX_QUERIES_PER_PAGE = 10;

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
 * The tenant's log, newest first. An actor is a partition of its own (gsi1), time bounds are a range on the
 * sort key (`<at>#<requestId>`, with `at` in UTC so strings sort as times), and the resource prefix is a
 * filter. A filtered page may hold fewer than `limit` entries while a cursor says there are more to look at.
 */
export async function listAudit(
  tenantId: string,
  filter: AuditFilter,
): Promise<{ items: AuditEntryView[]; cursor?: string }> {
  const byActor = filter.actorId !== undefined;
  const pkName = byActor ? "gsi1pk" : "pk";
  const skName = byActor ? "gsi1sk" : "sk";
  const partition = byActor ? auditKeys.byActor(tenantId, filter.actorId as string) : auditKeys.pk(tenantId);
  const values: Record<string, unknown> = { ":pk": partition };
  let condition = `${pkName} = :pk`;
  // `#` sorts below every character of a request id, `~` above them, so both bounds take the whole instant.
  const from = filter.from === undefined ? undefined : `${new Date(filter.from).toISOString()}#`;
  const to = filter.to === undefined ? undefined : `${new Date(filter.to).toISOString()}#~`;
  if (from !== undefined && to !== undefined) {
    condition += ` AND ${skName} BETWEEN :from AND :to`;
    Object.assign(values, { ":from": from, ":to": to });
  } else if (from !== undefined) {
    condition += ` AND ${skName} >= :from`;
    values[":from"] = from;
  } else if (to !== undefined) {
    condition += ` AND ${skName} <= :to`;
    values[":to"] = to;
  }
  const base: QueryCommandInput = {
    TableName: tableName(),
    ...(byActor ? { IndexName: "gsi1" } : {}),
    KeyConditionExpression: condition,
    ExpressionAttributeValues: values,
    ScanIndexForward: false,
  };
  if (filter.resource !== undefined) {
    base.FilterExpression = "begins_with(#resource, :resource)";
    base.ExpressionAttributeNames = { "#resource": "resource" };
    values[":resource"] = filter.resource;
  }
  const items: AuditEntryView[] = [];
  let start = startKey(filter.cursor, pkName, partition);
  for (let round = 0; round < MAX_QUERIES_PER_PAGE; round++) {
    // Never read past what the page can hold, so the cursor never skips a matching entry.
    const page = await dynamo().send(
      new QueryCommand({ ...base, Limit: filter.limit - items.length, ExclusiveStartKey: start }),
    );
    items.push(...(page.Items ?? []).map(toEntry));
    start = page.LastEvaluatedKey;
    if (start === undefined || items.length >= filter.limit) break;
  }
  const cursor = encodeCursor(start);
  return { items, ...(cursor === undefined ? {} : { cursor }) };
}
