import { WorkflowDefinition } from "#events/workflow";
import { decide } from "#shared/engine/engine";
import {
  chunkCount,
  type Decision,
  type EngineEvent,
  FOREACH_CHUNK_SIZE,
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

/**
 * What the job store tells the engine after item transitions (see syncChunk in shared/jobs/unit-of-work.ts):
 * the first chunk of a running fan-out whose ended count moved past the node's, or that holds an item that
 * failed for good, as an `itemsEnded` event, with the outputs when it ends the fan-out.
 */
export function nextItemsEnded(state: JobState): EngineEvent | undefined {
  if (["succeeded", "failed", "cancelled", "timed_out"].includes(state.status)) return undefined;
  for (const node of state.definition.nodes) {
    const parent = state.steps[node.id];
    if (parent?.items === undefined || parent.status !== "running") continue;
    const items = Array.from({ length: parent.items }, (_, i) => state.steps[stepKey(node.id, i)]);
    const terminal = (s: StepState | undefined) =>
      s !== undefined && ["succeeded", "failed", "skipped", "cancelled"].includes(s.status);
    for (let chunk = 0; chunk < chunkCount(parent.items); chunk++) {
      const mine = items.slice(chunk * FOREACH_CHUNK_SIZE, (chunk + 1) * FOREACH_CHUNK_SIZE);
      const ended = mine.filter(terminal).length;
      const failedAt = mine.findIndex((s) => s?.status === "failed");
      const failure =
        failedAt >= 0 && node.onError !== "continue"
          ? {
              itemIndex: chunk * FOREACH_CHUNK_SIZE + failedAt,
              error: mine[failedAt]?.error ?? { code: "X", message: "x" },
            }
          : undefined;
      if (failure === undefined && ended <= (parent.ended?.[chunk] ?? 0)) continue;
      const counts = [...(parent.ended ?? [])];
      counts[chunk] = Math.max(counts[chunk] ?? 0, ended);
      const all = counts.reduce((a, b) => a + b, 0) >= parent.items && items.every(terminal);
      return {
        type: "itemsEnded",
        nodeId: node.id,
        run: parent.attempt,
        chunk,
        ended,
        ...(failure === undefined ? {} : { failure }),
        ...(all && failure === undefined
          ? {
              outputs: items.map((s) =>
                s?.status === "succeeded" ? (s.output ?? null) : s?.status === "failed" ? s.output : null,
              ),
            }
          : {}),
      };
    }
  }
  return undefined;
}

/** Applies events in order as the stores would: after each, the `itemsEnded` events the chunks give. */
export async function applyStored(state: JobState, events: EngineEvent[], now: Date = T0): Promise<Decision> {
  let decision: Decision | undefined;
  let current = state;
  for (const event of events) {
    decision = await decide(current, event, now);
    current = decision.state;
    for (let e = nextItemsEnded(current); e !== undefined; e = nextItemsEnded(current)) {
      decision = await decide(current, e, now);
      current = decision.state;
    }
  }
  if (!decision) throw new Error("no events");
  return decision;
}
