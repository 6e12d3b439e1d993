import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { s3Client } from "./aws.ts";
import { ENV, numberEnv, requireEnv } from "./config.ts";

/**
 * Claim check. A value larger than this (as JSON) is stored in S3, and the table, the step messages and the
 * WebSocket events carry a pointer instead. DynamoDB items stop at 400 KB and SQS messages at 256 KB; the
 * threshold keeps a job with many large steps far from both.
 */
export const CLAIM_CHECK_BYTES = numberEnv("CLAIM_CHECK_BYTES", 32 * 1024);

export interface PayloadPointer {
  $payload: { bucket: string; key: string; bytes: number };
}

export function isPointer(value: unknown): value is PayloadPointer {
  return (
    typeof value === "object" &&
    value !== null &&
    "$payload" in value &&
    typeof (value as PayloadPointer).$payload?.key === "string"
  );
}

/** Stored payloads never change (their key names the attempt), so a process may keep what it read. */
const cache = new Map<string, unknown>();
const CACHE_ENTRIES = 64;

function remember(key: string, value: unknown): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
}

/**
 * Returns the value itself when it is at most `limit` bytes as JSON, else a pointer to where it was stored.
 * Stores pass a lower limit for values that ride on an item written at every transition.
 */
export async function offload(value: unknown, key: string, limit = CLAIM_CHECK_BYTES): Promise<unknown> {
  if (value === undefined || isPointer(value)) return value;
  const body = JSON.stringify(value);
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes <= Math.min(limit, CLAIM_CHECK_BYTES)) return value;
  const bucket = requireEnv(ENV.payloadBucket);
  await s3Client().send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }),
  );
  remember(key, value);
  return { $payload: { bucket, key, bytes } } satisfies PayloadPointer;
}

/** The full value behind a pointer; anything else is returned as it is. */
export async function hydrate(value: unknown): Promise<unknown> {
  if (!isPointer(value)) return value;
  const { bucket, key } = value.$payload;
  if (cache.has(key)) return cache.get(key);
  const result = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const parsed = JSON.parse(
    await (result.Body as { transformToString(): Promise<string> }).transformToString(),
  );
  remember(key, parsed);
  return parsed;
}
