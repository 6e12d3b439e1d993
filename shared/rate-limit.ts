import { createHash } from "node:crypto";
import { DeleteCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "./aws.ts";
import { tableName } from "./db.ts";
import { isConditionalCheckFailed } from "./errors.ts";
import { keys } from "./keys.ts";

/**
 * Sliding-window counters in DynamoDB, shared by every Lambda instance (an in-memory counter would reset
 * on each cold start and differ between concurrent instances). Each window is one item with a TTL; the
 * count of the last `windowSeconds` is estimated as the current window's count plus the previous window's,
 * weighted by how much of it still overlaps, which avoids the double burst a fixed window allows at its edge.
 */
export interface RateLimitRule {
  /** Names the counter family, e.g. `login-email`. */
  scope: string;
  limit: number;
  windowSeconds: number;
}

/** Failed sign-ins allowed per email and per source IP in any 15 minutes. */
export const LOGIN_RULES = {
  perEmail: { scope: "login-email", limit: 10, windowSeconds: 15 * 60 },
  perIp: { scope: "login-ip", limit: 50, windowSeconds: 15 * 60 },
} as const satisfies Record<string, RateLimitRule>;

export type Slot =
  | { allowed: true; release: () => Promise<void> }
  | { allowed: false; retryAfterSeconds: number };

interface WindowState {
  windowStartMs: number;
  elapsedMs: number;
  previous: number;
  current: number;
}

/** Subjects (emails, IPs) are hashed so the counters hold no personal data. */
function subjectHash(subject: string): string {
  return createHash("sha256").update(subject.trim().toLowerCase()).digest("hex").slice(0, 32);
}

function windowOf(rule: RateLimitRule, nowMs: number) {
  const windowMs = rule.windowSeconds * 1000;
  const windowStartMs = Math.floor(nowMs / windowMs) * windowMs;
  return { windowMs, windowStartMs, elapsedMs: nowMs - windowStartMs };
}

/** How many hits the current window may still take before the sliding estimate reaches the limit. */
export function allowance(rule: RateLimitRule, state: Pick<WindowState, "previous" | "elapsedMs">): number {
  const weight = 1 - state.elapsedMs / (rule.windowSeconds * 1000);
  return rule.limit - state.previous * weight;
}

/** Seconds until the sliding estimate is below the limit again, at least 1. */
export function retryAfterSeconds(rule: RateLimitRule, state: Omit<WindowState, "windowStartMs">): number {
  const windowMs = rule.windowSeconds * 1000;
  const { previous, current, elapsedMs } = state;
  let waitMs: number;
  if (current >= rule.limit) {
    // Only in a later window does this window's count start to fade out of the estimate.
    waitMs = windowMs - elapsedMs + Math.max(0, windowMs * (1 - rule.limit / current));
  } else {
    waitMs = windowMs * (1 - (rule.limit - current) / Math.max(previous, 1)) - elapsedMs;
  }
  return Math.max(1, Math.floor(waitMs / 1000) + 1);
}

async function readState(rule: RateLimitRule, hash: string, nowMs: number): Promise<WindowState> {
  const { windowMs, windowStartMs, elapsedMs } = windowOf(rule, nowMs);
  const current = keys.rateLimit(rule.scope, hash, windowStartMs);
  const previous = keys.rateLimit(rule.scope, hash, windowStartMs - windowMs);
  const { Items = [] } = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
      ExpressionAttributeValues: { ":pk": current.pk, ":from": previous.sk, ":to": current.sk },
      ConsistentRead: true,
    }),
  );
  const count = (sk: string) => Number(Items.find((item) => item.sk === sk)?.count ?? 0);
  return { windowStartMs, elapsedMs, previous: count(previous.sk), current: count(current.sk) };
}

async function add(rule: RateLimitRule, hash: string, windowStartMs: number, delta: number, below?: number) {
  const windowMs = rule.windowSeconds * 1000;
  await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.rateLimit(rule.scope, hash, windowStartMs),
      UpdateExpression: "ADD #count :delta SET #ttl = :ttl",
      // The item must outlive its own window and the next, in which it is the "previous" window.
      ExpressionAttributeNames: { "#count": "count", "#ttl": "ttl" },
      ExpressionAttributeValues: {
        ":delta": delta,
        ":ttl": Math.ceil((windowStartMs + 2 * windowMs) / 1000),
        ...(below === undefined ? {} : { ":below": below }),
      },
      ...(below === undefined
        ? {}
        : { ConditionExpression: "attribute_not_exists(#count) OR #count < :below" }),
    }),
  );
}

/**
 * Takes one slot for `subject`, atomically: the conditional increment refuses it once the window is full,
 * so concurrent attempts cannot all slip through between a read and a write. `release()` gives the slot
 * back, for attempts that turn out not to count (a successful sign-in).
 */
export async function takeSlot(rule: RateLimitRule, subject: string, now = new Date()): Promise<Slot> {
  const hash = subjectHash(subject);
  const state = await readState(rule, hash, now.getTime());
  const room = allowance(rule, state);
  const refuse = (): Slot => ({
    allowed: false,
    retryAfterSeconds: retryAfterSeconds(rule, {
      ...state,
      current: Math.max(state.current, Math.ceil(room)),
    }),
  });
  if (room <= 0 || state.current >= room) return refuse();
  try {
    await add(rule, hash, state.windowStartMs, 1, room);
  } catch (error) {
    if (isConditionalCheckFailed(error)) return refuse();
    throw error;
  }
  return { allowed: true, release: () => add(rule, hash, state.windowStartMs, -1) };
}

/** Forgets the subject's recent hits, e.g. an email's failed sign-ins once its owner signs in. */
export async function resetSlots(rule: RateLimitRule, subject: string, now = new Date()): Promise<void> {
  const hash = subjectHash(subject);
  const { windowMs, windowStartMs } = windowOf(rule, now.getTime());
  await Promise.all(
    [windowStartMs, windowStartMs - windowMs].map((start) =>
      dynamo().send(
        new DeleteCommand({ TableName: tableName(), Key: keys.rateLimit(rule.scope, hash, start) }),
      ),
    ),
  );
}
