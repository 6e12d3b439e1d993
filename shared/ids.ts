import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function encodeTime(ms: number, length: number): string {
  let out = "";
  let rest = ms;
  for (let i = 0; i < length; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

function randomChars(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += ALPHABET[byte % 32];
  return out;
}

/**
 * Lower-case, time-ordered ids (a ULID-like 10-char time part, then 16 random chars), so ids sort by
 * creation and are safe in keys, URLs and API key strings.
 */
export function newId(prefix: string, now = Date.now()): string {
  return `${prefix}${encodeTime(now, 10)}${randomChars(16)}`;
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}
