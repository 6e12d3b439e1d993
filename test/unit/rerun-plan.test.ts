import { describe, expect, it } from "vitest";
import { WorkflowDefinition } from "#events/workflow";
import { decide } from "#shared/engine/engine";
import type { JobState, StepState } from "#shared/engine/types";
import { planRerun } from "#shared/jobs/rerun-plan";

const T0 = new Date("2025-01-01T00:00:00.000Z");

const chain = WorkflowDefinition.parse({
  name: "chain",
  nodes: [
    { id: "fetch", type: "code", code: "return 1" },
    {
      id: "parse",
      type: "code",
      code: "return input.x",
      input: { x: "{% $steps.fetch.output %}" },
      dependsOn: ["fetch"],
    },
    { id: "greet", type: "code", code: "return input", input: { name: "{% $input.name %}" } },
    { id: "report", type: "code", code: "return 3", dependsOn: ["parse", "greet"] },
  ],
});

function done(nodeId: string, output: unknown, extra: Partial<StepState> = {}): StepState {
  return {
    nodeId,
    status: "succeeded",
    attempt: 1,
    output,
    startedAt: T0.toISOString(),
    endedAt: T0.toISOString(),
    leaseUntil: T0.toISOString(),
    ...extra,
  };
}

const succeededSteps: Record<string, StepState> = {
  fetch: done("fetch", 1),
  parse: done("parse", 1),
  greet: done("greet", { name: "Ada" }),
  report: done("report", 3),
};

const source = { definition: chain, input: { name: "Ada" }, steps: succeededSteps };
const actions = (plan: ReturnType<typeof planRerun>) =>
  Object.fromEntries(plan.steps.map((step) => [step.nodeId, step.action]));

describe("planRerun", () => {
  it("keeps every step of a succeeded job re-run unchanged", () => {
    const plan = planRerun(source, { definition: chain, input: { name: "Ada" } });

    expect(actions(plan)).toEqual({ fetch: "keep", parse: "keep", greet: "keep", report: "keep" });
    expect(Object.keys(plan.kept).sort()).toEqual(["fetch", "greet", "parse", "report"]);
  });

  it("runs the chosen step and everything downstream of it again, and keeps the rest", () => {
    const plan = planRerun(source, { definition: chain, input: { name: "Ada" }, fromStep: "parse" });

    expect(actions(plan)).toEqual({ fetch: "keep", parse: "run", greet: "keep", report: "run" });
    expect(plan.steps.find((s) => s.nodeId === "report")?.reason).toBe("reads parse, which runs again");
    expect(Object.keys(plan.kept).sort()).toEqual(["fetch", "greet"]);
  });

  it("runs only the steps that read the input when the input changes", () => {
    const plan = planRerun(source, { definition: chain, input: { name: "Grace" } });

    expect(actions(plan)).toEqual({ fetch: "keep", parse: "keep", greet: "run", report: "run" });
    expect(plan.steps.find((s) => s.nodeId === "greet")?.reason).toBe("reads the job input, which changed");
  });

  it("runs changed and new nodes of a newer version, and what depends on them", () => {
    const next = WorkflowDefinition.parse({
      ...chain,
      nodes: [
        { id: "fetch", type: "code", code: "return 2" },
        ...chain.nodes.slice(1),
        { id: "audit", type: "code", code: "return 4", dependsOn: ["greet"] },
      ],
    });

    const plan = planRerun(source, { definition: next, input: { name: "Ada" } });

    expect(actions(plan)).toEqual({ fetch: "run", parse: "run", greet: "keep", report: "run", audit: "run" });
    expect(plan.steps.find((s) => s.nodeId === "fetch")?.reason).toBe("changed in this workflow version");
    expect(plan.steps.find((s) => s.nodeId === "audit")?.reason).toBe("is new in this workflow version");
  });

  it("runs the steps that did not succeed, and treats a step an expression reads as upstream", () => {
    const definition = WorkflowDefinition.parse({
      name: "implicit",
      nodes: [
        { id: "a", type: "code", code: "return 1" },
        { id: "b", type: "code", code: "return 2" },
        { id: "c", type: "code", code: "return 3", input: { a: "{% $steps.a.output %}" }, dependsOn: ["b"] },
      ],
    });
    const steps = {
      a: { nodeId: "a", status: "failed", attempt: 2, error: { code: "X", message: "boom" } },
      b: done("b", 2),
      c: { nodeId: "c", status: "cancelled", attempt: 0 },
    } satisfies Record<string, StepState>;

    const plan = planRerun({ definition, input: {}, steps }, { definition, input: {} });

    expect(plan.steps).toEqual([
      { nodeId: "a", action: "run", reason: "was failed before" },
      { nodeId: "b", action: "keep", reason: "succeeded before" },
      { nodeId: "c", action: "run", reason: "reads a, which runs again" },
    ]);
  });

  it("keeps a forEach node with all its items, without the old attempt's lease", () => {
    const definition = WorkflowDefinition.parse({
      name: "fan",
      nodes: [{ id: "each", type: "code", forEach: "{% [1, 2] %}", code: "return item" }],
    });
    const steps: Record<string, StepState> = {
      each: done("each", [1, 2], { items: 2 }),
      "each#0": done("each", 1, { itemIndex: 0 }),
      "each#1": done("each", 2, { itemIndex: 1 }),
    };

    const plan = planRerun({ definition, input: {}, steps }, { definition, input: {} });

    expect(Object.keys(plan.kept).sort()).toEqual(["each", "each#0", "each#1"]);
    expect(plan.kept["each#1"]).toEqual({
      nodeId: "each",
      itemIndex: 1,
      status: "succeeded",
      attempt: 1,
      output: 2,
      startedAt: T0.toISOString(),
      endedAt: T0.toISOString(),
    });
  });

  it("refuses a step the workflow does not have", () => {
    expect(() => planRerun(source, { definition: chain, input: {}, fromStep: "nope" })).toThrow(
      "The workflow has no node nope",
    );
  });

  it("gives the engine a start that runs only the planned steps", async () => {
    const plan = planRerun(source, { definition: chain, input: { name: "Ada" }, fromStep: "parse" });
    const state: JobState = {
      jobId: "job-2",
      tenantId: "tenant-1",
      status: "queued",
      definition: chain,
      input: { name: "Ada" },
      steps: plan.kept,
      createdAt: T0.toISOString(),
    };

    const decision = await decide(state, { type: "start" }, T0);

    expect(decision.commands).toEqual([{ type: "run", nodeId: "parse", attempt: 1, delaySeconds: 0 }]);
    expect(decision.state.steps.fetch?.status).toBe("succeeded");
    expect(decision.state.steps.report?.status).toBe("pending");
  });
});
