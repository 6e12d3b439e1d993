import type { StepError } from "#events/jobs";
import { newId } from "../ids.ts";
import { offload } from "../payloads.ts";

/**
 * A step's error message is stored on the job item, sent in the step's events and shown in every list, so
 * it is cut to ERROR_MESSAGE_MAX_BYTES. The whole text goes to S3 behind the claim check, and the stored
 * error names where. Without this a `throw new Error('x'.repeat(5e5))` makes the result write fail on
 * DynamoDB's 400 KB item limit, again on every retry, until the lease expires.
 */
export const ERROR_MESSAGE_MAX_BYTES = 8 * 1024;
/** All console lines a step may keep with its outcome. The sandbox cuts them already; other runners may not. */
export const STEP_LOGS_MAX_BYTES = 8 * 1024;

export interface BoundedError extends StepError {
  /** Where the untruncated message is: an S3 claim-check pointer. */
  full?: unknown;
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, "utf8") <= maxBytes) return text;
  const cut = Buffer.from(text, "utf8").subarray(0, maxBytes).toString("utf8");
  // A character cut in half decodes as U+FFFD at the end.
  return cut.endsWith("\uFFFD") && !text.startsWith(cut) ? cut.slice(0, -1) : cut;
}

/** The error as it may be stored: a short message, and a pointer to the full text when it had to be cut. */
export async function boundError(
  error: StepError,
  where: { tenantId: string; jobId: string; step: string },
): Promise<BoundedError> {
  const bytes = Buffer.byteLength(error.message, "utf8");
  if (bytes <= ERROR_MESSAGE_MAX_BYTES) return error;
  const note = ` … [truncated: ${bytes} bytes, over the ${ERROR_MESSAGE_MAX_BYTES}-byte error limit]`;
  const message = truncateUtf8(error.message, ERROR_MESSAGE_MAX_BYTES - Buffer.byteLength(note)) + note;
  const full = await offload(
    { code: error.code, message: error.message },
    `${where.tenantId}/${where.jobId}/${where.step}/error-${newId("")}.json`,
  );
  return { ...error, message, full };
}

/** Keeps whole lines, newest dropped first, within STEP_LOGS_MAX_BYTES. */
export function boundLogs(logs: readonly string[]): string[] {
  const kept: string[] = [];
  let used = 0;
  for (const line of logs) {
    const size = Buffer.byteLength(line, "utf8") + 1;
    if (used + size > STEP_LOGS_MAX_BYTES) {
      kept.push(`… ${logs.length - kept.length} more line(s) dropped`);
      break;
    }
    kept.push(line);
    used += size;
  }
  return kept;
}
