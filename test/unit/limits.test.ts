import { describe, expect, it } from "vitest";
import { decide } from "#shared/engine/engine";
import {
  BYTES_PER_TOKEN,
  DEFAULT_OUTPUT_ESTIMATE,
  estimateTokens,
  jobAdmits,
  parseDuration,
  queuedWaitSeconds,
  secondsToNextWindow,
  throttleWaitSeconds,
  WindowCounter,
  windowAdmits,
  windowOf,
  windowWaitSeconds,
} from "#shared/limits/accounting";
import { at, newJob, stepOf } from "./engine/fixtures.ts";

const headers = (values: Record<string, string>) => (name: string) => values[name];

describe("limiter accounting", () => {
  it("estimates input from its bytes and output from the agent's cap", () => {
    const estimate = estimateTokens(["a".repeat(30), undefined, "b".repeat(3)], 50);
    expect(estimate).toEqual({ inputTokens: Math.ceil(33 / BYTES_PER_TOKEN), outputTokens: 50 });
    expect(estimateTokens(["hi"]).outputTokens).toBe(DEFAULT_OUTPUT_ESTIMATE);
  });

  it("counts in whole-minute UTC windows", () => {
    const now = new Date("2026-12-02T01:28:45.500Z");
    expect(windowOf(now)).toBe("2026-12-02T01:28");
    expect(secondsToNextWindow(now)).toBeCloseTo(14.5);
    expect(windowWaitSeconds(now, () => 0.9)).toBe(16);
    expect(windowWaitSeconds(new Date("2026-12-02T01:28:59.999Z"), () => 0)).toBe(1);
  });

  it("admits a reservation that fits, and a step larger than the limit only into an empty window", () => {
    expect(windowAdmits(0, 500, 1000)).toBe(true);
    expect(windowAdmits(500, 500, 1000)).toBe(true);
    expect(windowAdmits(501, 500, 1000)).toBe(false);
    expect(windowAdmits(0, 5000, 1000)).toBe(true);
    expect(windowAdmits(1, 5000, 1000)).toBe(false);
  });

  it("refuses the job step whose estimate would pass the job's dollar budget", () => {
    expect(jobAdmits(0.4, 0.1, 0.5)).toBe(true);
    expect(jobAdmits(0.41, 0.1, 0.5)).toBe(false);
    expect(jobAdmits(0, 0.6, 0.5)).toBe(false);
  });

  it("lets concurrent steps overshoot a window by at most one step's usage, whatever the interleaving", () => {
    for (let seed = 1; seed <= 50; seed++) {
      let state = seed;
      const random = () => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state / 2 ** 31;
      };
      const limit = 1000;
      const counter = new WindowCounter(limit);
      // Each step reserves its estimate (an upper bound of a single-turn step) and settles what it used.
      const steps = Array.from({ length: 40 }, () => {
        const estimate = 50 + Math.floor(random() * 400);
        return { estimate, actual: Math.floor(estimate * random()), admitted: false, settled: false };
      });
      let biggest = 0;
      let worst = 0;
      for (let round = 0; round < 200; round++) {
        const step = steps[Math.floor(random() * steps.length)];
        if (step === undefined) continue;
        if (!step.admitted) step.admitted = counter.tryReserve(step.estimate);
        else if (!step.settled) {
          counter.settle(step.estimate, step.actual);
          step.settled = true;
        }
        if (step.admitted) biggest = Math.max(biggest, step.estimate);
        worst = Math.max(worst, counter.used - (limit + biggest));
      }
      expect(worst).toBeLessThanOrEqual(0);
      const settledUse = steps.filter((s) => s.settled).reduce((sum, s) => sum + s.actual, 0);
      expect(settledUse).toBeLessThanOrEqual(limit);
    }
  });

  it("reads how long a throttled provider asked us to wait", () => {
    const now = new Date("2026-12-02T01:00:00Z");
    expect(throttleWaitSeconds(headers({ "retry-after": "7" }), now)).toBe(7);
    expect(throttleWaitSeconds(headers({ "retry-after-ms": "1500", "retry-after": "9" }), now)).toBe(1.5);
    expect(throttleWaitSeconds(headers({ "retry-after": "Wed, 02 Dec 2026 01:00:30 GMT" }), now)).toBe(30);
    expect(
      throttleWaitSeconds(
        headers({ "x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s" }),
        now,
      ),
    ).toBe(360);
    expect(
      throttleWaitSeconds(headers({ "anthropic-ratelimit-tokens-reset": "2026-12-02T01:00:12Z" }), now),
    ).toBe(12);
    expect(throttleWaitSeconds(headers({}), now)).toBeUndefined();
    expect(parseDuration("20ms")).toBe(0.02);
    expect(parseDuration("1h2m3.5s")).toBe(3723.5);
    expect(parseDuration("soon")).toBeUndefined();
  });

  it("turns a wait into whole seconds SQS can delay by, with a default for a throttle that gave none", () => {
    expect(queuedWaitSeconds(2.2)).toBe(3);
    expect(queuedWaitSeconds(0)).toBe(1);
    expect(queuedWaitSeconds(undefined)).toBe(10);
    expect(queuedWaitSeconds(5000)).toBe(900);
  });
});

describe("a deferred step", () => {
  it("goes back to the queue as the same attempt, not before its wait, with its retry budget untouched", async () => {
    const job = newJob({
      name: "w",
      nodes: [{ id: "ask", type: "agent", agent: "a", retry: { maxAttempts: 1 } }],
    });
    const started = await decide(job, { type: "start" }, at(0));
    const claimed = await decide(
      started.state,
      { type: "claim", nodeId: "ask", attempt: 1, leaseSeconds: 60 },
      at(1),
    );

    const deferred = await decide(
      claimed.state,
      { type: "stepDeferred", nodeId: "ask", attempt: 1, delaySeconds: 42, reason: "window full" },
      at(2),
    );

    const step = stepOf(deferred.state, "ask");
    expect(step).toMatchObject({ status: "queued", attempt: 1, notBefore: at(44).toISOString() });
    expect(step.leaseUntil).toBeUndefined();
    expect(deferred.commands).toEqual([{ type: "run", nodeId: "ask", attempt: 1, delaySeconds: 42 }]);
    expect(deferred.notes[0]?.message).toContain("waits 42s: window full");
    expect(deferred.state.status).toBe("running");

    const again = await decide(
      deferred.state,
      { type: "claim", nodeId: "ask", attempt: 1, leaseSeconds: 60 },
      at(45),
    );
    expect(stepOf(again.state, "ask")).toMatchObject({ status: "running", attempt: 1 });
  });

  it("is ignored for an attempt that is not running", async () => {
    const started = await decide(
      newJob({ name: "w", nodes: [{ id: "ask", type: "agent", agent: "a" }] }),
      { type: "start" },
      at(0),
    );
    const deferred = await decide(
      started.state,
      { type: "stepDeferred", nodeId: "ask", attempt: 1, delaySeconds: 5, reason: "x" },
      at(1),
    );
    expect(deferred.changedSteps).toEqual([]);
    expect(deferred.commands).toEqual([]);
  });
});
