import type { StepError } from "#events/jobs";
import type { WorkflowNode } from "#events/workflow";
import { runAgentStep } from "../agents/run-agent.ts";
import { buildContext, getNode } from "../engine/engine.ts";
import { resolveTemplate } from "../engine/expressions.ts";
import { runCode, SandboxError } from "../engine/sandbox.ts";
import type { JobState } from "../engine/types.ts";
import { logger } from "../observability.ts";
import { runToolStep } from "../tools/run-tool.ts";
import { boundError, boundLogs } from "./bound-error.ts";

/** `logs`: what a code step wrote to its console, bounded (see bound-error.ts). */
export type StepOutcome =
  | { ok: true; output: unknown; logs?: string[] }
  | { ok: false; error: StepError; retryable: boolean; logs?: string[] };

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

/**
 * Runs one attempt of a step: resolves its input, then calls the node's runner. Errors of the step itself
 * (a throw in user code, a bad expression) come back as a failed outcome; errors of the platform throw, so
 * the message is retried. Every outcome leaves here with its error and logs cut to their limits, so
 * recording it cannot fail on the item size.
 */
export async function executeStep(
  state: JobState,
  nodeId: string,
  itemIndex: number | undefined,
  attempt: number,
): Promise<StepOutcome> {
  const outcome = await runStep(state, nodeId, itemIndex, attempt);
  const logs = outcome.logs === undefined ? {} : { logs: boundLogs(outcome.logs) };
  if (outcome.ok) return { ...outcome, ...logs };
  const step = `${nodeId}${itemIndex === undefined ? "" : `[${itemIndex}]`}/${attempt}`;
  const error = await boundError(outcome.error, { tenantId: state.tenantId, jobId: state.jobId, step });
  return { ...outcome, error, ...logs };
}

async function runStep(
  state: JobState,
  nodeId: string,
  itemIndex: number | undefined,
  attempt: number,
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
  const timeoutMs = stepTimeoutSeconds(node) * 1000;
  switch (node.type) {
    case "code": {
      try {
        const result = await runCode(
          node.code,
          { input, item: context.item, index: context.index, attempt, steps: context.steps ?? {} },
          { timeoutMs },
        );
        return { ok: true, output: result.output, logs: result.logs };
      } catch (error) {
        if (!(error instanceof SandboxError)) throw error;
        logger.info("Code step failed", { nodeId, code: error.code });
        // Running out of memory will happen again on the same input; a throw or a timeout may not.
        return {
          ok: false,
          error: { code: error.code, message: error.message },
          retryable: error.code !== "CODE_MEMORY",
          logs: error.logs,
        };
      }
    }
    case "agent": {
      let session: unknown;
      try {
        session = node.session === undefined ? undefined : await resolveTemplate(node.session, context);
      } catch (error) {
        return failure(
          "INPUT_ERROR",
          `Could not resolve the session of ${nodeId}: ${(error as Error).message}`,
          false,
        );
      }
      if (session !== undefined && (typeof session !== "string" || session === ""))
        return failure("INPUT_ERROR", `The session of ${nodeId} must be a session id (a string)`, false);
      return runAgentStep({
        tenantId: state.tenantId,
        jobId: state.jobId,
        nodeId,
        ...(itemIndex === undefined ? {} : { itemIndex }),
        attempt,
        agent: node.agent,
        ...(session === undefined ? {} : { session }),
        input,
        timeoutMs,
        workflow: state.definition.name,
      });
    }
    case "tool":
      return runToolStep({
        tenantId: state.tenantId,
        jobId: state.jobId,
        nodeId,
        ...(itemIndex === undefined ? {} : { itemIndex }),
        attempt,
        tool: node.tool,
        input,
        timeoutMs,
      });
    default:
      return failure("UNSUPPORTED_NODE", `Nodes of type ${node.type} cannot run on this runtime yet`, false);
  }
}
