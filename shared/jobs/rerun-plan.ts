import { isDeepStrictEqual } from "node:util";
import type { RerunStepPlan } from "#events/jobs";
import type { WorkflowDefinition, WorkflowNode } from "#events/workflow";
import { type StepState, stepKey } from "../engine/types.ts";

export interface RerunSource {
  definition: WorkflowDefinition;
  input: unknown;
  steps: Record<string, StepState>;
}

export interface RerunTarget {
  definition: WorkflowDefinition;
  input: unknown;
  /** This node and everything that depends on it run again, whatever they did before. */
  fromStep?: string;
}

export interface RerunPlanResult {
  /** One entry per node of the target definition, in its order. */
  steps: RerunStepPlan[];
  /** The steps the new job starts with, already succeeded (or skipped), keyed like `JobState.steps`. */
  kept: Record<string, StepState>;
}

const STEP_REFERENCE = /\$steps\.([A-Za-z][A-Za-z0-9_-]*)/g;

/**
 * Every node a node's result can depend on: its `dependsOn`, and any step its expressions read, since an
 * expression may name a step it does not wait for.
 */
function upstreamOf(node: WorkflowNode, ids: ReadonlySet<string>): string[] {
  const text = JSON.stringify(node);
  const named = [...text.matchAll(STEP_REFERENCE)].map((match) => match[1] as string);
  return [...new Set([...(node.dependsOn ?? []), ...named])].filter((id) => id !== node.id && ids.has(id));
}

/** Whether the node's expressions can see the job's input or identity, which a re-run changes or may change. */
function reads(node: WorkflowNode, name: "$input" | "$job"): boolean {
  return JSON.stringify(node).includes(name);
}

/** The node's steps as the new job keeps them: the node's own and, for a forEach, every item. */
function keptSteps(node: WorkflowNode, steps: Record<string, StepState>): StepState[] {
  const own = steps[node.id];
  if (own === undefined) return [];
  const copy = (step: StepState): StepState => {
    const {
      leaseUntil: _lease,
      notBefore: _notBefore,
      taskArn: _task,
      runFrom: _run,
      requeues: _rq,
      ...rest
    } = step;
    return structuredClone(rest);
  };
  const items =
    own.items === undefined
      ? []
      : Array.from({ length: own.items }, (_, i) => steps[stepKey(node.id, i)]).filter(
          (step): step is StepState => step !== undefined,
        );
  return [copy(own), ...items.map(copy)];
}

/**
 * Which steps of a re-run run again and which keep the outputs of the job it re-runs. A step keeps its
 * output only when the same result is certain: its node is unchanged, it succeeded (or was skipped) before,
 * nothing it reads runs again, and it reads neither a changed input nor the job's id. Pure; the job's
 * definition is the target's, so a node new in a later version always runs.
 */
export function planRerun(source: RerunSource, target: RerunTarget): RerunPlanResult {
  const ids = new Set(target.definition.nodes.map((node) => node.id));
  if (target.fromStep !== undefined && !ids.has(target.fromStep))
    throw new RangeError(`The workflow has no node ${target.fromStep}`);
  const before = new Map(source.definition.nodes.map((node) => [node.id, node]));
  const inputChanged = !isDeepStrictEqual(source.input ?? {}, target.input ?? {});
  const byId = new Map(target.definition.nodes.map((node) => [node.id, node]));
  const decided = new Map<string, RerunStepPlan>();
  const visiting = new Set<string>();

  const decide = (node: WorkflowNode): RerunStepPlan => {
    const known = decided.get(node.id);
    if (known !== undefined) return known;
    const run = (reason: string): RerunStepPlan => ({ nodeId: node.id, action: "run", reason });
    let plan: RerunStepPlan;
    if (visiting.has(node.id)) {
      // A cycle is the validator's to report; planning it conservatively keeps this total.
      return run("is part of a dependency cycle");
    }
    visiting.add(node.id);
    const previous = before.get(node.id);
    const step = source.steps[node.id];
    const rerunParent = upstreamOf(node, ids)
      .map((id) => decide(byId.get(id) as WorkflowNode))
      .find((parent) => parent.action === "run");
    if (node.id === target.fromStep) plan = run("the re-run starts here");
    else if (previous === undefined) plan = run("is new in this workflow version");
    else if (!isDeepStrictEqual(previous, node)) plan = run("changed in this workflow version");
    else if (rerunParent !== undefined) plan = run(`reads ${rerunParent.nodeId}, which runs again`);
    else if (inputChanged && reads(node, "$input")) plan = run("reads the job input, which changed");
    else if (reads(node, "$job")) plan = run("reads $job, which is the new job's");
    else if (step === undefined) plan = run("did not run before");
    else if (step.status !== "succeeded" && step.status !== "skipped")
      plan = run(`was ${step.status} before`);
    else
      plan = {
        nodeId: node.id,
        action: "keep",
        reason: step.status === "skipped" ? "was skipped before, and would be again" : "succeeded before",
      };
    visiting.delete(node.id);
    decided.set(node.id, plan);
    return plan;
  };

  const steps = target.definition.nodes.map(decide);
  const kept: Record<string, StepState> = {};
  for (const plan of steps) {
    if (plan.action !== "keep") continue;
    for (const step of keptSteps(byId.get(plan.nodeId) as WorkflowNode, source.steps))
      kept[stepKey(step.nodeId, step.itemIndex)] = step;
  }
  return { steps, kept };
}
