import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowDefinition } from "#events/workflow";
import { decide } from "#shared/engine/engine";
import { warmSandbox } from "#shared/engine/sandbox";
import type { JobState } from "#shared/engine/types";
import { runAtStart } from "#shared/jobs/pure-chain";

const options = { deferWideFanOut: true };

async function started(definition: WorkflowDefinition) {
  const state: JobState = {
    jobId: "j_start",
    tenantId: "t-1",
    status: "queued",
    definition,
    input: { n: 2 },
    steps: {},
    createdAt: new Date().toISOString(),
  };
  return decide(state, { type: "start" }, new Date(), options);
}

const twoSteps: WorkflowDefinition = {
  name: "two",
  nodes: [
    { id: "a", type: "code", code: "return input.n + 1", input: { n: "{% $input.n %}" } },
    { id: "b", type: "code", dependsOn: ["a"], code: "return steps.a.output * 10" },
  ],
  output: "{% $steps.b.output %}",
} as WorkflowDefinition;

beforeAll(async () => {
  await warmSandbox();
});

afterEach(() => {
  delete process.env.SWITCHBOARD_START_CHAIN_MS;
});

describe("steps run at a job's start", () => {
  it("runs the ready code steps in memory and names the attempts it ran", async () => {
    // What runs, not how fast: on a loaded machine two steps can outrun the default 100 ms budget.
    process.env.SWITCHBOARD_START_CHAIN_MS = "10000";
    const start = await started(twoSteps);
    const { decision, ran } = await runAtStart(start, options);
    expect(ran).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    expect(decision.state).toMatchObject({ status: "succeeded", output: 30 });
    expect(decision.commands.filter((c) => c.type === "run")).toEqual([]);
  });

  it("leaves a step that outruns the budget queued at its attempt, as if it never ran", async () => {
    process.env.SWITCHBOARD_START_CHAIN_MS = "50";
    const start = await started({
      name: "slow",
      nodes: [{ id: "slow", type: "code", code: "while (true) {}" }],
    } as WorkflowDefinition);
    const { decision, ran } = await runAtStart(start, options);
    expect(ran).toEqual([]);
    expect(decision).toBe(start);
    expect(decision.state.steps.slow).toMatchObject({ status: "queued", attempt: 1 });
  });

  it("sends the steps to the workers when the runner itself fails", async () => {
    const start = await started(twoSteps);
    const broken = () => async () => {
      throw new Error("the sandbox would not start");
    };
    const { decision, ran } = await runAtStart(start, options, broken);
    expect(ran).toEqual([]);
    expect(decision).toBe(start);
    expect(decision.commands).toContainEqual(expect.objectContaining({ type: "run", nodeId: "a" }));
  });

  it("runs nothing when SWITCHBOARD_START_CHAIN_MS is 0", async () => {
    process.env.SWITCHBOARD_START_CHAIN_MS = "0";
    const start = await started(twoSteps);
    expect(await runAtStart(start, options)).toEqual({ decision: start, ran: [] });
  });
});
