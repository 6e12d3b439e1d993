import { describe, expect, it } from "vitest";
import { buildContext, decide, getNode, isTerminalJob, retryDelaySeconds } from "#shared/engine/engine";
import {
  apply,
  applyStored,
  at,
  failed,
  newJob,
  start,
  statuses,
  stepOf,
  succeeded,
  T0,
} from "./fixtures.ts";

const diamond = {
  name: "diamond",
  nodes: [
    { id: "a", type: "tool", tool: "t" },
    { id: "b", type: "tool", tool: "t", dependsOn: ["a"] },
    { id: "c", type: "tool", tool: "t", dependsOn: ["a"] },
    { id: "d", type: "tool", tool: "t", dependsOn: ["b", "c"] },
  ],
};

describe("start", () => {
  it("creates a pending step for every node and queues the roots", async () => {
    const d = await start(diamond);

    // Queued, not running, until a worker claims one of its steps.
    expect(d.state.status).toBe("queued");
    expect(d.state.startedAt).toBe(T0.toISOString());
    expect(statuses(d.state)).toEqual({ a: "queued", b: "pending", c: "pending", d: "pending" });
    expect(stepOf(d.state, "a")).toMatchObject({ attempt: 1, queuedAt: T0.toISOString() });
    expect(d.commands).toEqual([{ type: "run", nodeId: "a", attempt: 1, delaySeconds: 0 }]);
    expect(d.changedSteps.map((s) => s.nodeId).sort()).toEqual(["a", "b", "c", "d"]);
    expect(d.jobChanged).toBe(true);
  });

  it("queues every root at once", async () => {
    const d = await start({
      name: "roots",
      nodes: [
        { id: "x", type: "tool", tool: "t" },
        { id: "y", type: "code", code: "return 1" },
      ],
    });

    expect(d.commands.map((c) => c.nodeId).sort()).toEqual(["x", "y"]);
  });

  it("is a no-op when the job has already started", async () => {
    const first = await start(diamond);

    const again = await decide(first.state, { type: "start" }, at(5));

    expect(again.changedSteps).toEqual([]);
    expect(again.commands).toEqual([]);
    expect(again.jobChanged).toBe(false);
  });

  it("fails a job whose graph has a cycle, naming it", async () => {
    const d = await start({
      name: "loop",
      nodes: [
        { id: "a", type: "tool", tool: "t", dependsOn: ["b"] },
        { id: "b", type: "tool", tool: "t", dependsOn: ["a"] },
      ],
    });

    expect(d.state.status).toBe("failed");
    expect(d.state.error?.code).toBe("INVALID_WORKFLOW");
    expect(d.state.error?.message).toContain("a → b → a");
    expect(d.commands).toEqual([]);
  });

  it("does not modify the state it is given", async () => {
    const job = newJob(diamond);
    const copy = structuredClone(job);

    const d = await decide(job, { type: "start" }, T0);
    await decide(d.state, succeeded("a", 1), at(1));

    expect(job).toEqual(copy);
  });
});

describe("parallel branches and joins", () => {
  it("runs siblings together and a join only after all its parents", async () => {
    const s0 = (await start(diamond)).state;

    const afterA = await decide(s0, succeeded("a", { v: 1 }), at(1));
    expect(afterA.commands.map((c) => c.nodeId).sort()).toEqual(["b", "c"]);
    expect(stepOf(afterA.state, "a")).toMatchObject({
      status: "succeeded",
      output: { v: 1 },
      endedAt: at(1).toISOString(),
    });

    const afterB = await decide(afterA.state, succeeded("b", "B"), at(2));
    expect(stepOf(afterB.state, "d").status).toBe("pending");
    expect(afterB.commands).toEqual([]);

    const afterC = await decide(afterB.state, succeeded("c", "C"), at(3));
    expect(afterC.commands).toEqual([{ type: "run", nodeId: "d", attempt: 1, delaySeconds: 0 }]);

    const done = await decide(afterC.state, succeeded("d", "D"), at(4));
    expect(done.state.status).toBe("succeeded");
    expect(done.state.endedAt).toBe(at(4).toISOString());
    expect(done.state.output).toEqual({ d: "D" });
    expect(done.jobChanged).toBe(true);
  });

  it("lists exactly the steps that changed", async () => {
    const s0 = (await start(diamond)).state;

    const d = await decide(s0, succeeded("a", 1), at(1));

    expect(d.changedSteps.map((s) => s.nodeId).sort()).toEqual(["a", "b", "c"]);
  });
});

describe("if and skips", () => {
  const gated = (condition: string) => ({
    name: "gated",
    nodes: [
      { id: "a", type: "tool", tool: "t" },
      { id: "b", type: "tool", tool: "t", dependsOn: ["a"], if: condition },
      { id: "c", type: "tool", tool: "t", dependsOn: ["b"] },
      { id: "other", type: "tool", tool: "t", dependsOn: ["a"] },
      { id: "join", type: "tool", tool: "t", dependsOn: ["b", "other"] },
    ],
  });

  it("skips a node whose condition is false, and its only-child, with notes", async () => {
    const s0 = (await start(gated("{% $steps.a.output.n > 10 %}"))).state;

    const d = await decide(s0, succeeded("a", { n: 3 }), at(1));

    expect(stepOf(d.state, "b").status).toBe("skipped");
    expect(stepOf(d.state, "c").status).toBe("skipped");
    expect(d.notes).toContainEqual({ nodeId: "b", message: expect.stringContaining("condition was false") });
    expect(d.notes).toContainEqual({ nodeId: "c", message: expect.stringContaining("no parent succeeded") });
    expect(d.commands.map((c) => c.nodeId)).toEqual(["other"]);
  });

  it("runs a join when another parent succeeded, even though one was skipped", async () => {
    const s0 = (await start(gated("{% false %}"))).state;

    const d = await apply(s0, [succeeded("a", 1), succeeded("other", 2)], at(2));

    expect(stepOf(d.state, "join").status).toBe("queued");
    const done = await decide(d.state, succeeded("join", 3), at(3));
    expect(done.state.status).toBe("succeeded");
  });

  it("runs a node whose condition is true", async () => {
    const s0 = (await start(gated("{% $steps.a.output.n > 10 %}"))).state;

    const d = await decide(s0, succeeded("a", { n: 11 }), at(1));

    expect(stepOf(d.state, "b").status).toBe("queued");
  });

  it("never sends a run command for a skipped node", async () => {
    const s0 = (await start(gated("{% false %}"))).state;

    const d = await decide(s0, succeeded("a", 1), at(1));

    expect(d.commands.some((c) => c.nodeId === "b" || c.nodeId === "c")).toBe(false);
  });

  it("fails the node, and the job, when the condition cannot be evaluated", async () => {
    const s0 = (await start(gated("{% $undefinedFn() %}"))).state;

    const d = await decide(s0, succeeded("a", 1), at(1));

    expect(stepOf(d.state, "b")).toMatchObject({ status: "failed", error: { code: "EXPRESSION_ERROR" } });
    expect(d.state.status).toBe("failed");
    expect(d.state.error?.message).toContain('node "b"');
    expect(stepOf(d.state, "other").status).toBe("cancelled");
  });

  it("sends no run command for a sibling queued earlier in a decision that then fails the job", async () => {
    const s0 = (
      await start({
        name: "siblings",
        nodes: [
          { id: "a", type: "tool", tool: "t" },
          { id: "first", type: "tool", tool: "t", dependsOn: ["a"] },
          { id: "second", type: "tool", tool: "t", dependsOn: ["a"], if: "{% $nope() %}" },
        ],
      })
    ).state;

    const d = await decide(s0, succeeded("a", 1), at(1));

    expect(d.state.status).toBe("failed");
    expect(stepOf(d.state, "first").status).toBe("cancelled");
    expect(d.commands).toEqual([]);
  });

  it("goes on past a condition error when the node continues on error", async () => {
    const def = gated("{% $undefinedFn() %}");
    (def.nodes[1] as Record<string, unknown>).onError = "continue";
    const s0 = (await start(def)).state;

    const d = await decide(s0, succeeded("a", 1), at(1));

    expect(stepOf(d.state, "b").status).toBe("failed");
    expect(stepOf(d.state, "c").status).toBe("queued");
    expect(d.state.status).toBe("running");
  });

  it("skips every node of a chain whose root condition is false and still succeeds", async () => {
    const d = await start({
      name: "all-skipped",
      nodes: [
        { id: "a", type: "tool", tool: "t", if: "{% $input.go %}" },
        { id: "b", type: "tool", tool: "t", dependsOn: ["a"] },
      ],
    });

    expect(statuses(d.state)).toEqual({ a: "skipped", b: "skipped" });
    expect(d.state.status).toBe("succeeded");
    expect(d.state.output).toEqual({});
  });
});

describe("forEach", () => {
  const fanOut = (extra: Record<string, unknown> = {}) => ({
    name: "fan",
    nodes: [
      { id: "each", type: "code", code: "return item * 2", forEach: "{% $input.ids %}", ...extra },
      {
        id: "after",
        type: "tool",
        tool: "t",
        dependsOn: ["each"],
        input: { all: "{% $steps.each.output %}" },
      },
    ],
  });

  it("fans out one queued step per item", async () => {
    const d = await start(fanOut(), { ids: [10, 20, 30] });

    expect(stepOf(d.state, "each")).toMatchObject({ status: "running", items: 3, input: [10, 20, 30] });
    expect([0, 1, 2].map((i) => stepOf(d.state, "each", i))).toMatchObject([
      { status: "queued", attempt: 1, itemIndex: 0 },
      { status: "queued", attempt: 1, itemIndex: 1 },
      { status: "queued", attempt: 1, itemIndex: 2 },
    ]);
    expect(d.commands).toEqual(
      [0, 1, 2].map((i) => ({ type: "run", nodeId: "each", itemIndex: i, attempt: 1, delaySeconds: 0 })),
    );
    // Its items are claimed in their chunks, never on the job item: a job that fans out at once is running.
    expect(d.state.status).toBe("running");
  });

  it("gives each item its $item and $index", async () => {
    const d = await start(fanOut(), { ids: [10, 20, 30] });

    const ctx = buildContext(d.state, { nodeId: "each", itemIndex: 1, attempt: 1 });

    expect(ctx).toMatchObject({ item: 20, index: 1, attempt: 1, input: { ids: [10, 20, 30] } });
    expect(ctx.job).toEqual({
      id: "job-1",
      tenantId: "tenant-1",
      createdAt: T0.toISOString(),
      workflowName: "fan",
    });
  });

  it("joins item outputs in item order, whatever order they finish in", async () => {
    const s0 = (await start(fanOut(), { ids: [10, 20, 30] })).state;

    const d = await applyStored(
      s0,
      [succeeded("each", 60, 1, 2), succeeded("each", 20, 1, 0), succeeded("each", 40, 1, 1)],
      at(1),
    );

    expect(stepOf(d.state, "each")).toMatchObject({ status: "succeeded", output: [20, 40, 60] });
    expect(stepOf(d.state, "after").status).toBe("queued");
    expect(buildContext(d.state).steps?.each?.output).toEqual([20, 40, 60]);
  });

  it("completes an empty fan-out at once with []", async () => {
    const d = await start(fanOut(), { ids: [] });

    expect(stepOf(d.state, "each")).toMatchObject({ status: "succeeded", output: [], items: 0 });
    expect(d.commands).toEqual([{ type: "run", nodeId: "after", attempt: 1, delaySeconds: 0 }]);
  });

  it("fails clearly when forEach does not give an array", async () => {
    const d = await start(fanOut(), { ids: "nope" });

    expect(stepOf(d.state, "each").error).toEqual({
      code: "FOREACH_NOT_ARRAY",
      message: "forEach must give an array, got a string",
    });
    expect(d.state.status).toBe("failed");
  });

  it("fails the node and the job when an item fails, cancelling the items not yet done", async () => {
    const s0 = (await start(fanOut(), { ids: [1, 2, 3] })).state;

    const d = await applyStored(s0, [failed("each", { itemIndex: 1, retryable: false })], at(1));

    expect(stepOf(d.state, "each", 1).status).toBe("failed");
    expect(stepOf(d.state, "each")).toMatchObject({ status: "failed", error: { code: "BOOM" } });
    expect(stepOf(d.state, "each", 0).status).toBe("cancelled");
    expect(stepOf(d.state, "after").status).toBe("cancelled");
    expect(d.state.status).toBe("failed");
    expect(d.state.error?.message).toContain("item 1 failed");
  });

  it("puts { error } in place of a failed item when the node continues on error", async () => {
    const s0 = (await start(fanOut({ onError: "continue" }), { ids: [1, 2] })).state;

    const d = await applyStored(
      s0,
      [failed("each", { itemIndex: 0, retryable: false }), succeeded("each", 4, 1, 1)],
      at(1),
    );

    expect(stepOf(d.state, "each")).toMatchObject({
      status: "succeeded",
      output: [{ error: { code: "BOOM", message: "it broke" } }, 4],
    });
    expect(stepOf(d.state, "after").status).toBe("queued");
  });

  it("retries an item on its own", async () => {
    const s0 = (
      await start(fanOut({ retry: { maxAttempts: 2, intervalSeconds: 1, jitter: false } }), { ids: [1, 2] })
    ).state;

    const d = await decide(s0, failed("each", { itemIndex: 0 }), at(1));

    expect(stepOf(d.state, "each", 0)).toMatchObject({ status: "queued", attempt: 2 });
    expect(d.commands).toEqual([{ type: "run", nodeId: "each", itemIndex: 0, attempt: 2, delaySeconds: 1 }]);
  });

  it("ignores results aimed at the forEach node's own step", async () => {
    const s0 = (await start(fanOut(), { ids: [1, 2] })).state;

    const d = await apply(s0, [succeeded("each", "bogus"), failed("each", { retryable: false })], at(1));

    expect(d.changedSteps).toEqual([]);
    expect(stepOf(d.state, "each")).toMatchObject({ status: "running", items: 2 });
  });

  it("evaluates if for the node as a whole, before fanning out", async () => {
    const d = await start(fanOut({ if: "{% $count($input.ids) > 5 %}" }), { ids: [1, 2] });

    expect(stepOf(d.state, "each").status).toBe("skipped");
    expect(d.state.steps["each#0"]).toBeUndefined();
  });
});

describe("retries", () => {
  const flaky = (retry: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    name: "flaky",
    nodes: [{ id: "f", type: "tool", tool: "t", retry, ...extra }],
  });

  it("re-queues with growing delays until maxAttempts, then fails the job", async () => {
    let s = (await start(flaky({ maxAttempts: 3, intervalSeconds: 2, backoffRate: 2, jitter: false }))).state;

    const first = await decide(s, failed("f", { attempt: 1 }), at(10));
    expect(stepOf(first.state, "f")).toMatchObject({
      status: "queued",
      attempt: 2,
      notBefore: at(12).toISOString(),
      error: { code: "BOOM" },
    });
    expect(first.commands).toEqual([{ type: "run", nodeId: "f", attempt: 2, delaySeconds: 2 }]);
    s = first.state;

    const second = await decide(s, failed("f", { attempt: 2 }), at(20));
    expect(second.commands).toEqual([{ type: "run", nodeId: "f", attempt: 3, delaySeconds: 4 }]);
    s = second.state;

    const third = await decide(s, failed("f", { attempt: 3 }), at(30));
    expect(stepOf(third.state, "f")).toMatchObject({ status: "failed", attempt: 3 });
    expect(third.commands).toEqual([]);
    expect(third.state.status).toBe("failed");
    expect(third.state.error).toEqual({ code: "BOOM", message: 'node "f" failed: it broke' });
  });

  it("fails at once on a non-retryable error", async () => {
    const s = (await start(flaky({ maxAttempts: 5 }))).state;

    const d = await decide(s, failed("f", { retryable: false }), at(1));

    expect(stepOf(d.state, "f")).toMatchObject({ status: "failed", attempt: 1 });
    expect(d.state.status).toBe("failed");
  });

  it("makes one attempt when the node has no retry policy", async () => {
    const s = (await start({ name: "once", nodes: [{ id: "f", type: "tool", tool: "t" }] })).state;

    const d = await decide(s, failed("f"), at(1));

    expect(stepOf(d.state, "f").status).toBe("failed");
  });

  it("caps the message delay at 900 s but keeps the true notBefore", async () => {
    const s = (await start(flaky({ maxAttempts: 2, intervalSeconds: 3600, jitter: false }))).state;

    const d = await decide(s, failed("f"), T0);

    expect(d.commands).toEqual([{ type: "run", nodeId: "f", attempt: 2, delaySeconds: 900 }]);
    expect(stepOf(d.state, "f").notBefore).toBe(at(3600).toISOString());
  });

  it("uses the injected randomness for jitter", async () => {
    const s = (await start(flaky({ maxAttempts: 2, intervalSeconds: 10 }))).state;

    const d = await decide(s, failed("f"), T0, { random: () => 0.5 });

    expect(d.commands).toEqual([{ type: "run", nodeId: "f", attempt: 2, delaySeconds: 8 }]);
    expect(stepOf(d.state, "f").notBefore).toBe(at(7.5).toISOString());
  });
});

describe("retryDelaySeconds", () => {
  const noJitter = { intervalSeconds: 2, backoffRate: 3, jitter: false };

  it("grows as interval × rate^(attempt-1)", () => {
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(noJitter, n))).toEqual([2, 6, 18, 54]);
  });

  it("never goes above maxIntervalSeconds", () => {
    expect(retryDelaySeconds({ ...noJitter, maxIntervalSeconds: 10 }, 4)).toBe(10);
  });

  it("keeps jittered delays within [half, all] of the capped delay", () => {
    const policy = { intervalSeconds: 2, backoffRate: 2, maxIntervalSeconds: 5, jitter: true };

    expect(retryDelaySeconds(policy, 3, () => 0)).toBe(2.5);
    expect(retryDelaySeconds(policy, 3, () => 0.999999)).toBeLessThanOrEqual(5);
    expect(retryDelaySeconds(policy, 3, () => 0.999999)).toBeGreaterThan(4.99);
    expect(retryDelaySeconds(policy, 1, () => 0.5)).toBe(1.5);
  });

  it("never waits longer than a day, however steep the backoff", () => {
    expect(retryDelaySeconds({ intervalSeconds: 86_400, backoffRate: 10, jitter: false }, 20)).toBe(86_400);
  });

  it("uses the schema defaults when there is no policy", () => {
    expect(retryDelaySeconds(undefined, 1, () => 1)).toBe(1);
  });
});

describe("onError continue", () => {
  it("records { error } as output and lets dependents run", async () => {
    const s0 = (
      await start({
        name: "cont",
        nodes: [
          { id: "a", type: "tool", tool: "t", onError: "continue" },
          {
            id: "b",
            type: "tool",
            tool: "t",
            dependsOn: ["a"],
            input: { why: "{% $steps.a.output.error.code %}" },
          },
        ],
      })
    ).state;

    const d = await decide(s0, failed("a", { retryable: false }), at(1));

    expect(stepOf(d.state, "a")).toMatchObject({
      status: "failed",
      output: { error: { code: "BOOM", message: "it broke" } },
    });
    expect(stepOf(d.state, "b").status).toBe("queued");
    const done = await decide(d.state, succeeded("b", "ok"), at(2));
    expect(done.state.status).toBe("succeeded");
  });
});

describe("wait", () => {
  const waiting = (wait: Record<string, unknown>) => ({
    name: "w",
    nodes: [
      { id: "pause", type: "wait", ...wait },
      { id: "next", type: "tool", tool: "t", dependsOn: ["pause"] },
    ],
  });

  it("waits durably, then goes on once the time has come", async () => {
    const d = await start(waiting({ seconds: 60 }));
    expect(stepOf(d.state, "pause")).toMatchObject({
      status: "waiting",
      attempt: 1,
      notBefore: at(60).toISOString(),
    });
    expect(d.commands).toEqual([{ type: "run", nodeId: "pause", attempt: 1, delaySeconds: 60 }]);
    expect(d.state.status).toBe("waiting");

    const early = await decide(d.state, { type: "waitElapsed", nodeId: "pause" }, at(45));
    expect(early.changedSteps).toEqual([]);
    expect(early.commands).toEqual([{ type: "run", nodeId: "pause", attempt: 1, delaySeconds: 15 }]);

    const due = await decide(d.state, { type: "waitElapsed", nodeId: "pause" }, at(60));
    expect(stepOf(due.state, "pause")).toMatchObject({
      status: "succeeded",
      output: { waitedUntil: at(60).toISOString() },
    });
    expect(due.commands).toEqual([{ type: "run", nodeId: "next", attempt: 1, delaySeconds: 0 }]);
    expect(due.state.status).toBe("running");
  });

  it("caps each message delay at 900 s", async () => {
    const d = await start(waiting({ seconds: 3600 }));

    expect(d.commands).toEqual([{ type: "run", nodeId: "pause", attempt: 1, delaySeconds: 900 }]);
    const again = await decide(d.state, { type: "waitElapsed", nodeId: "pause" }, at(900));
    expect(again.commands).toEqual([{ type: "run", nodeId: "pause", attempt: 1, delaySeconds: 900 }]);
  });

  it("evaluates seconds and until expressions", async () => {
    const bySeconds = await start(waiting({ seconds: "{% $input.delay * 2 %}" }), { delay: 5 });
    expect(stepOf(bySeconds.state, "pause").notBefore).toBe(at(10).toISOString());

    const byUntil = await start(waiting({ until: "{% $input.when %}" }), { when: at(120).toISOString() });
    expect(stepOf(byUntil.state, "pause").notBefore).toBe(at(120).toISOString());
  });

  it("fails the node when seconds is not a number", async () => {
    const d = await start(waiting({ seconds: "{% 'soon' %}" }));

    expect(stepOf(d.state, "pause")).toMatchObject({ status: "failed", error: { code: "INVALID_WAIT" } });
    expect(d.state.status).toBe("failed");
  });

  it("fails the node when the wait would end beyond any valid date", async () => {
    const d = await start(waiting({ seconds: "{% 1e300 %}" }));

    expect(stepOf(d.state, "pause")).toMatchObject({ status: "failed", error: { code: "INVALID_WAIT" } });
  });

  it("ignores waitElapsed for a step that is not waiting", async () => {
    const d = await start(waiting({ seconds: 1 }));
    const done = await decide(d.state, { type: "waitElapsed", nodeId: "pause" }, at(2));

    const dup = await decide(done.state, { type: "waitElapsed", nodeId: "pause" }, at(3));

    expect(dup.changedSteps).toEqual([]);
    expect(dup.commands).toEqual([]);
  });
});

describe("approval", () => {
  const gate = (extra: Record<string, unknown> = {}) => ({
    name: "g",
    nodes: [
      { id: "gate", type: "approval", message: "Publish {% $input.title %}?", ...extra },
      { id: "publish", type: "tool", tool: "t", dependsOn: ["gate"] },
    ],
  });

  it("asks for a decision with the resolved message", async () => {
    const d = await start(gate(), { title: "the post" });

    expect(stepOf(d.state, "gate")).toMatchObject({ status: "waiting_approval", attempt: 1 });
    expect(d.commands).toEqual([{ type: "requestApproval", nodeId: "gate", message: "Publish the post?" }]);
    expect(d.state.status).toBe("waiting");
  });

  it("goes on when approved", async () => {
    const s = (await start(gate())).state;

    const d = await decide(s, { type: "approvalDecided", nodeId: "gate", decision: "approve" }, at(1));

    expect(stepOf(d.state, "gate")).toMatchObject({ status: "succeeded", output: { decision: "approve" } });
    expect(stepOf(d.state, "publish").status).toBe("queued");
  });

  it("fails the node, and the job, when rejected", async () => {
    const s = (await start(gate())).state;

    const d = await decide(s, { type: "approvalDecided", nodeId: "gate", decision: "reject" }, at(1));

    expect(stepOf(d.state, "gate")).toMatchObject({ status: "failed", error: { code: "REJECTED" } });
    expect(d.state.status).toBe("failed");
    expect(stepOf(d.state, "publish").status).toBe("cancelled");
  });

  it("skips the node, and what depends only on it, when rejected with onReject skip", async () => {
    const s = (await start(gate({ onReject: "skip" }))).state;

    const d = await decide(s, { type: "approvalDecided", nodeId: "gate", decision: "reject" }, at(1));

    expect(statuses(d.state)).toEqual({ gate: "skipped", publish: "skipped" });
    expect(d.state.status).toBe("succeeded");
  });

  it("ignores a second decision", async () => {
    const s = (await start(gate())).state;
    const d = await decide(s, { type: "approvalDecided", nodeId: "gate", decision: "approve" }, at(1));

    const again = await decide(
      d.state,
      { type: "approvalDecided", nodeId: "gate", decision: "reject" },
      at(2),
    );

    expect(again.changedSteps).toEqual([]);
    expect(again.jobChanged).toBe(false);
  });
});

describe("agent review", () => {
  const reviewed = (review: Record<string, unknown>) => ({
    name: "r",
    nodes: [
      { id: "sum", type: "agent", agent: "summarizer", review },
      { id: "next", type: "tool", tool: "t", dependsOn: ["sum"] },
    ],
  });
  const output = (confidence?: number) => ({ text: "summary", toolCalls: [], usage: {}, confidence });

  it("goes on at or above autoApproveAt", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9, notifyAt: 0.7 }))).state;

    const d = await decide(s, succeeded("sum", output(0.9)), at(1));

    expect(stepOf(d.state, "sum").status).toBe("succeeded");
    expect(d.notes.some((n) => n.message.includes("approval.notice"))).toBe(false);
  });

  it("goes on with a notice between notifyAt and autoApproveAt", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9, notifyAt: 0.7 }))).state;

    const d = await decide(s, succeeded("sum", output(0.8)), at(1));

    expect(stepOf(d.state, "sum").status).toBe("succeeded");
    expect(d.notes).toContainEqual({
      nodeId: "sum",
      message: expect.stringMatching(/approval\.notice.*0\.8/),
    });
    expect(stepOf(d.state, "next").status).toBe("queued");
  });

  it("asks for approval below notifyAt and keeps the agent's output when approved", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9, notifyAt: 0.7 }))).state;

    const d = await decide(s, succeeded("sum", output(0.5)), at(1));
    expect(stepOf(d.state, "sum")).toMatchObject({ status: "waiting_approval", output: output(0.5) });
    expect(d.commands).toEqual([
      {
        type: "requestApproval",
        nodeId: "sum",
        message: expect.any(String),
        confidence: 0.5,
        preview: output(0.5),
      },
    ]);
    expect(d.state.status).toBe("waiting");

    const approved = await decide(
      d.state,
      { type: "approvalDecided", nodeId: "sum", decision: "approve" },
      at(2),
    );
    expect(stepOf(approved.state, "sum")).toMatchObject({ status: "succeeded", output: output(0.5) });
    expect(stepOf(approved.state, "next").status).toBe("queued");
  });

  it("asks for approval below autoApproveAt when there is no notifyAt", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9 }))).state;

    const d = await decide(s, succeeded("sum", output(0.85)), at(1));

    expect(stepOf(d.state, "sum").status).toBe("waiting_approval");
  });

  it("asks for approval when the agent reports no confidence", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9 }))).state;

    const d = await decide(s, succeeded("sum", output()), at(1));

    expect(stepOf(d.state, "sum").status).toBe("waiting_approval");
    expect(d.commands[0]).not.toHaveProperty("confidence");
  });

  it("fails the node when the reviewer rejects", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9 }))).state;
    const d = await decide(s, succeeded("sum", output(0.1)), at(1));

    const rejected = await decide(
      d.state,
      { type: "approvalDecided", nodeId: "sum", decision: "reject" },
      at(2),
    );

    expect(stepOf(rejected.state, "sum")).toMatchObject({ status: "failed", error: { code: "REJECTED" } });
    expect(rejected.state.status).toBe("failed");
  });

  it("treats a re-delivered agent result as a duplicate while approval is pending", async () => {
    const s = (await start(reviewed({ autoApproveAt: 0.9 }))).state;
    const d = await decide(s, succeeded("sum", output(0.1)), at(1));

    const dup = await decide(d.state, succeeded("sum", output(0.1)), at(2));

    expect(dup.changedSteps).toEqual([]);
    expect(dup.commands).toEqual([]);
  });
});

describe("cancel and timeout", () => {
  const two = {
    name: "two",
    nodes: [
      { id: "long", type: "agent", agent: "researcher", runtime: "fargate" },
      { id: "short", type: "tool", tool: "t" },
      { id: "after", type: "tool", tool: "t", dependsOn: ["long", "short"] },
    ],
  };

  async function running() {
    // The worker claimed "long" and started its task.
    return (
      await apply(
        (
          await start(two)
        ).state,
        [
          { type: "claim", nodeId: "long", attempt: 1, leaseSeconds: 180 },
          { type: "taskStarted", nodeId: "long", attempt: 1, taskArn: "arn:task/1" },
        ],
        at(1),
      )
    ).state;
  }

  it("cancels every unfinished step and stops fargate tasks", async () => {
    const s = await running();

    const d = await decide(s, { type: "cancel", reason: "user asked" }, at(5));

    expect(d.state.status).toBe("cancelled");
    expect(d.state.error).toEqual({ code: "CANCELLED", message: "user asked" });
    expect(statuses(d.state)).toEqual({ long: "cancelled", short: "cancelled", after: "cancelled" });
    expect(d.commands).toEqual([{ type: "stopTask", nodeId: "long", taskArn: "arn:task/1" }]);
  });

  it("ignores results that arrive after a cancel, and a second cancel", async () => {
    const cancelled = (await decide(await running(), { type: "cancel" }, at(5))).state;

    const late = await decide(cancelled, succeeded("short", 1), at(6));
    const again = await decide(cancelled, { type: "cancel" }, at(7));

    for (const d of [late, again]) {
      expect(d.changedSteps).toEqual([]);
      expect(d.commands).toEqual([]);
      expect(d.jobChanged).toBe(false);
    }
  });

  it("times the job out the same way", async () => {
    const d = await decide(await running(), { type: "jobTimedOut" }, at(5));

    expect(d.state.status).toBe("timed_out");
    expect(d.state.error?.code).toBe("JOB_TIMEOUT");
    expect(statuses(d.state)).toEqual({ long: "cancelled", short: "cancelled", after: "cancelled" });
    expect(d.commands).toEqual([{ type: "stopTask", nodeId: "long", taskArn: "arn:task/1" }]);
  });

  it("on failure leaves running steps alone but stops their fargate tasks", async () => {
    const s = await running();

    const d = await decide(s, failed("short", { retryable: false }), at(5));

    expect(d.state.status).toBe("failed");
    expect(statuses(d.state)).toEqual({ long: "running", short: "failed", after: "cancelled" });
    expect(d.commands).toEqual([{ type: "stopTask", nodeId: "long", taskArn: "arn:task/1" }]);
    const late = await decide(d.state, succeeded("long", { text: "x" }), at(6));
    expect(late.changedSteps).toEqual([]);
  });
});

describe("retry after failure", () => {
  it("keeps what succeeded and re-runs the failed node, going on with its attempt numbers", async () => {
    const def = {
      name: "again",
      nodes: [
        { id: "a", type: "tool", tool: "t" },
        { id: "b", type: "tool", tool: "t", dependsOn: ["a"] },
        { id: "c", type: "tool", tool: "t", dependsOn: ["a"], if: "{% false %}" },
        { id: "d", type: "tool", tool: "t", dependsOn: ["b"] },
      ],
    };
    const s0 = (await start(def)).state;
    const broken = await apply(s0, [succeeded("a", "A"), failed("b", { retryable: false })], at(1));
    expect(broken.state.status).toBe("failed");

    const d = await decide(broken.state, { type: "retry" }, at(10));

    expect(d.state.status).toBe("running");
    expect(d.state.error).toBeUndefined();
    expect(stepOf(d.state, "a")).toMatchObject({ status: "succeeded", output: "A" });
    expect(stepOf(d.state, "c").status).toBe("skipped");
    expect(stepOf(d.state, "b")).toMatchObject({ status: "queued", attempt: 2 });
    expect(stepOf(d.state, "b").error).toBeUndefined();
    expect(stepOf(d.state, "d").status).toBe("pending");
    expect(d.commands).toEqual([{ type: "run", nodeId: "b", attempt: 2, delaySeconds: 0 }]);

    const done = await apply(d.state, [succeeded("b", "B", 2), succeeded("d", "D")], at(11));
    expect(done.state.status).toBe("succeeded");
    expect(done.state.output).toEqual({ d: "D" });
  });

  it("re-runs only the failed items of a forEach node", async () => {
    const def = {
      name: "items",
      nodes: [{ id: "each", type: "code", code: "return item", forEach: "{% $input.ids %}" }],
    };
    const s0 = (await start(def, { ids: [1, 2, 3] })).state;
    const broken = await applyStored(
      s0,
      [succeeded("each", "one", 1, 0), failed("each", { itemIndex: 1, retryable: false })],
      at(1),
    );
    expect(statuses(broken.state)).toMatchObject({
      each: "failed",
      "each#0": "succeeded",
      "each#1": "failed",
      "each#2": "cancelled",
    });

    const d = await decide(broken.state, { type: "retry" }, at(10));

    expect(stepOf(d.state, "each")).toMatchObject({ status: "running", items: 3 });
    expect(stepOf(d.state, "each", 0)).toMatchObject({ status: "succeeded", output: "one" });
    // Both items had an attempt 1 (item 2's was queued when the job failed): each goes on with attempt 2.
    expect(d.commands).toEqual([
      { type: "run", nodeId: "each", itemIndex: 1, attempt: 2, delaySeconds: 0 },
      { type: "run", nodeId: "each", itemIndex: 2, attempt: 2, delaySeconds: 0 },
    ]);
    const done = await applyStored(
      d.state,
      [succeeded("each", "two", 2, 1), succeeded("each", "three", 2, 2)],
      at(11),
    );
    expect(done.state.output).toEqual({ each: ["one", "two", "three"] });
  });

  it("does not re-run a cancelled job", async () => {
    const s0 = (await start(diamond)).state;
    const cancelled = (await decide(s0, { type: "cancel" }, at(1))).state;

    const d = await decide(cancelled, { type: "retry" }, at(2));

    expect(d.state.status).toBe("cancelled");
    expect(d.changedSteps).toEqual([]);
    expect(d.commands).toEqual([]);
  });

  it("gives a step failed on every retry a new attempt number each time, with a fresh retry budget", async () => {
    const def = {
      name: "twice",
      nodes: [
        { id: "f", type: "tool", tool: "t", retry: { maxAttempts: 2, intervalSeconds: 1, jitter: false } },
      ],
    };
    let s = (await start(def)).state;
    const seen: number[] = [];
    for (let run = 0; run < 3; run++) {
      for (let i = 0; i < 2; i++) {
        const attempt = stepOf(s, "f").attempt;
        seen.push(attempt);
        s = (await decide(s, failed("f", { attempt }), at(10 * run + i))).state;
      }
      expect(s.status).toBe("failed");
      s = (await decide(s, { type: "retry" }, at(10 * run + 5))).state;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(stepOf(s, "f")).toMatchObject({ status: "queued", attempt: 7 });
  });

  it("is a no-op for a running or succeeded job", async () => {
    const s0 = (await start(diamond)).state;

    const d = await decide(s0, { type: "retry" }, at(1));

    expect(d.changedSteps).toEqual([]);
    expect(d.jobChanged).toBe(false);
  });
});

describe("duplicate and stale events", () => {
  it("ignores a duplicate success", async () => {
    const s = (await apply((await start(diamond)).state, [succeeded("a", 1)], at(1))).state;

    const dup = await decide(s, succeeded("a", 1), at(2));

    expect(dup.changedSteps).toEqual([]);
    expect(dup.commands).toEqual([]);
    expect(dup.jobChanged).toBe(false);
    expect(dup.state).toEqual(s);
  });

  it("ignores a result for a superseded attempt", async () => {
    const def = {
      name: "r",
      nodes: [{ id: "f", type: "tool", tool: "t", retry: { maxAttempts: 3, jitter: false } }],
    };
    const s = (await apply((await start(def)).state, [failed("f", { attempt: 1 })], at(1))).state;

    const staleFail = await decide(s, failed("f", { attempt: 1 }), at(2));
    const staleOk = await decide(s, succeeded("f", "late", 1), at(2));

    for (const d of [staleFail, staleOk]) {
      expect(d.changedSteps).toEqual([]);
      expect(d.commands).toEqual([]);
    }
    expect(stepOf(staleOk.state, "f")).toMatchObject({ status: "queued", attempt: 2 });
  });

  it("ignores events for unknown nodes and for steps never queued", async () => {
    const s = (await start(diamond)).state;

    const unknown = await decide(s, succeeded("nope", 1), at(1));
    const pending = await decide(s, succeeded("d", 1, 0), at(1));

    expect(unknown.changedSteps).toEqual([]);
    expect(pending.changedSteps).toEqual([]);
  });

  it("takes step events for a started job the stores still show as queued", async () => {
    const s = (await start(diamond)).state;
    s.status = "queued";

    const d = await decide(s, succeeded("a", 1), at(1));

    expect(d.state.status).toBe("running");
    expect(d.commands.map((c) => c.nodeId).sort()).toEqual(["b", "c"]);
    const again = await decide(s, { type: "start" }, at(1));
    expect(again.changedSteps).toEqual([]);
    expect(again.jobChanged).toBe(false);
  });

  it("ignores step events before the job starts", async () => {
    const d = await decide(newJob(diamond), succeeded("a", 1), T0);

    expect(d.changedSteps).toEqual([]);
    expect(d.state.status).toBe("queued");
  });
});

describe("job output", () => {
  it("maps the declared output with expressions", async () => {
    const def = {
      name: "out",
      nodes: [
        { id: "a", type: "tool", tool: "t" },
        { id: "b", type: "tool", tool: "t", dependsOn: ["a"] },
      ],
      output: { summary: "{% $steps.b.output.text %}", note: "from {% $job.workflowName %}", n: 1 },
    };
    const s = (await start(def)).state;

    const d = await apply(s, [succeeded("a", {}), succeeded("b", { text: "hello" })], at(1));

    expect(d.state.output).toEqual({ summary: "hello", note: "from out", n: 1 });
  });

  it("fails the job with OUTPUT_ERROR when the output cannot be evaluated", async () => {
    const def = { name: "bad", nodes: [{ id: "a", type: "tool", tool: "t" }], output: "{% $nope() %}" };
    const s = (await start(def)).state;

    const d = await decide(s, succeeded("a", 1), at(1));

    expect(d.state.status).toBe("failed");
    expect(d.state.error?.code).toBe("OUTPUT_ERROR");
  });
});

describe("helpers", () => {
  it("finds nodes and tells terminal job statuses", async () => {
    const s = (await start(diamond)).state;

    expect(getNode(s, "c")?.dependsOn).toEqual(["a"]);
    expect(getNode(s, "zz")).toBeUndefined();
    expect(["succeeded", "failed", "cancelled", "timed_out"].every((x) => isTerminalJob(x as never))).toBe(
      true,
    );
    expect(["queued", "running", "waiting"].some((x) => isTerminalJob(x as never))).toBe(false);
  });

  it("builds $steps with status and output for the worker", async () => {
    const s = (await apply((await start(diamond)).state, [succeeded("a", { v: 1 })], at(1))).state;

    const ctx = buildContext(s, { nodeId: "b", attempt: 2 });

    expect(ctx.steps?.a).toEqual({ status: "succeeded", output: { v: 1 } });
    expect(ctx.steps?.b?.status).toBe("queued");
    expect(ctx.attempt).toBe(2);
    expect(ctx.item).toBeUndefined();
  });
});
