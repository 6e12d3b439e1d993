import { afterEach, describe, expect, it } from "vitest";
import { NODE_TYPES, WorkflowNode } from "#events/workflow";
import { decide } from "#shared/engine/engine";
import {
  type BaseNode,
  type NodeKind,
  type NodeRunner,
  nodeKind,
  nodeKinds,
  registerNodeKind,
} from "#shared/engine/nodes/index";
import { nodeRunner, registerNodeRunner } from "#shared/engine/nodes/runners";
import type { EngineEvent, JobState } from "#shared/engine/types";
import { validateWorkflow } from "#shared/engine/validate";
import { executeStep } from "#shared/jobs/run-step";
import { at, stepOf, T0 } from "./fixtures.ts";

/** A node type the schema does not know: everything about it is in this one object. */
type Echo = BaseNode & { type: "echo"; say: string; hold?: boolean; pause?: number };

const runs: { nodeId: string; attempt: number; input: unknown; item: unknown }[] = [];

const echoKind: NodeKind<Echo> = {
  type: "echo",
  retryable: false,
  inline: true,
  runtimes: ["lambda"],
  needsPerson: false,
  validate(node, check) {
    if (node.say.trim() === "") check.problem(["say"], "say must not be empty");
    check.template(node.say, ["say"]);
  },
  async start(node, { now }) {
    return node.pause === undefined ? { type: "queue" } : { type: "wait", until: now.getTime() + node.pause };
  },
  review(node, output, label) {
    return node.hold
      ? { type: "review", message: `look at ${label}`, preview: output, note: `${label} held` }
      : { type: "accept" };
  },
};

/** Its runner, which only the step runner's registry knows. */
const runEcho: NodeRunner<Echo> = async ({ node, attempt, input, context }) => {
  runs.push({ nodeId: node.id, attempt, input, item: context.item });
  if (node.say === "fail")
    return { ok: false, error: { code: "ECHO", message: "asked to" }, retryable: true };
  return { ok: true, output: { said: node.say, input } };
};

function job(nodes: unknown[], input: unknown = {}): JobState {
  return {
    jobId: "job-1",
    tenantId: "tenant-1",
    status: "queued",
    definition: { name: "echoes", nodes: nodes as WorkflowNode[] },
    input,
    steps: {},
    createdAt: T0.toISOString(),
  };
}

/** What the worker does with one run command: claim it, run it through the registry, record the outcome. */
async function work(state: JobState, nodeId: string, attempt: number, now: Date, itemIndex?: number) {
  const where = { nodeId, attempt, ...(itemIndex === undefined ? {} : { itemIndex }) };
  const claimed = await decide(state, { type: "claim", ...where, leaseSeconds: 60 }, now);
  expect(claimed.changedSteps, `claim of ${nodeId}`).toHaveLength(1);
  const outcome = await executeStep(claimed.state, nodeId, itemIndex, attempt);
  const event: EngineEvent = outcome.ok
    ? { type: "stepSucceeded", ...where, output: outcome.output }
    : { type: "stepFailed", ...where, error: outcome.error, retryable: outcome.retryable };
  return decide(claimed.state, event, now);
}

let unregister: (() => void)[] = [];
afterEach(() => {
  for (const undo of unregister) undo();
  unregister = [];
  runs.length = 0;
});

function registerEcho(): void {
  unregister.push(registerNodeKind(echoKind), registerNodeRunner("echo", runEcho));
}

describe("the node-kind registry", () => {
  it("has an entry for every node type of the workflow schema, holding that type's schema", () => {
    expect(NODE_TYPES).toEqual(["code", "tool", "agent", "approval", "wait"]);
    for (const [i, type] of NODE_TYPES.entries()) {
      const kind = nodeKind(type);
      expect(kind?.type, type).toBe(type);
      expect(kind?.schema, `${type} schema`).toBe(WorkflowNode.options[i]);
    }
    expect(nodeKinds().map((kind) => kind.type)).toEqual(NODE_TYPES);
  });

  it("says which kinds retry, run inline, run where, and wait for a person", () => {
    const flags = Object.fromEntries(
      nodeKinds().map((k) => [
        k.type,
        { retryable: k.retryable, inline: k.inline, runtimes: k.runtimes, needsPerson: k.needsPerson },
      ]),
    );
    const worker = { retryable: true, inline: true, runtimes: ["lambda", "fargate"], needsPerson: false };
    expect(flags).toEqual({
      code: worker,
      tool: worker,
      agent: worker,
      approval: { retryable: false, inline: false, runtimes: [], needsPerson: true },
      wait: { retryable: false, inline: false, runtimes: [], needsPerson: false },
    });
    // A kind that runs somewhere has a runner; one the engine completes itself has none.
    for (const kind of nodeKinds())
      expect(nodeRunner(kind.type) !== undefined, kind.type).toBe(kind.runtimes.length > 0);
  });

  it("refuses to replace a built-in kind or to register a type twice", () => {
    expect(() => registerNodeKind({ ...echoKind, type: "code" } as never)).toThrow(/built in/);
    registerEcho();
    expect(() => registerNodeKind(echoKind)).toThrow(/already registered/);
    expect(() => registerNodeRunner("echo", runEcho)).toThrow(/already has a runner/);
  });
});

describe("a kind registered from one file", () => {
  it("is validated by its own hook, and unknown until registered", () => {
    const def = job([{ id: "a", type: "echo", say: "  " }]).definition;
    expect(validateWorkflow(def)).toEqual([
      {
        nodeId: "a",
        path: ["nodes", 0, "type"],
        message: 'unknown node type "echo" (expected code, tool, agent, approval, wait)',
      },
    ]);

    registerEcho();
    expect(validateWorkflow(def)).toEqual([
      { nodeId: "a", path: ["nodes", 0, "say"], message: "say must not be empty" },
    ]);
    const bad = job([{ id: "a", type: "echo", say: "{% $steps.zz %}" }]).definition;
    expect(validateWorkflow(bad)).toEqual([
      { nodeId: "a", path: ["nodes", 0, "say"], message: 'reads $steps.zz, but there is no node "zz"' },
    ]);
    expect(
      validateWorkflow(job([{ id: "a", type: "echo", say: "x", runtime: "fargate" }]).definition),
    ).toEqual([
      {
        nodeId: "a",
        path: ["nodes", 0, "runtime"],
        message: 'runtime "fargate" applies only to code, tool and agent nodes, not echo',
      },
    ]);
  });

  it("runs end to end through decide() and the worker's dispatch, next to a built-in kind", async () => {
    registerEcho();
    const state = job(
      [
        { id: "first", type: "echo", say: "hello", input: "{% $input.name %}" },
        { id: "each", type: "echo", say: "item", forEach: "{% [1, 2] %}", dependsOn: ["first"] },
        { id: "later", type: "wait", seconds: 0, dependsOn: ["each"] },
      ],
      { name: "Ada" },
    );
    expect(validateWorkflow(state.definition)).toEqual([]);

    const started = await decide(state, { type: "start" }, T0);
    expect(started.commands).toEqual([{ type: "run", nodeId: "first", attempt: 1, delaySeconds: 0 }]);

    const first = await work(started.state, "first", 1, at(1));
    expect(stepOf(first.state, "first").output).toEqual({ said: "hello", input: "Ada" });
    expect(first.commands.map((c) => c.type === "run" && c.itemIndex)).toEqual([0, 1]);

    const item0 = await work(first.state, "each", 1, at(2), 0);
    const item1 = await work(item0.state, "each", 1, at(3), 1);
    expect(runs.map((r) => [r.nodeId, r.item])).toEqual([
      ["first", undefined],
      ["each", 1],
      ["each", 2],
    ]);
    // Items record their results in their chunk; the worker then reports the chunk's end to the job.
    const outputs = [0, 1].map((i) => item1.state.steps[`each#${i}`]?.output);
    const joined = await decide(
      item1.state,
      { type: "itemsEnded", nodeId: "each", run: 1, chunk: 0, ended: 2, outputs, endedItems: [0, 1] },
      at(3),
    );
    expect(stepOf(joined.state, "each").output).toEqual([{ said: "item" }, { said: "item" }]);
    expect(stepOf(joined.state, "later").status).toBe("waiting");

    const done = await decide(joined.state, { type: "waitElapsed", nodeId: "later" }, at(4));
    expect(done.state.status).toBe("succeeded");
  });

  it("drives start, review and retry through its hooks and flags", async () => {
    registerEcho();
    const paused = await decide(
      job([{ id: "p", type: "echo", say: "x", pause: 5_000 }]),
      { type: "start" },
      T0,
    );
    expect(stepOf(paused.state, "p")).toMatchObject({ status: "waiting", notBefore: at(5).toISOString() });
    expect(paused.commands).toEqual([{ type: "run", nodeId: "p", attempt: 1, delaySeconds: 5 }]);

    const held = await work(
      (await decide(job([{ id: "h", type: "echo", say: "x", hold: true }]), { type: "start" }, T0)).state,
      "h",
      1,
      at(1),
    );
    expect(stepOf(held.state, "h").status).toBe("waiting_approval");
    expect(held.commands).toEqual([
      { type: "requestApproval", nodeId: "h", message: 'look at "h"', preview: { said: "x" } },
    ]);
    const approved = await decide(
      held.state,
      { type: "approvalDecided", nodeId: "h", decision: "approve" },
      at(2),
    );
    expect(stepOf(approved.state, "h")).toMatchObject({
      status: "succeeded",
      output: { said: "x" },
    });

    // Not retryable: a retry policy does not make another attempt.
    const failing = job([{ id: "f", type: "echo", say: "fail", retry: { maxAttempts: 3 } }]);
    const failed = await work((await decide(failing, { type: "start" }, T0)).state, "f", 1, at(1));
    expect(failed.state.status).toBe("failed");
    expect(stepOf(failed.state, "f")).toMatchObject({ status: "failed", attempt: 1 });
  });

  it("fails the step of a node type nothing registered, at its start and at its run", async () => {
    const state = job([{ id: "a", type: "nope" }]);
    const started = await decide(state, { type: "start" }, T0);
    expect(started.state.status).toBe("failed");
    expect(stepOf(started.state, "a").error).toEqual({
      code: "UNKNOWN_NODE_TYPE",
      message: 'there is no node type "nope"',
    });

    const outcome = await executeStep(state, "a", undefined, 1);
    expect(outcome).toMatchObject({ ok: false, error: { code: "UNSUPPORTED_NODE" }, retryable: false });
  });
});
