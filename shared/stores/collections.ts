import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Collection } from "#events/collections";
import { dynamo } from "../aws.ts";
import { encodeCursor, nowIso, tableName } from "../db.ts";
import { conflict, isConditionalCheckFailed } from "../errors.ts";
import { deletePartition, startKey } from "./page.ts";

/**
 * Collections: one item per collection in the tenant's collections partition, keyed by its lower-cased
 * name (so names are unique per tenant), and one small item per document in the collection's own
 * partition, recording how many chunks (vectors `<doc>#0…`) it has, so an upsert can remove the chunks a
 * shorter text no longer has. The vectors themselves live in S3 Vectors.
 */
export const collectionKeys = {
  pk: (tenantId: string) => `T#${tenantId}#COLS`,
  sk: (name: string) => `C#${name.toLowerCase()}`,
  documentsPk: (tenantId: string, collectionId: string) => `T#${tenantId}#COL#${collectionId}`,
  document: (documentId: string) => `D#${documentId}`,
};

export type StoredCollection = Collection & { indexName: string };

const FIELDS = [
  "id",
  "name",
  "description",
  "embedding",
  "dimension",
  "documents",
  "createdAt",
  "createdBy",
  "indexName",
] as const;

function toCollection(item: Record<string, unknown>): StoredCollection {
  const out: Record<string, unknown> = {};
  for (const field of FIELDS) if (item[field] !== undefined) out[field] = item[field];
  out.documents = Number(item.documents ?? 0);
  return out as StoredCollection;
}

export function publicCollection(collection: StoredCollection): Collection {
  const { indexName: _indexName, ...rest } = collection;
  return rest;
}

export async function putCollection(tenantId: string, collection: StoredCollection): Promise<void> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: collectionKeys.pk(tenantId),
          sk: collectionKeys.sk(collection.name),
          type: "collection",
          tenantId,
          ...collection,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error))
      throw conflict(`A collection named ${collection.name} already exists`);
    throw error;
  }
}

export async function getCollection(tenantId: string, name: string): Promise<StoredCollection | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: collectionKeys.pk(tenantId), sk: collectionKeys.sk(name) },
    }),
  );
  return Item === undefined ? undefined : toCollection(Item);
}

export async function listCollections(
  tenantId: string,
  options: { cursor?: string; limit?: number } = {},
): Promise<{ items: StoredCollection[]; cursor?: string }> {
  const pk = collectionKeys.pk(tenantId);
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "C#" },
      Limit: options.limit ?? 50,
      ExclusiveStartKey: startKey(options.cursor, "pk", pk),
    }),
  );
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { items: (page.Items ?? []).map(toCollection), ...(cursor === undefined ? {} : { cursor }) };
}

/** The removed collection, or undefined when there was none. */
export async function removeCollection(
  tenantId: string,
  name: string,
): Promise<StoredCollection | undefined> {
  const { Attributes } = await dynamo().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: { pk: collectionKeys.pk(tenantId), sk: collectionKeys.sk(name) },
      ReturnValues: "ALL_OLD",
    }),
  );
  return Attributes === undefined ? undefined : toCollection(Attributes);
}

/** Chunk counts of the documents that exist, by id. */
export async function documentChunks(
  tenantId: string,
  collectionId: string,
  documentIds: string[],
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const pk = collectionKeys.documentsPk(tenantId, collectionId);
  for (let i = 0; i < documentIds.length; i += 100) {
    let keys: Record<string, unknown>[] | undefined = documentIds
      .slice(i, i + 100)
      .map((id) => ({ pk, sk: collectionKeys.document(id) }));
    while (keys !== undefined && keys.length > 0) {
      const result = await dynamo().send(
        new BatchGetCommand({
          RequestItems: { [tableName()]: { Keys: keys, ProjectionExpression: "documentId, chunks" } },
        }),
      );
      for (const item of result.Responses?.[tableName()] ?? [])
        found.set(String(item.documentId), Number(item.chunks));
      keys = result.UnprocessedKeys?.[tableName()]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return found;
}

/** Records a document's chunk count; returns whether it is new. */
export async function putDocument(
  tenantId: string,
  collectionId: string,
  documentId: string,
  chunks: number,
): Promise<boolean> {
  const { Attributes } = await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        pk: collectionKeys.documentsPk(tenantId, collectionId),
        sk: collectionKeys.document(documentId),
        type: "collectionDocument",
        tenantId,
        documentId,
        chunks,
        updatedAt: nowIso(),
      },
      ReturnValues: "ALL_OLD",
    }),
  );
  return Attributes === undefined;
}

/** The removed document's chunk count, or undefined when there was none. */
export async function removeDocument(
  tenantId: string,
  collectionId: string,
  documentId: string,
): Promise<number | undefined> {
  const { Attributes } = await dynamo().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: {
        pk: collectionKeys.documentsPk(tenantId, collectionId),
        sk: collectionKeys.document(documentId),
      },
      ReturnValues: "ALL_OLD",
    }),
  );
  return Attributes === undefined ? undefined : Number(Attributes.chunks);
}

/** Adjusts the collection's document count; a collection deleted meanwhile is left deleted. */
export async function countDocuments(tenantId: string, name: string, delta: number): Promise<void> {
  if (delta === 0) return;
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: collectionKeys.pk(tenantId), sk: collectionKeys.sk(name) },
        UpdateExpression: "ADD documents :delta",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":delta": delta },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** Removes every document item of a deleted collection. */
export function removeAllDocuments(tenantId: string, collectionId: string): Promise<void> {
  return deletePartition(collectionKeys.documentsPk(tenantId, collectionId));
}
