import { decodeCursor } from "../db.ts";
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
