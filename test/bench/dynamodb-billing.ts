/**
 * DynamoDB on-demand billing, from the items a request touched rather than from an emulator's
 * `ConsumedCapacity` (DynamoDB Local undercounts transactions and ignores index writes). The rules are
 * the developer guide's "DynamoDB item sizes and formats" and "read and write operations" pages.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

export type Item = Record<string, AttributeValue>;

export interface IndexShape {
  name: string;
  partitionKey: string;
  sortKey?: string;
  projection: "ALL" | "KEYS_ONLY" | "INCLUDE";
  nonKeyAttributes?: readonly string[];
}

export interface TableShape {
  partitionKey: string;
  sortKey?: string;
  indexes: readonly IndexShape[];
}

const utf8 = (text: string) => Buffer.byteLength(text, "utf8");

/** Leading and trailing zeroes are not stored; one byte per two significant digits, plus one. */
export function numberBytes(text: string): number {
  const digits = text
    .replace(/^[-+]/, "")
    .replace(/e.*$/i, "")
    .replace(".", "")
    .replace(/^0+/, "")
    .replace(/0+$/, "");
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function binaryBytes(value: Uint8Array | string): number {
  return typeof value === "string" ? Buffer.from(value, "base64").byteLength : value.byteLength;
}

export function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return binaryBytes(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((n, s) => n + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((n, s) => n + numberBytes(s), 0);
  if (value.BS !== undefined) return value.BS.reduce((n, b) => n + binaryBytes(b), 0);
  // A list or map costs 3 bytes, and each element 1 more.
  if (value.L !== undefined) return 3 + value.L.reduce((n, v) => n + 1 + valueBytes(v), 0);
  if (value.M !== undefined) {
    return 3 + Object.entries(value.M).reduce((n, [k, v]) => n + 1 + utf8(k) + valueBytes(v), 0);
  }
  return 0;
}

export function itemBytes(item: Item | undefined): number {
  if (item === undefined) return 0;
  return Object.entries(item).reduce((n, [name, value]) => n + utf8(name) + valueBytes(value), 0);
}

/** 1 KB write units and 4 KB read units, rounded up; an absent or tiny item still costs one. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
export const readBlocks = (bytes: number) => Math.max(1, Math.ceil(bytes / 4096));

export type ReadKind = "eventual" | "strong" | "transactional";
const READ_FACTOR: Record<ReadKind, number> = { eventual: 0.5, strong: 1, transactional: 2 };

/** One item (GetItem, BatchGetItem, TransactGetItems) or one Query/Scan page by the total size it read. */
export const readUnits = (bytes: number, kind: ReadKind) => readBlocks(bytes) * READ_FACTOR[kind];

function keyValue(value: AttributeValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.S ?? value.N ?? (value.B === undefined ? undefined : Buffer.from(value.B).toString("base64"));
}

/** The item as the index stores it, or undefined when the item is not in the (sparse) index. */
export function indexEntry(table: TableShape, index: IndexShape, item: Item | undefined): Item | undefined {
  if (item === undefined) return undefined;
  if (keyValue(item[index.partitionKey]) === undefined) return undefined;
  if (index.sortKey !== undefined && keyValue(item[index.sortKey]) === undefined) return undefined;
  if (index.projection === "ALL") return item;
  const names = new Set<string>([table.partitionKey, index.partitionKey]);
  if (table.sortKey !== undefined) names.add(table.sortKey);
  if (index.sortKey !== undefined) names.add(index.sortKey);
  if (index.projection === "INCLUDE") for (const name of index.nonKeyAttributes ?? []) names.add(name);
  const entry: Item = {};
  for (const name of names) {
    const value = item[name];
    if (value !== undefined) entry[name] = value;
  }
  return entry;
}

function sameValue(a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

function sameItem(a: Item, b: Item): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const name of names) if (!sameValue(a[name], b[name])) return false;
  return true;
}

export interface IndexWrite {
  index: string;
  /** The index partition written (the new one for a put, the old one for a delete). */
  partition: string;
  units: number;
  kind: "put" | "delete" | "update";
}

/**
 * The index writes a change of one item causes. An entry appears (put), disappears (delete), moves when
 * an index key changes (delete + put: two writes), or is rewritten when a projected attribute changes.
 */
export function indexWrites(
  table: TableShape,
  before: Item | undefined,
  after: Item | undefined,
): IndexWrite[] {
  const writes: IndexWrite[] = [];
  for (const index of table.indexes) {
    const old = indexEntry(table, index, before);
    const now = indexEntry(table, index, after);
    const oldPartition = keyValue(old?.[index.partitionKey]) ?? "";
    const newPartition = keyValue(now?.[index.partitionKey]) ?? "";
    const put = (entry: Item) =>
      writes.push({
        index: index.name,
        partition: newPartition,
        units: writeUnits(itemBytes(entry)),
        kind: "put",
      });
    const remove = (entry: Item) =>
      writes.push({
        index: index.name,
        partition: oldPartition,
        units: writeUnits(itemBytes(entry)),
        kind: "delete",
      });
    if (old === undefined && now === undefined) continue;
    if (old === undefined && now !== undefined) put(now);
    else if (old !== undefined && now === undefined) remove(old);
    else if (old !== undefined && now !== undefined) {
      const keyMoved =
        !sameValue(old[index.partitionKey], now[index.partitionKey]) ||
        (index.sortKey !== undefined && !sameValue(old[index.sortKey], now[index.sortKey]));
      if (keyMoved) {
        remove(old);
        put(now);
      } else if (!sameItem(old, now)) {
        writes.push({
          index: index.name,
          partition: newPartition,
          units: writeUnits(Math.max(itemBytes(old), itemBytes(now))),
          kind: "update",
        });
      }
    }
  }
  return writes;
}

export type WriteKind = "put" | "update" | "delete" | "conditionCheck";

export interface WriteAction {
  kind: WriteKind;
  /** The item before the request (read by the meter, not by the application). */
  before: Item | undefined;
  /** The item after it: the new item of a put, the re-read item of an update, nothing for a delete. */
  after: Item | undefined;
  /** For a put, the item the request carried, which is what a failed condition is billed on. */
  attempted?: Item | undefined;
}

export interface WriteBill {
  /** Base table write request units. */
  table: number;
  indexes: IndexWrite[];
  total: number;
}

/**
 * One action of a write request. Put and update bill the larger of the item before and after, delete the
 * deleted item, a condition check the checked item; inside TransactWriteItems each costs twice. A failed
 * condition still bills the item's size (the larger of the stored one and the one sent) and writes no index.
 */
export function billWrite(
  table: TableShape,
  action: WriteAction,
  options: { transactional: boolean; succeeded: boolean },
): WriteBill {
  const factor = options.transactional ? 2 : 1;
  const beforeBytes = itemBytes(action.before);
  let bytes: number;
  if (!options.succeeded || action.kind === "conditionCheck") {
    bytes = Math.max(beforeBytes, itemBytes(action.attempted));
  } else if (action.kind === "delete") bytes = beforeBytes;
  else bytes = Math.max(beforeBytes, itemBytes(action.after));
  const base = writeUnits(bytes) * factor;
  const indexes =
    options.succeeded && action.kind !== "conditionCheck"
      ? indexWrites(table, action.before, action.after)
      : [];
  return { table: base, indexes, total: base + indexes.reduce((n, w) => n + w.units, 0) };
}

/** The partition key value of an item or key, as the heat map groups it. */
export function partitionOf(table: TableShape, key: Item | undefined): string {
  return keyValue(key?.[table.partitionKey]) ?? "";
}

export function keyOf(table: TableShape, item: Item): Item {
  const key: Item = {};
  const pk = item[table.partitionKey];
  if (pk !== undefined) key[table.partitionKey] = pk;
  if (table.sortKey !== undefined) {
    const sk = item[table.sortKey];
    if (sk !== undefined) key[table.sortKey] = sk;
  }
  return key;
}

/** `#a = :b AND begins_with(...)`: the placeholders a key condition uses, so a shadow query can reuse them. */
export function placeholdersIn(expression: string): { names: string[]; values: string[] } {
  return {
    names: [...new Set(expression.match(/#[A-Za-z0-9_]+/g) ?? [])],
    values: [...new Set(expression.match(/:[A-Za-z0-9_]+/g) ?? [])],
  };
}

/** The partition a Query reads: the value its key condition gives the (index's) partition key. */
export function queriedPartition(
  partitionKey: string,
  expression: string,
  names: Record<string, string> = {},
  values: Item = {},
): string {
  for (const match of expression.matchAll(/(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)/g)) {
    const name = match[1]?.startsWith("#") ? names[match[1]] : match[1];
    if (name === partitionKey) return keyValue(values[match[2] as string]) ?? "";
  }
  return "";
}
