import type { ServerResponse } from "node:http";
import { ROLES, type Role } from "#infra/manifest";
import { type UsagePlanLimits, usagePlanLimits } from "#infra/stack/limits";
import { sendError } from "./http-utils.ts";

export type BucketLimits = Pick<UsagePlanLimits, "rateLimit" | "burstLimit">;

export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket extends BucketLimits {
  tokens: number;
  updatedMs: number;
}

const refilled = (bucket: Bucket, now: number) =>
  bucket.tokens + ((now - bucket.updatedMs) / 1000) * bucket.rateLimit;

/** Buckets kept before full (idle) ones are dropped; a full bucket is the same as no bucket. */
const MAX_BUCKETS = 10_000;

/**
 * API Gateway's usage-plan throttling, as a token bucket per usage identifier: `burstLimit` tokens at most,
 * refilled at `rateLimit` per second, one per request. The limits are the CDK stack's own
 * (infra/stack/limits.ts), chosen by the caller's role as its usage plan is. Quotas (requests per month)
 * are not enforced locally.
 */
export class TokenBucketThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limitsFor: (role: Role) => BucketLimits = (role) => usagePlanLimits[role],
    private readonly now: () => number = Date.now,
  ) {}

  take(usageKey: string, role: Role): ThrottleVerdict {
    const { rateLimit, burstLimit } = this.limitsFor(role);
    const now = this.now();
    const bucket = this.buckets.get(usageKey) ?? {
      tokens: burstLimit,
      updatedMs: now,
      rateLimit,
      burstLimit,
    };
    bucket.tokens = Math.min(burstLimit, refilled(bucket, now));
    Object.assign(bucket, { updatedMs: now, rateLimit, burstLimit });
    this.buckets.set(usageKey, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.prune(now);
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rateLimit)) };
  }

  private prune(now: number): void {
    if (this.buckets.size <= MAX_BUCKETS) return;
    for (const [key, bucket] of this.buckets) {
      if (refilled(bucket, now) >= bucket.burstLimit) this.buckets.delete(key);
    }
  }

  /**
   * The gateway's hook, after the authorizer allowed the request: callers without a usage identifier (JWT
   * sessions) are not throttled per key, as in API Gateway. Answers 429 itself and returns true when the
   * request must stop here.
   */
  refuse(
    decision: { apiKey?: string; context: Record<string, string> },
    response: ServerResponse,
    requestId: string,
    headers: Record<string, string> = {},
  ): boolean {
    if (decision.apiKey === undefined) return false;
    const role = ROLES.find((candidate) => candidate === decision.context.role) ?? "viewer";
    const verdict = this.take(decision.apiKey, role);
    if (verdict.allowed) return false;
    sendError(response, 429, "TOO_MANY_REQUESTS", "Too many requests for this API key", requestId, {
      ...headers,
      "retry-after": String(verdict.retryAfterSeconds),
      "x-amzn-errortype": "TooManyRequestsException",
    });
    return true;
  }
}
