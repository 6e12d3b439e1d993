import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MetricUnit as Unit } from "@aws-lambda-powertools/metrics/types";
import type { Decision, JobState } from "../engine/types.ts";
import { stepKey } from "../engine/types.ts";

export interface JobMetric {
  name: "JobsSucceeded" | "JobsFailed" | "StepDuration";
  unit: Unit;
  value: number;
}

/**
 * What a decision taken on `before` means for the job metrics. Every change of a job after its start is
 * committed through `decideAndCommit`, so counting here counts each job once. A timed-out job counts as
 * failed: both ended without a result. A step's duration is its attempt's, from claim to the decision that
 * ended it, also when a retry puts it back in the queue.
 */
export function jobMetrics(before: JobState, decision: Decision, at: Date): JobMetric[] {
  const out: JobMetric[] = [];
  const after = decision.state.status;
  if (after !== before.status) {
    if (after === "succeeded") out.push({ name: "JobsSucceeded", unit: MetricUnit.Count, value: 1 });
    if (after === "failed" || after === "timed_out")
      out.push({ name: "JobsFailed", unit: MetricUnit.Count, value: 1 });
  }
  for (const step of decision.changedSteps) {
    const previous = before.steps[stepKey(step.nodeId, step.itemIndex)];
    if (previous?.status !== "running" || previous.startedAt === undefined) continue;
    if (step.status === "running" && step.attempt === previous.attempt) continue;
    const ms = at.getTime() - Date.parse(previous.startedAt);
    if (Number.isFinite(ms) && ms >= 0)
      out.push({ name: "StepDuration", unit: MetricUnit.Milliseconds, value: ms });
  }
  return out;
}
