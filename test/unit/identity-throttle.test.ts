import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { TokenBucketThrottle } from "#infra/local/throttle";
import { usagePlanLimits } from "#infra/stack/limits";

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Records what the throttle writes, as a ServerResponse would receive it. */
function fakeResponse() {
  const sent: { status?: number; headers?: Record<string, string>; body?: string } = {};
  const response = {
    writeHead(status: number, headers: Record<string, string>) {
      sent.status = status;
      sent.headers = headers;
      return this;
    },
    end(body: string) {
      sent.body = body;
    },
  } as unknown as ServerResponse;
  return { response, sent };
}

describe("token bucket per usage identifier", () => {
  it("allows a burst of burstLimit, then refuses with the time until the next token", () => {
    const time = clock();
    const throttle = new TokenBucketThrottle(() => ({ rateLimit: 2, burstLimit: 3 }), time.now);
    expect([1, 2, 3].map(() => throttle.take("k1", "viewer").allowed)).toEqual([true, true, true]);
    expect(throttle.take("k1", "viewer")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    time.advance(500);
    expect(throttle.take("k1", "viewer").allowed).toBe(true);
    expect(throttle.take("k1", "viewer").allowed).toBe(false);
  });

  it("keeps one bucket per key: one busy key does not slow another", () => {
    const time = clock();
    const throttle = new TokenBucketThrottle(() => ({ rateLimit: 1, burstLimit: 1 }), time.now);
    expect(throttle.take("busy", "user").allowed).toBe(true);
    expect(throttle.take("busy", "user").allowed).toBe(false);
    expect(throttle.take("quiet", "user").allowed).toBe(true);
  });

  it("never holds more than burstLimit tokens after a long idle time", () => {
    const time = clock();
    const throttle = new TokenBucketThrottle(() => ({ rateLimit: 10, burstLimit: 2 }), time.now);
    throttle.take("k", "admin");
    time.advance(3_600_000);
    expect([1, 2, 3].map(() => throttle.take("k", "admin").allowed)).toEqual([true, true, false]);
  });

  it("uses the CDK stack's usage-plan numbers for the caller's role by default", () => {
    const time = clock();
    const throttle = new TokenBucketThrottle(undefined, time.now);
    const { burstLimit } = usagePlanLimits.viewer;
    const results = Array.from({ length: burstLimit + 1 }, () => throttle.take("v", "viewer").allowed);
    expect(results.filter(Boolean)).toHaveLength(burstLimit);
    expect(results.at(-1)).toBe(false);
    expect(usagePlanLimits.admin.burstLimit).toBeGreaterThan(burstLimit);
  });
});

describe("the gateway hook", () => {
  it("lets callers without a usage identifier (JWT sessions) through untouched", () => {
    const throttle = new TokenBucketThrottle(() => ({ rateLimit: 1, burstLimit: 0 }));
    const { response, sent } = fakeResponse();
    expect(throttle.refuse({ context: { role: "viewer" } }, response, "r1")).toBe(false);
    expect(sent.status).toBeUndefined();
  });

  it("answers 429 with Retry-After and the contract's error body when the key is over its limit", () => {
    const time = clock();
    const throttle = new TokenBucketThrottle(() => ({ rateLimit: 0.25, burstLimit: 1 }), time.now);
    const decision = { apiKey: "kabc", context: { role: "user" } };
    expect(throttle.refuse(decision, fakeResponse().response, "r1")).toBe(false);
    const { response, sent } = fakeResponse();
    expect(throttle.refuse(decision, response, "r2")).toBe(true);
    expect(sent.status).toBe(429);
    expect(sent.headers?.["retry-after"]).toBe("4");
    expect(JSON.parse(sent.body ?? "")).toEqual({
      code: "TOO_MANY_REQUESTS",
      message: expect.any(String),
      requestId: "r2",
    });
  });
});
