import { describe, expect, it } from "vitest";
import { quotaPeriodStart, UsageThrottle } from "#infra/local/throttle";
import { restStageThrottle, type UsagePlanLimits, usagePlanLimits } from "#infra/stack/limits";

function clock(start = Date.UTC(2026, 10, 18, 12)) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const plan = (rateLimit: number, burstLimit: number, quota = 1_000_000): UsagePlanLimits => ({
  rateLimit,
  burstLimit,
  quota: { limit: quota, period: "MONTH" },
});

const roomy = { rateLimit: 10_000, burstLimit: 10_000 };

describe("usage-plan buckets", () => {
  it("allows a burst of burstLimit, then refuses until a token has refilled", () => {
    const time = clock();
    const throttle = new UsageThrottle(roomy, time.now);
    const limits = plan(2, 3);
    expect([1, 2, 3].map(() => throttle.take("k1", limits).allowed)).toEqual([true, true, true]);
    expect(throttle.take("k1", limits)).toEqual({ allowed: false, reason: "throttled" });
    time.advance(500);
    expect(throttle.take("k1", limits).allowed).toBe(true);
    expect(throttle.take("k1", limits).allowed).toBe(false);
  });

  it("keeps one bucket per usage key: a saturated key leaves another of the same plan untouched", () => {
    const time = clock();
    const throttle = new UsageThrottle(roomy, time.now);
    const limits = plan(1, 1);
    expect(throttle.take("tenant-a", limits).allowed).toBe(true);
    expect(throttle.take("tenant-a", limits).allowed).toBe(false);
    expect(throttle.take("tenant-b", limits).allowed).toBe(true);
  });

  it("refills no further than the burst", () => {
    const time = clock();
    const throttle = new UsageThrottle(roomy, time.now);
    const limits = plan(10, 2);
    throttle.take("k", limits);
    time.advance(60_000);
    expect([1, 2, 3].map(() => throttle.take("k", limits).allowed)).toEqual([true, true, false]);
  });

  it("uses each plan's own numbers from the stack's limits", () => {
    const throttle = new UsageThrottle(roomy, clock().now);
    const { burstLimit } = usagePlanLimits.viewer;
    const results = Array.from(
      { length: burstLimit + 1 },
      () => throttle.take("v", usagePlanLimits.viewer).allowed,
    );
    expect(results.filter(Boolean)).toHaveLength(burstLimit);
    expect(results.at(-1)).toBe(false);
    expect(usagePlanLimits.tenant.burstLimit).toBeGreaterThan(burstLimit);
  });

  it("refuses past the quota for the rest of the period, and counts afresh in the next", () => {
    const time = clock(Date.UTC(2026, 10, 30, 23, 59, 59));
    const throttle = new UsageThrottle(roomy, time.now);
    const limits = plan(1000, 1000, 3);
    expect([1, 2, 3].map(() => throttle.take("k", limits).allowed)).toEqual([true, true, true]);
    expect(throttle.take("k", limits)).toEqual({ allowed: false, reason: "quota" });
    expect(throttle.take("other", limits).allowed).toBe(true);
    time.advance(1000);
    expect(throttle.take("k", limits).allowed).toBe(true);
  });

  it("puts the stage's own bucket above every key: the outer limit", () => {
    const time = clock();
    const throttle = new UsageThrottle({ rateLimit: 1, burstLimit: 2 }, time.now);
    expect([1, 2, 3].map(() => throttle.stage())).toEqual([
      { allowed: true },
      { allowed: true },
      { allowed: false, reason: "throttled" },
    ]);
    expect(new UsageThrottle(undefined, time.now).stage().allowed).toBe(true);
    expect(restStageThrottle.burstLimit).toBeGreaterThan(usagePlanLimits.tenant.burstLimit);
  });
});

describe("quota periods", () => {
  it("start at UTC midnight, on Sunday, and on the first of the month", () => {
    const at = Date.UTC(2026, 10, 18, 15, 30); // a Wednesday
    expect(quotaPeriodStart("DAY", at)).toBe(Date.UTC(2026, 10, 18));
    expect(quotaPeriodStart("WEEK", at)).toBe(Date.UTC(2026, 10, 15));
    expect(quotaPeriodStart("MONTH", at)).toBe(Date.UTC(2026, 10, 1));
  });
});
