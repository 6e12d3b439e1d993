import { createHash } from "node:crypto";
import { GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { epochSeconds, tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import { type BreakerRecord, CLOSED } from "./breaker-state.ts";

/**
 * One small item per endpoint per tenant: a tenant's failing key or endpoint never opens another tenant's
 * breaker. Reads are eventually consistent (half a read unit); every write is conditional on the version
 * read, so concurrent workers cannot lose each other's counts or both win the probe.
 */

/** A breaker nobody has touched for this long is forgotten (closed is the default anyway). */
const BREAKER_TTL_SECONDS = 7 * 24 * 3600;

export interface BreakerEndpoint {
  tenantId: string;
  kind: "provider" | "mcp" | "http";
  /** What the breaker guards, as people read it: `openai https://api.openai.com`, an MCP server's URL. */
  target: string;
}

export interface StoredBreaker extends BreakerRecord {
  kind: BreakerEndpoint["kind"];
  target: string;
  updatedAt?: string;
  lastError?: string;
}

export const breakerKeys = {
  pk: (tenantId: string) => `T#${tenantId}#BREAKERS`,
  sk: (endpoint: BreakerEndpoint) =>
    `B#${createHash("sha256").update(`${endpoint.kind} ${endpoint.target}`).digest("hex").slice(0, 32)}`,
};

function toRecord(item: Record<string, unknown> | undefined): BreakerRecord {
  if (item === undefined) return CLOSED;
  return {
    state: item.state as BreakerRecord["state"],
    failures: Number(item.failures ?? 0),
    ...(item.openedAt === undefined ? {} : { openedAt: Number(item.openedAt) }),
    ...(item.probeAt === undefined ? {} : { probeAt: Number(item.probeAt) }),
    version: Number(item.version ?? 0),
  };
}

export async function readBreaker(endpoint: BreakerEndpoint, consistent = false): Promise<BreakerRecord> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: breakerKeys.pk(endpoint.tenantId), sk: breakerKeys.sk(endpoint) },
      ConsistentRead: consistent,
    }),
  );
  return toRecord(Item);
}

/** Writes `next` if the stored version is still `seenVersion`; false when another writer got there first. */
export async function writeBreaker(
  endpoint: BreakerEndpoint,
  seenVersion: number,
  next: BreakerRecord,
  lastError?: string,
): Promise<boolean> {
  const now = new Date();
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: breakerKeys.pk(endpoint.tenantId),
          sk: breakerKeys.sk(endpoint),
          type: "breaker",
          tenantId: endpoint.tenantId,
          kind: endpoint.kind,
          target: endpoint.target,
          ...next,
          ...(lastError === undefined ? {} : { lastError }),
          updatedAt: now.toISOString(),
          ttl: epochSeconds(now) + BREAKER_TTL_SECONDS,
        },
        ConditionExpression: seenVersion === 0 ? "attribute_not_exists(pk) OR version = :v" : "version = :v",
        ExpressionAttributeValues: { ":v": seenVersion },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

export async function listBreakers(tenantId: string): Promise<StoredBreaker[]> {
  const out: StoredBreaker[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": breakerKeys.pk(tenantId), ":prefix": "B#" },
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      out.push({
        ...toRecord(item),
        kind: item.kind as StoredBreaker["kind"],
        target: String(item.target),
        ...(item.updatedAt === undefined ? {} : { updatedAt: String(item.updatedAt) }),
        ...(item.lastError === undefined ? {} : { lastError: String(item.lastError) }),
      });
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return out;
}
