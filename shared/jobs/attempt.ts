/**
 * One attempt of a step, with the runners the caller brings: the worker all of them (run-step.ts), the start of
 * a job only the pure ones (pure-runners.ts), so the API's bundle holds no agent loop and no tools.
 */
import type { WorkflowNode } from "#events/workflow";
import { buildContext, getNode } from "#shared/engine/engine";
import { resolveTemplate } from "#shared/engine/expressions";
import type { StepOutcome } from "#shared/engine/nodes/index";
import type { NodeRunner } from "#shared/engine/nodes/kind";
import type { JobState } from "#shared/engine/types";
import { boundError, boundLogs } from "#shared/jobs/bound-error";

export type { StepOutcome } from "#shared/engine/nodes/index";

/** Default per-attempt limit for a node without `timeoutSeconds`. */
export const DEFAULT_STEP_TIMEOUT_SECONDS = 60;
/** Extra time on a lease beyond the step's own limit, before the sweeper treats the attempt as lost. */
const LEASE_MARGIN_SECONDS = 60;

export function stepTimeoutSeconds(node: WorkflowNode | undefined): number {
  return node?.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
}

/** Fargate tasks renew their lease by heartbeat, so their first lease only has to cover the task's start. */
export const TASK_START_LEASE_SECONDS = 180;

export function leaseSecondsFor(state: JobState, nodeId: string): number {
  const node = getNode(state, nodeId);
  if (node?.runtime === "fargate") return TASK_START_LEASE_SECONDS;
  return stepTimeoutSeconds(node) + LEASE_MARGIN_SECONDS;
}

function failure(code: string, message: string, retryable: boolean): StepOutcome {
  return { ok: false, error: { code, message }, retryable };
}

/** The runner of a node type, or undefined when this process cannot run that type. */
export type RunnerOf = (type: string) => NodeRunner | undefined;

/**
 * Runs one attempt of a step with the runners `runners` knows: resolves its input, then calls the node's
 * runner. Errors of the step itself (a throw in user code, a bad expression) come back as a failed outcome;
 * errors of the platform throw, so the message is retried. Every outcome leaves here with its error and
 * logs cut to their limits, so recording it cannot fail on the item size.
 */
export async function attemptStep(
  runners: RunnerOf,
  state: JobState,
  nodeId: string,
  itemIndex: number | undefined,
  attempt: number,
  /** Cuts the run's limit to this many ms (a pure chain at a job's start), never lengthens it. */
  capMs?: number,
): Promise<StepOutcome> {
  const outcome = await runStep(runners, state, nodeId, itemIndex, attempt, capMs);
  const logs = outcome.logs === undefined ? {} : { logs: boundLogs(outcome.logs) };
  if (outcome.ok) return { ...outcome, ...logs };
  const step = `${nodeId}${itemIndex === undefined ? "" : `[${itemIndex}]`}/${attempt}`;
  const error = await boundError(outcome.error, { tenantId: state.tenantId, jobId: state.jobId, step });
  return { ...outcome, error, ...logs };
}

async function runStep(
  runners: RunnerOf,
  state: JobState,
  nodeId: string,
  itemIndex: number | undefined,
  attempt: number,
  capMs: number | undefined,
): Promise<StepOutcome> {
  const node = getNode(state, nodeId);
  if (node === undefined) return failure("UNKNOWN_NODE", `Node ${nodeId} is not in the workflow`, false);
  const context = buildContext(state, { nodeId, itemIndex, attempt });
  let input: unknown;
  try {
    input = node.input === undefined ? undefined : await resolveTemplate(node.input, context);
  } catch (error) {
    return failure(
      "INPUT_ERROR",
      `Could not resolve the input of ${nodeId}: ${(error as Error).message}`,
      false,
    );
  }
  const run = runners(node.type);
  if (run === undefined)
    return failure("UNSUPPORTED_NODE", `Nodes of type ${node.type} cannot run on this runtime yet`, false);
  return run({
    state,
    node,
    ...(itemIndex === undefined ? {} : { itemIndex }),
    attempt,
    input,
    context,
    timeoutMs: Math.min(stepTimeoutSeconds(node) * 1000, capMs ?? Number.POSITIVE_INFINITY),
  });
}
