import type { JobStatus, StepError, StepStatus } from "#events/jobs";
import type { WorkflowDefinition } from "#events/workflow";

/**
 * The engine's view of a job. The engine is pure: functions go from (state, event, now) to a Decision,
 * with no I/O. The stores load the state, and write the Decision as one conditional transaction.
 */
export interface StepState {
  nodeId: string;
  /** Set on the per-item steps of a `forEach` node. The node's own step has none. */
  itemIndex?: number;
  status: StepStatus;
  /** 1-based. 0 while the step has never been queued. */
  attempt: number;
  input?: unknown;
  output?: unknown;
  error?: StepError;
  /** `forEach` parent: how many item steps it fanned out into. */
  items?: number;
  queuedAt?: string;
  startedAt?: string;
  endedAt?: string;
  /** Not to run before this time (retry back-off, durable wait). ISO-8601. */
  notBefore?: string;
  /** Durable lease of a running attempt; the sweeper retries it when it lapses. ISO-8601. */
  leaseUntil?: string;
  /** ECS task ARN of a `runtime: "fargate"` attempt. */
  taskArn?: string;
}

export interface JobState {
  jobId: string;
  tenantId: string;
  status: JobStatus;
  definition: WorkflowDefinition;
  input: unknown;
  /** Keyed by `stepKey(nodeId, itemIndex)`. */
  steps: Record<string, StepState>;
  output?: unknown;
  error?: StepError;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
}

export type EngineEvent =
  /** The job was just created: plan the first steps. */
  | { type: "start" }
  | { type: "stepSucceeded"; nodeId: string; itemIndex?: number; attempt: number; output: unknown }
  | {
      type: "stepFailed";
      nodeId: string;
      itemIndex?: number;
      attempt: number;
      error: StepError;
      /** False for errors that another attempt cannot fix (bad input, budget spent). */
      retryable: boolean;
    }
  /** A `wait` step's time has come. */
  | { type: "waitElapsed"; nodeId: string; itemIndex?: number }
  | { type: "approvalDecided"; nodeId: string; itemIndex?: number; decision: "approve" | "reject" }
  | { type: "cancel"; reason?: string }
  | { type: "jobTimedOut" }
  /** Re-run a failed, cancelled or timed-out job from the steps that did not succeed. */
  | { type: "retry" };

export type Command =
  /** Send a step message (with this delay) so a worker runs the attempt. */
  | { type: "run"; nodeId: string; itemIndex?: number; attempt: number; delaySeconds: number }
  /** Stop the ECS task of a running fargate step. */
  | { type: "stopTask"; nodeId: string; itemIndex?: number; taskArn: string }
  /** Create an approval for a step now `waiting_approval`. */
  | {
      type: "requestApproval";
      nodeId: string;
      itemIndex?: number;
      message: string;
      confidence?: number;
      preview?: unknown;
    };

export interface Decision {
  /** The state after the event. */
  state: JobState;
  /** Steps that are new or whose fields changed, with their new values. */
  changedSteps: StepState[];
  /** True when the job's status, output or error changed. */
  jobChanged: boolean;
  commands: Command[];
  /** Human-readable timeline notes, such as why a node was skipped. */
  notes: { nodeId?: string; message: string }[];
}

export function stepKey(nodeId: string, itemIndex?: number): string {
  return itemIndex === undefined ? nodeId : `${nodeId}#${itemIndex}`;
}
