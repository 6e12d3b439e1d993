import { WorkflowDefinition } from "#events/workflow";
import { decide } from "#shared/engine/engine";
import {
  type Decision,
  type EngineEvent,
  type JobState,
  type StepState,
  stepKey,
} from "#shared/engine/types";

export const T0 = new Date("2025-01-01T00:00:00.000Z");

export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

/** Fixtures go through the real schema, so defaults (retry policy fields) are filled as in production. */
export function workflow(def: unknown): WorkflowDefinition {
  return WorkflowDefinition.parse(def);
}

export function newJob(def: unknown, input: unknown = {}): JobState {
  return {
    jobId: "job-1",
    tenantId: "tenant-1",
    status: "queued",
    definition: workflow(def),
    input,
    steps: {},
    createdAt: T0.toISOString(),
  };
}

export function stepOf(state: JobState, nodeId: string, itemIndex?: number): StepState {
  const step = state.steps[stepKey(nodeId, itemIndex)];
  if (!step) throw new Error(`no step ${stepKey(nodeId, itemIndex)}`);
  return step;
}

export async function start(def: unknown, input: unknown = {}, random?: () => number): Promise<Decision> {
  return decide(newJob(def, input), { type: "start" }, T0, random ? { random } : {});
}

/** Applies events in order, each at its own time, and returns the last decision. */
export async function apply(
  state: JobState,
  events: EngineEvent[],
  now: Date = T0,
  random?: () => number,
): Promise<Decision> {
  let decision: Decision | undefined;
  let current = state;
  for (const event of events) {
    decision = await decide(current, event, now, random ? { random } : {});
    current = decision.state;
  }
  if (!decision) throw new Error("no events");
  return decision;
}

export function succeeded(nodeId: string, output: unknown, attempt = 1, itemIndex?: number): EngineEvent {
  return itemIndex === undefined
    ? { type: "stepSucceeded", nodeId, attempt, output }
    : { type: "stepSucceeded", nodeId, itemIndex, attempt, output };
}

export function failed(
  nodeId: string,
  opts: { attempt?: number; itemIndex?: number; retryable?: boolean; code?: string; message?: string } = {},
): EngineEvent {
  return {
    type: "stepFailed",
    nodeId,
    ...(opts.itemIndex === undefined ? {} : { itemIndex: opts.itemIndex }),
    attempt: opts.attempt ?? 1,
    error: { code: opts.code ?? "BOOM", message: opts.message ?? "it broke" },
    retryable: opts.retryable ?? true,
  };
}

export function statuses(state: JobState): Record<string, string> {
  return Object.fromEntries(Object.entries(state.steps).map(([k, s]) => [k, s.status]));
}
