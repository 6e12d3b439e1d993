import { restStageThrottle, type UsagePlanLimits } from "#infra/stack/limits";

export type BucketLimits = Pick<UsagePlanLimits, "rateLimit" | "burstLimit">;

export type ThrottleVerdict = { allowed: true } | { allowed: false; reason: "throttled" | "quota" };

interface Bucket {
  tokens: number;
  updatedMs: number;
  limits: BucketLimits;
}

const refilled = (bucket: Bucket, now: number) =>
  bucket.tokens + ((now - bucket.updatedMs) / 1000) * bucket.limits.rateLimit;

/** Buckets kept before full (idle) ones are dropped; a full bucket is the same as no bucket. */
const MAX_BUCKETS = 10_000;

/** Start (epoch ms, UTC) of the quota period `now` falls in; weeks start on Sunday. */
export function quotaPeriodStart(period: UsagePlanLimits["quota"]["period"], now: number): number {
  const day = new Date(now);
  day.setUTCHours(0, 0, 0, 0);
  if (period === "DAY") return day.getTime();
  if (period === "WEEK") return day.getTime() - day.getUTCDay() * 86_400_000;
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1);
}

/**
 * API Gateway's throttling, as token buckets: `burstLimit` tokens at most, refilled at `rateLimit` per
 * second, one per request. One bucket for the whole stage (the outer limit every caller shares), then one
 * per usage key with its plan's limits and quota, so each tenant and each API key spends only its own.
 * Quotas count the requests a key was let through in the plan's period (calendar day, week or month, UTC).
 */
export class UsageThrottle {
  private readonly buckets = new Map<string, Bucket>();
  private readonly quotas = new Map<string, { periodStart: number; used: number }>();

  constructor(
    private readonly stageLimits: BucketLimits = restStageThrottle,
    private readonly now: () => number = Date.now,
  ) {}

  private takeToken(id: string, limits: BucketLimits, now: number): boolean {
    const bucket = this.buckets.get(id) ?? { tokens: limits.burstLimit, updatedMs: now, limits };
    bucket.limits = limits;
    bucket.tokens = Math.min(limits.burstLimit, refilled(bucket, now));
    bucket.updatedMs = now;
    this.buckets.set(id, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    this.prune(now);
    return true;
  }

  /** The stage's own limit, before anything else. */
  stage(): ThrottleVerdict {
    return this.takeToken("stage", this.stageLimits, this.now())
      ? { allowed: true }
      : { allowed: false, reason: "throttled" };
  }

  /** One request under usage key `keyId` of a plan with these limits. */
  take(keyId: string, limits: UsagePlanLimits): ThrottleVerdict {
    const now = this.now();
    if (!this.takeToken(`key:${keyId}`, limits, now)) return { allowed: false, reason: "throttled" };
    const periodStart = quotaPeriodStart(limits.quota.period, now);
    const quota = this.quotas.get(keyId);
    const used = quota !== undefined && quota.periodStart === periodStart ? quota.used : 0;
    if (used >= limits.quota.limit) return { allowed: false, reason: "quota" };
    this.quotas.set(keyId, { periodStart, used: used + 1 });
    return { allowed: true };
  }

  private prune(now: number): void {
    if (this.buckets.size <= MAX_BUCKETS) return;
    for (const [id, bucket] of this.buckets) {
      if (refilled(bucket, now) >= bucket.limits.burstLimit) this.buckets.delete(id);
    }
  }
}
