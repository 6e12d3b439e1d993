/**
 * The job service, by seam: commands from the API (commands), the worker protocol (worker), the unit of work
 * that loads, decides and commits (unit-of-work), and the side effects of a decision (effects).
 */
export { cancelJob, retryJob, type StartJobInput, startJob } from "./commands.ts";
export { runCommands } from "./effects.ts";
export { type JobMetric, jobMetrics } from "./metrics.ts";
export { type Decided, decideAndCommit } from "./unit-of-work.ts";
export {
  failStepFromDeadLetter,
  heartbeat,
  processStepMessage,
  recordStepOutcome,
  type StepBudget,
} from "./worker.ts";
