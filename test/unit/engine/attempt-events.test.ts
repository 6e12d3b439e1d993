import { describe, expect, it } from "vitest";
import { decide } from "#shared/engine/engine";
import type { JobState } from "#shared/engine/types";
import { at, start, statuses, stepOf } from "./fixtures.ts";

/**
 * The bookkeeping of one attempt (claims, leases, task starts, lost messages, dead letters) goes through
 * decide() like every other change of step state: these are the events the worker, the Fargate task, the
 * sweeper and the dead-letter consumer send.
 */
const chain = {
  name: "chain",
  nodes: [
    { id: "a", type: "code", code: "return 1", retry: { maxAttempts: 2, jitter: false } },
    { id: "b", type: "code", code: "return 2", dependsOn: ["a"] },
  ],
};

async function queued(def: unknown = chain): Promise<JobState> {
  return (await start(def)).state;
}

async function claimed(def: unknown = chain): Promise<JobState> {
  return (
    await decide(await queued(def), { type: "claim", nodeId: "a", attempt: 1, leaseSeconds: 60 }, at(1))
  ).state;
}

describe("start", () => {
  it("leaves a new job queued until a worker claims one of its steps", async () => {
    const s = await queued();
    expect(s.status).toBe("queued");

    const d = await decide(s, { type: "claim", nodeId: "a", attempt: 1, leaseSeconds: 60 }, at(1));
    expect(d.state.status).toBe("running");
    expect(d.jobChanged).toBe(true);
  });

  it("still ends a job at once when nothing in it needs a worker", async () => {
    const d = await start({ name: "w", nodes: [{ id: "w", type: "wait", seconds: 10 }] });
    expect(d.state.status).toBe("waiting");
  });
});

describe("claim", () => {
  it("takes a queued attempt: running, with a lease, and moves nothing else", async () => {
    const before = await queued();
    const d = await decide(before, { type: "claim", nodeId: "a", attempt: 1, leaseSeconds: 60 }, at(1));

    expect(stepOf(d.state, "a")).toMatchObject({
      status: "running",
      attempt: 1,
      startedAt: at(1).toISOString(),
      leaseUntil: at(61).toISOString(),
    });
    expect(d.changedSteps.map((s) => s.nodeId)).toEqual(["a"]);
    expect(d.commands).toEqual([]);
    expect(before.steps.a?.status, "the given state is not modified").toBe("queued");
  });

  it("ignores another attempt, a step not queued, and a finished job", async () => {
    const s = await queued();
    for (const event of [
      { type: "claim", nodeId: "a", attempt: 2, leaseSeconds: 60 },
      { type: "claim", nodeId: "b", attempt: 0, leaseSeconds: 60 },
      { type: "claim", nodeId: "zz", attempt: 1, leaseSeconds: 60 },
    ] as const) {
      const d = await decide(s, event, at(1));
      expect(d.changedSteps, JSON.stringify(event)).toEqual([]);
    }
    const cancelled = (await decide(s, { type: "cancel" }, at(1))).state;
    const late = await decide(cancelled, { type: "claim", nodeId: "a", attempt: 1, leaseSeconds: 60 }, at(2));
    expect(late.changedSteps).toEqual([]);
  });

  it("refuses a running attempt while its lease holds, and takes it over once the lease lapsed", async () => {
    const s = await claimed();
    const early = await decide(s, { type: "claim", nodeId: "a", attempt: 1, leaseSeconds: 60 }, at(30));
    expect(early.changedSteps).toEqual([]);

    const late = await decide(s, { type: "claim", nodeId: "a", attempt: 1, leaseSeconds: 60 }, at(62));
    expect(stepOf(late.state, "a")).toMatchObject({
      status: "running",
      attempt: 1,
      leaseUntil: at(122).toISOString(),
    });
  });
});

describe("renewLease", () => {
  it("extends the lease of the running attempt only", async () => {
    const s = await claimed();
    const d = await decide(s, { type: "renewLease", nodeId: "a", attempt: 1, leaseSeconds: 120 }, at(50));
    expect(stepOf(d.state, "a").leaseUntil).toBe(at(170).toISOString());
    expect(d.commands).toEqual([]);

    const stale = await decide(s, { type: "renewLease", nodeId: "a", attempt: 2, leaseSeconds: 120 }, at(50));
    expect(stale.changedSteps).toEqual([]);
    const notRunning = await decide(
      await queued(),
      { type: "renewLease", nodeId: "a", attempt: 1, leaseSeconds: 120 },
      at(50),
    );
    expect(notRunning.changedSteps).toEqual([]);
  });
});

describe("taskStarted", () => {
  it("records the task of a running attempt, so a cancel stops it", async () => {
    const s = await claimed();
    const d = await decide(s, { type: "taskStarted", nodeId: "a", attempt: 1, taskArn: "arn:task/7" }, at(2));
    expect(stepOf(d.state, "a").taskArn).toBe("arn:task/7");

    const cancelled = await decide(d.state, { type: "cancel" }, at(3));
    expect(cancelled.commands).toEqual([{ type: "stopTask", nodeId: "a", taskArn: "arn:task/7" }]);
  });

  it("ignores a task start for a step that is not running that attempt", async () => {
    const d = await decide(
      await queued(),
      { type: "taskStarted", nodeId: "a", attempt: 1, taskArn: "arn:task/7" },
      at(2),
    );
    expect(d.changedSteps).toEqual([]);
  });
});

describe("requeue", () => {
  it("sends a queued attempt's message again, counting the requeues", async () => {
    const s = await queued();
    const once = await decide(s, { type: "requeue", nodeId: "a", attempt: 1 }, at(300));
    expect(once.commands).toEqual([{ type: "run", nodeId: "a", attempt: 1, delaySeconds: 0 }]);
    expect(stepOf(once.state, "a")).toMatchObject({
      status: "queued",
      attempt: 1,
      requeues: 1,
      queuedAt: at(300).toISOString(),
    });
    const twice = await decide(once.state, { type: "requeue", nodeId: "a", attempt: 1 }, at(600));
    expect(stepOf(twice.state, "a").requeues).toBe(2);
  });

  it("resends a wait for the time it has left", async () => {
    const s = (await start({ name: "w", nodes: [{ id: "w", type: "wait", seconds: 100 }] })).state;
    const d = await decide(s, { type: "requeue", nodeId: "w", attempt: 1 }, at(40));
    expect(d.commands).toEqual([{ type: "run", nodeId: "w", attempt: 1, delaySeconds: 60 }]);
    expect(stepOf(d.state, "w").status).toBe("waiting");
  });

  it("leaves a running attempt alone, unless its worker is known to be gone", async () => {
    const s = await claimed();
    const alive = await decide(s, { type: "requeue", nodeId: "a", attempt: 1 }, at(5));
    expect(alive.changedSteps).toEqual([]);

    const lost = await decide(s, { type: "requeue", nodeId: "a", attempt: 1, workerLost: true }, at(5));
    expect(stepOf(lost.state, "a")).toMatchObject({ status: "queued", attempt: 1 });
    expect(stepOf(lost.state, "a").leaseUntil).toBeUndefined();
    expect(lost.commands, "the same attempt, with the same idempotency key").toEqual([
      { type: "run", nodeId: "a", attempt: 1, delaySeconds: 0 },
    ]);
  });

  it("does not requeue a running Fargate attempt: its task reports for itself", async () => {
    const s = await claimed();
    const task = await decide(s, { type: "taskStarted", nodeId: "a", attempt: 1, taskArn: "arn:t" }, at(2));
    const d = await decide(task.state, { type: "requeue", nodeId: "a", attempt: 1, workerLost: true }, at(5));
    expect(d.changedSteps).toEqual([]);
  });
});

describe("deadLettered", () => {
  it("fails a queued attempt that never got as far as a claim, without a retry", async () => {
    const d = await decide(
      await queued(),
      { type: "deadLettered", nodeId: "a", attempt: 1, reason: "5 receives" },
      at(9),
    );
    expect(stepOf(d.state, "a")).toMatchObject({
      status: "failed",
      error: { code: "DEAD_LETTERED", message: "5 receives" },
    });
    expect(d.state.status).toBe("failed");
    expect(statuses(d.state)).toEqual({ a: "failed", b: "cancelled" });
  });

  it("lets the job go on when the node continues on error", async () => {
    const def = {
      name: "c",
      nodes: [
        { id: "a", type: "code", code: "return 1", onError: "continue" },
        { id: "b", type: "code", code: "return 2", dependsOn: ["a"] },
      ],
    };
    const d = await decide(
      await claimed(def),
      { type: "deadLettered", nodeId: "a", attempt: 1, reason: "r" },
      at(9),
    );
    expect(statuses(d.state)).toEqual({ a: "failed", b: "queued" });
    expect(d.commands).toEqual([{ type: "run", nodeId: "b", attempt: 1, delaySeconds: 0 }]);
  });

  it("ignores a dead letter of a superseded attempt", async () => {
    const d = await decide(
      await queued(),
      { type: "deadLettered", nodeId: "a", attempt: 3, reason: "r" },
      at(9),
    );
    expect(d.changedSteps).toEqual([]);
  });
});

describe("a lapsed lease (the sweeper)", () => {
  it("is a retryable failure of the attempt: the next attempt gets a new number", async () => {
    const s = await claimed();
    const d = await decide(
      s,
      {
        type: "stepFailed",
        nodeId: "a",
        attempt: 1,
        error: { code: "LEASE_EXPIRED", message: "lost" },
        retryable: true,
      },
      at(70),
    );
    expect(stepOf(d.state, "a")).toMatchObject({ status: "queued", attempt: 2 });
    expect(d.commands).toEqual([{ type: "run", nodeId: "a", attempt: 2, delaySeconds: 1 }]);
  });
});
