import { QueryCommand } from "@aws-sdk/lib-dynamodb";
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

export interface IndexPageQuery<T> {
  /** A GSI named by the manifest (`gsi1` …): its key attributes are `<index>pk` and `<index>sk`. */
  index: string;
  partition: string;
  cursor?: string | undefined;
  limit: number;
  /** An extra condition on the partition's items, for a second filter that has no index of its own. */
  filter?: { expression: string; names?: Record<string, string>; values: Record<string, unknown> };
  /** Bounds on the index's sort key, both inclusive, for sort keys that start with a time. */
  range?: { from?: string; to?: string };
  map: (item: Record<string, unknown>) => T;
}

/** One page of an index partition, newest first, with the cursor guard: the shape of every list route. */
export async function newestFirst<T>(query: IndexPageQuery<T>): Promise<{ items: T[]; cursor?: string }> {
  const { index, partition, filter, range } = query;
  const bounds: Record<string, string> = {};
  let sortCondition = "";
  if (range?.from !== undefined && range.to !== undefined) {
    sortCondition = ` AND ${index}sk BETWEEN :from AND :to`;
    Object.assign(bounds, { ":from": range.from, ":to": range.to });
  } else if (range?.from !== undefined) {
    sortCondition = ` AND ${index}sk >= :from`;
    bounds[":from"] = range.from;
  } else if (range?.to !== undefined) {
    sortCondition = ` AND ${index}sk <= :to`;
    bounds[":to"] = range.to;
  }
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: index,
      KeyConditionExpression: `${index}pk = :pk${sortCondition}`,
      ExpressionAttributeValues: { ":pk": partition, ...bounds, ...filter?.values },
      ...(filter === undefined ? {} : { FilterExpression: filter.expression }),
      ...(filter?.names === undefined ? {} : { ExpressionAttributeNames: filter.names }),
      ScanIndexForward: false,
      Limit: query.limit,
      ExclusiveStartKey: startKey(query.cursor, `${index}pk`, partition),
    }),
  );
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { items: (page.Items ?? []).map(query.map), ...(cursor === undefined ? {} : { cursor }) };
}
