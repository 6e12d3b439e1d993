import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { MemoryEntry } from "#events/agents";
import { dynamo } from "../aws.ts";
import { encodeCursor, epochSeconds, nowIso, tableName } from "../db.ts";
import { payloadTooLarge } from "../errors.ts";
import { startKey } from "./page.ts";

/**
 * Agent memory: JSON values under `namespace/key`, one partition per tenant and namespace. Values are kept
 * as JSON text, so what comes back is exactly what went in (DynamoDB's own types would turn `1.0` into `1`
 * and refuse some shapes).
 */
export const memoryKeys = {
  pk: (tenantId: string, namespace: string) => `T#${tenantId}#MEM#${namespace}`,
  sk: (key: string) => `K#${key}`,
};

/** DynamoDB items stop at 400 KB; this leaves room for the keys and attributes. */
export const MAX_MEMORY_VALUE_BYTES = 350 * 1024;

function expired(item: Record<string, unknown>, now = epochSeconds()): boolean {
  return typeof item.ttl === "number" && item.ttl <= now;
}

function toEntry(item: Record<string, unknown>): MemoryEntry {
  return {
    namespace: String(item.namespace),
    key: String(item.key),
    value: JSON.parse(String(item.json)) as unknown,
    updatedAt: String(item.updatedAt),
    ...(typeof item.ttl === "number" ? { expiresAt: new Date(item.ttl * 1000).toISOString() } : {}),
  };
}

export async function getMemory(
  tenantId: string,
  namespace: string,
  key: string,
): Promise<MemoryEntry | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: memoryKeys.pk(tenantId, namespace), sk: memoryKeys.sk(key) },
    }),
  );
  // TTL deletion lags, so an expired entry is treated as gone.
  return Item === undefined || expired(Item) ? undefined : toEntry(Item);
}

export async function putMemory(
  tenantId: string,
  namespace: string,
  key: string,
  value: unknown,
  ttlSeconds?: number,
): Promise<MemoryEntry> {
  const json = JSON.stringify(value ?? null);
  if (Buffer.byteLength(json, "utf8") > MAX_MEMORY_VALUE_BYTES) {
    throw payloadTooLarge(`A memory value may be at most ${MAX_MEMORY_VALUE_BYTES} bytes of JSON`);
  }
  const item = {
    pk: memoryKeys.pk(tenantId, namespace),
    sk: memoryKeys.sk(key),
    type: "memory",
    tenantId,
    namespace,
    key,
    json,
    updatedAt: nowIso(),
    ...(ttlSeconds === undefined ? {} : { ttl: epochSeconds() + ttlSeconds }),
  };
  await dynamo().send(new PutCommand({ TableName: tableName(), Item: item }));
  return toEntry(item);
}

/** True when there was an entry to delete. */
export async function deleteMemory(tenantId: string, namespace: string, key: string): Promise<boolean> {
  const { Attributes } = await dynamo().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: { pk: memoryKeys.pk(tenantId, namespace), sk: memoryKeys.sk(key) },
      ReturnValues: "ALL_OLD",
    }),
  );
  return Attributes !== undefined && !expired(Attributes);
}

export async function listMemoryKeys(
  tenantId: string,
  namespace: string,
  options: { cursor?: string; limit?: number } = {},
): Promise<{ namespace: string; items: { key: string; updatedAt: string }[]; cursor?: string }> {
  const pk = memoryKeys.pk(tenantId, namespace);
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": pk },
      ProjectionExpression: "pk, sk, #key, updatedAt, #ttl",
      ExpressionAttributeNames: { "#key": "key", "#ttl": "ttl" },
      Limit: options.limit ?? 100,
      ExclusiveStartKey: startKey(options.cursor, "pk", pk),
    }),
  );
  const now = epochSeconds();
  const items = (page.Items ?? [])
    .filter((item) => !expired(item, now))
    .map((item) => ({ key: String(item.key), updatedAt: String(item.updatedAt) }));
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { namespace, items, ...(cursor === undefined ? {} : { cursor }) };
}
