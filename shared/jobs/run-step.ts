import { nodeRunner } from "#shared/engine/nodes/runners";
import type { JobState } from "#shared/engine/types";
import { attemptStep, type StepOutcome } from "./attempt.ts";

export {
  DEFAULT_STEP_TIMEOUT_SECONDS,
  leaseSecondsFor,
  type StepOutcome,
  stepTimeoutSeconds,
  TASK_START_LEASE_SECONDS,
} from "./attempt.ts";

/**
 * Runs one attempt of a step with every runner: resolves its input, then calls the node's runner. Errors of
 * the step itself (a throw in user code, a bad expression) come back as a failed outcome; errors of the
 * platform throw, so the message is retried. Outcomes leave with their error and logs cut to their limits.
 */
export function executeStep(
  state: JobState,
  nodeId: string,
  itemIndex: number | undefined,
  attempt: number,
): Promise<StepOutcome> {
  return attemptStep(nodeRunner, state, nodeId, itemIndex, attempt);
}
