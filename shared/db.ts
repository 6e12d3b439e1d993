import { ENV, requireEnv } from "./config.ts";

let table: string | undefined;

/** The table's name, checked on first use so a function without the binding fails with the variable's name. */
export function tableName(): string {
  table ??= requireEnv(ENV.tableName);
  return table;
}

export const nowIso = (now: Date = new Date()) => now.toISOString();
export const epochSeconds = (now: Date = new Date()) => Math.floor(now.getTime() / 1000);

/** Opaque page cursors: the LastEvaluatedKey, base64url-encoded. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key === undefined ? undefined : Buffer.from(JSON.stringify(key)).toString("base64url");
}

export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
  } catch {
    // falls through to the error below
  }
  throw Object.assign(new Error("cursor is not valid"), { name: "InvalidCursor" });
}
