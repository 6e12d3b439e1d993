import { type Command, type Decision, type EngineEvent, stepKey } from "../engine/types.ts";
import type { StepOutcome } from "./run-step.ts";

/** The engine event that records an attempt's outcome: succeeded, deferred (a wait), or failed. */
export function outcomeEvent(
  where: { nodeId: string; itemIndex?: number; attempt: number },
  outcome: StepOutcome,
): EngineEvent {
  if (outcome.ok) return { type: "stepSucceeded", ...where, output: outcome.output };
  if (outcome.waitSeconds !== undefined)
    return {
      type: "stepDeferred",
      ...where,
      delaySeconds: outcome.waitSeconds,
      reason: outcome.error.message,
    };
  return { type: "stepFailed", ...where, error: outcome.error, retryable: outcome.retryable };
}

/**
 * The engine decides on outcomes, not on what the code printed: the attempt's console lines ride along on
 * the step the decision recorded.
 */
export function keepLogs(decision: Decision, key: string, outcome: StepOutcome): void {
  const recorded = decision.state.steps[key];
  if (
    outcome.logs !== undefined &&
    outcome.logs.length > 0 &&
    recorded !== undefined &&
    decision.changedSteps.includes(recorded)
  )
    recorded.logs = outcome.logs;
}

/**
 * `first` then `then` (decided on first's state), taken as one decision for one commit; `dropped` leaves
 * out commands of `first` that the caller carries out itself (a step it runs inline).
 */
export function combined(
  first: Decision,
  then: Decision,
  dropped: (command: Command) => boolean = () => false,
): Decision {
  const keys = new Set(
    [...first.changedSteps, ...then.changedSteps].map((step) => stepKey(step.nodeId, step.itemIndex)),
  );
  return {
    state: then.state,
    changedSteps: [...keys].flatMap((key) => {
      const step = then.state.steps[key];
      return step === undefined ? [] : [step];
    }),
    jobChanged: first.jobChanged || then.jobChanged,
    commands: [...first.commands.filter((command) => !dropped(command)), ...then.commands],
    notes: [...first.notes, ...then.notes],
  };
}
