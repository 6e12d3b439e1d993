import { BatchWriteCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { decodeCursor, encodeCursor, tableName } from "../db.ts";
import { badRequest } from "../errors.ts";

/**
 * Reads a page cursor and refuses one that points into another partition: a cursor from another tenant's
 * (or another filter's) listing would otherwise start this query inside someone else's items.
 */
export function startKey(
  cursor: string | undefined,
  partitionAttribute: string,
  partition: string,
): Record<string, unknown> | undefined {
  let start: Record<string, unknown> | undefined;
  try {
    start = decodeCursor(cursor);
  } catch {
    throw badRequest("cursor is not valid");
  }
  if (start !== undefined && start[partitionAttribute] !== partition) throw badRequest("cursor is not valid");
  return start;
}

export interface ItemFilter {
  expression: string;
  names?: Record<string, string>;
  values: Record<string, unknown>;
}

/** Several conditions on one query's items, all of which must hold. */
export function allOf(...filters: (ItemFilter | undefined)[]): ItemFilter | undefined {
  const present = filters.filter((f): f is ItemFilter => f !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return {
    expression: present.map((f) => `(${f.expression})`).join(" AND "),
    names: Object.assign({}, ...present.map((f) => f.names ?? {})),
    values: Object.assign({}, ...present.map((f) => f.values)),
  };
}

/** Only the items one principal created (owner-only access). */
export function createdByFilter(createdBy: string | undefined): ItemFilter | undefined {
  return createdBy === undefined
    ? undefined
    : { expression: "createdBy = :createdBy", values: { ":createdBy": createdBy } };
}

/**
 * A filtered page reads this many items per round, and at most `MAX_FILTER_ROUNDS` rounds: a sparse filter
 * (a user who owns few of a busy tenant's jobs) fills its page in a few reads, and a filter that matches
 * almost nothing returns a short page with a cursor instead of reading the whole partition in one request.
 */
export const FILTER_READ_SIZE = 200;
export const MAX_FILTER_ROUNDS = 10;

/**
 * Runs a query until `limit` items passed its filter. DynamoDB applies `Limit` before the filter, so one
 * filtered query may return an empty page with more behind it; this keeps reading, and when a round
 * returns more than the page needs, the cursor is the key of the last item returned (the table's and the
 * index's key attributes, as DynamoDB's own LastEvaluatedKey would be).
 */
export async function fillPage(
  input: Omit<QueryCommandInput, "Limit" | "ExclusiveStartKey" | "FilterExpression">,
  options: {
    limit: number;
    start: Record<string, unknown> | undefined;
    filter?: ItemFilter | undefined;
    keyAttributes: readonly string[];
  },
): Promise<{ items: Record<string, unknown>[]; cursor?: string }> {
  const { limit, filter } = options;
  const query: QueryCommandInput = {
    ...input,
    ...(filter === undefined
      ? {}
      : {
          FilterExpression: filter.expression,
          ExpressionAttributeValues: { ...input.ExpressionAttributeValues, ...filter.values },
          ...(filter.names === undefined
            ? {}
            : { ExpressionAttributeNames: { ...input.ExpressionAttributeNames, ...filter.names } }),
        }),
  };
  const items: Record<string, unknown>[] = [];
  let start = options.start;
  for (let round = 0; round < (filter === undefined ? 1 : MAX_FILTER_ROUNDS); round++) {
    const page = await dynamo().send(
      new QueryCommand({
        ...query,
        Limit: filter === undefined ? limit : Math.max(limit, FILTER_READ_SIZE),
        ExclusiveStartKey: start,
      }),
    );
    const found = page.Items ?? [];
    if (items.length + found.length > limit) {
      items.push(...found.slice(0, limit - items.length));
      const last = items.at(-1) as Record<string, unknown>;
      const key = Object.fromEntries(options.keyAttributes.map((name) => [name, last[name]]));
      return { items, cursor: encodeCursor(key) as string };
    }
    items.push(...found);
    start = page.LastEvaluatedKey;
    if (start === undefined || items.length === limit) break;
  }
  const cursor = encodeCursor(start);
  return { items, ...(cursor === undefined ? {} : { cursor }) };
}

export interface IndexPageQuery<T> {
  /** A GSI named by the manifest (`gsi1` …): its key attributes are `<index>pk` and `<index>sk`. */
  index: string;
  partition: string;
  cursor?: string | undefined;
  limit: number;
  /** An extra condition on the partition's items, for a second filter that has no index of its own. */
  filter?: ItemFilter | undefined;
  map: (item: Record<string, unknown>) => T;
}

/** One page of an index partition, newest first, with the cursor guard: the shape of every list route. */
export async function newestFirst<T>(query: IndexPageQuery<T>): Promise<{ items: T[]; cursor?: string }> {
  const { index, partition } = query;
  const page = await fillPage(
    {
      TableName: tableName(),
      IndexName: index,
      KeyConditionExpression: `${index}pk = :pk`,
      ExpressionAttributeValues: { ":pk": partition },
      ScanIndexForward: false,
    },
    {
      limit: query.limit,
      start: startKey(query.cursor, `${index}pk`, partition),
      filter: query.filter,
      keyAttributes: ["pk", "sk", `${index}pk`, `${index}sk`],
    },
  );
  return { items: page.items.map(query.map), ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
}

/**
 * Deletes every item of one partition (a deleted collection's documents, a deleted session's turns), 25 per
 * BatchWriteItem; items DynamoDB leaves unprocessed are sent again after a short, growing pause.
 */
export async function deletePartition(pk: string): Promise<void> {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": pk },
        ProjectionExpression: "pk, sk",
        ExclusiveStartKey,
      }),
    );
    const items = page.Items ?? [];
    for (let i = 0; i < items.length; i += 25) {
      let requests: Record<string, unknown>[] | undefined = items
        .slice(i, i + 25)
        .map((item) => ({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } }));
      for (let round = 0; requests !== undefined && requests.length > 0; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** round)));
        const result = await dynamo().send(
          new BatchWriteCommand({ RequestItems: { [tableName()]: requests as never } }),
        );
        requests = result.UnprocessedItems?.[tableName()] as Record<string, unknown>[] | undefined;
      }
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
}

/** One shard's page of a sharded list, newest first, and the sort key it stopped at when it filled. */
export interface ShardPage {
  items: Record<string, unknown>[];
  stoppedAt?: string;
}

/**
 * Merges the pages of a list's shards newest first. A shard that stopped early (its page filled, or a filter
 * left it short) bounds the page: nothing older than where it stopped is returned, since that shard may hold
 * items in between. `next` is the sort key to continue below, when there is more.
 */
export function mergeShardPages(
  pages: ShardPage[],
  sortKey: string,
  limit: number,
): { items: Record<string, unknown>[]; next?: string } {
  const bound = pages.reduce<string | undefined>(
    (max, page) =>
      page.stoppedAt !== undefined && (max === undefined || page.stoppedAt > max) ? page.stoppedAt : max,
    undefined,
  );
  const candidates = pages
    .flatMap((page) => page.items)
    .map((item) => ({ item, key: String(item[sortKey]) }))
    .filter((entry) => bound === undefined || entry.key >= bound)
    .sort((a, b) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  const taken = candidates.slice(0, limit);
  let next: string | undefined;
  if (taken.length === limit && (candidates.length > taken.length || bound !== undefined))
    next = taken.at(-1)?.key;
  else if (taken.length < limit && bound !== undefined) next = bound;
  return { items: taken.map((entry) => entry.item), ...(next === undefined ? {} : { next }) };
}

/** A sharded list's cursor names the list (`l`) and the sort key of the page's last item (`k`). */
export function cursorAfter(cursor: string | undefined, family: string): string | undefined {
  let value: Record<string, unknown> | undefined;
  try {
    value = decodeCursor(cursor);
  } catch {
    throw badRequest("cursor is not valid");
  }
  if (value === undefined) return undefined;
  if (value.l !== family || typeof value.k !== "string") throw badRequest("cursor is not valid");
  return value.k;
}
