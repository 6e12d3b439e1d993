/**
 * Limiter accounting for agent steps, pure: the stores hold the counters, and these rules decide what the
 * conditional writes on them allow. Tokens per minute count in fixed one-minute windows (UTC). A step
 * reserves an estimate before its first model call and settles the difference after, so concurrent steps
 * see each other's reservations, not only what has finished.
 */

/** Output tokens assumed for a model call when the agent sets no `maxTokens`. */
export const DEFAULT_OUTPUT_ESTIMATE = 1024;
/**
 * Bytes per token for the input estimate. English runs near four; three over-counts a little, so a
 * single-turn step rarely uses more than it reserved.
 */
export const BYTES_PER_TOKEN = 3;
/** How long a step waits for a throttled provider that said nothing about when to come back. */
export const DEFAULT_THROTTLE_WAIT_SECONDS = 10;
/** Waits are not worth a queue round trip below this; shorter ones the provider client sleeps itself. */
export const MIN_QUEUED_WAIT_SECONDS = 1;
/** The longest wait one deferral asks for; a longer one is waited out in several (SQS delays are at most 15 minutes). */
export const MAX_WAIT_SECONDS = 900;

export interface TokenEstimate {
  inputTokens: number;
  outputTokens: number;
}

export const totalTokens = (usage: TokenEstimate) => usage.inputTokens + usage.outputTokens;

/** What a step is expected to use: its input (system prompt, history, prompt, tool schemas) and an output cap. */
export function estimateTokens(
  inputs: readonly (string | undefined)[],
  maxOutputTokens?: number,
): TokenEstimate {
  const bytes = inputs.reduce(
    (sum, text) => sum + (text === undefined ? 0 : Buffer.byteLength(text, "utf8")),
    0,
  );
  return {
    inputTokens: Math.ceil(bytes / BYTES_PER_TOKEN),
    outputTokens: maxOutputTokens ?? DEFAULT_OUTPUT_ESTIMATE,
  };
}

/** The window a time falls in: `2026-12-02T01:28`. */
export function windowOf(now: Date): string {
  return now.toISOString().slice(0, 16);
}

/** Seconds until the next window opens. */
export function secondsToNextWindow(now: Date): number {
  const ms = now.getTime();
  return (Math.floor(ms / 60_000) + 1) * 60 - ms / 1000;
}

/**
 * Whether a window that has `used` tokens counted takes a reservation of `estimate` under `limit`. A step
 * larger than the whole limit still runs, alone, in an empty window: otherwise it would wait for ever. So
 * the window's total overshoots the limit by at most one step's usage.
 */
export function windowAdmits(used: number, estimate: number, limit: number): boolean {
  return used === 0 || used + estimate <= limit;
}

/** Whether a job that has spent (or reserved) `spentUsd` may start a step costing about `estimateUsd`. */
export function jobAdmits(spentUsd: number, estimateUsd: number, limitUsd: number): boolean {
  return spentUsd + estimateUsd <= limitUsd;
}

/** How long a step refused by a full window waits: to the next window, spread over a second so waiters do not all come back at once. */
export function windowWaitSeconds(now: Date, random: () => number = Math.random): number {
  return Math.min(
    MAX_WAIT_SECONDS,
    Math.max(MIN_QUEUED_WAIT_SECONDS, Math.ceil(secondsToNextWindow(now) + random())),
  );
}

/** A wait the step asks the queue for, in whole seconds, within what one deferral may ask. */
export function queuedWaitSeconds(seconds: number | undefined): number {
  const wanted = seconds === undefined || !Number.isFinite(seconds) ? DEFAULT_THROTTLE_WAIT_SECONDS : seconds;
  return Math.min(MAX_WAIT_SECONDS, Math.max(MIN_QUEUED_WAIT_SECONDS, Math.ceil(wanted)));
}

/** `1s`, `6m0s`, `20ms`, `1h2m3.5s`: the durations OpenAI's `x-ratelimit-reset-*` headers use. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const part = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let seconds = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(part)) {
    const value = Number(match[1]);
    const unit = match[2];
    seconds += unit === "h" ? value * 3600 : unit === "m" ? value * 60 : unit === "ms" ? value / 1000 : value;
    consumed += match[0].length;
  }
  return consumed === trimmed.length ? seconds : undefined;
}

/**
 * Seconds a throttled provider asked us to wait: `retry-after-ms`, then `retry-after` (seconds or an HTTP
 * date), then the latest of the rate-limit reset headers (OpenAI's `x-ratelimit-reset-requests|tokens`
 * durations, Anthropic's `anthropic-ratelimit-*-reset` timestamps). Undefined when none says.
 */
export function throttleWaitSeconds(
  header: (name: string) => string | null | undefined,
  now: Date = new Date(),
): number | undefined {
  const ms = Number(header("retry-after-ms") ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  const retryAfter = header("retry-after");
  if (retryAfter !== null && retryAfter !== undefined && retryAfter.trim() !== "") {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, (date - now.getTime()) / 1000);
  }
  const resets: number[] = [];
  for (const name of ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]) {
    const value = header(name);
    const seconds = value === null || value === undefined ? undefined : parseDuration(value);
    if (seconds !== undefined) resets.push(seconds);
  }
  for (const kind of ["requests", "tokens", "input-tokens", "output-tokens"]) {
    const value = header(`anthropic-ratelimit-${kind}-reset`);
    const at = value === null || value === undefined ? Number.NaN : Date.parse(value);
    if (!Number.isNaN(at)) resets.push(Math.max(0, (at - now.getTime()) / 1000));
  }
  return resets.length === 0 ? undefined : Math.max(...resets);
}

/**
 * One window's counter as the conditional writes keep it, for reasoning about concurrency: every
 * reservation is one atomic check-and-add, in some order, and every settlement one add.
 */
export class WindowCounter {
  used = 0;
  constructor(readonly limit: number) {}

  tryReserve(estimate: number): boolean {
    if (!windowAdmits(this.used, estimate, this.limit)) return false;
    this.used += estimate;
    return true;
  }

  settle(estimate: number, actual: number): void {
    this.used += actual - estimate;
  }

  release(estimate: number): void {
    this.used -= estimate;
  }
}
