import type { JobPriority, JobStatus, StepError, StepStatus } from "#events/jobs";
import type { WorkflowDefinition } from "#events/workflow";

/**
 * The engine's view of a job. The engine is pure: functions go from (state, event, now) to a Decision,
 * with no I/O. The stores load the state, and write the Decision as conditional writes of the job item and
 * of the forEach chunk items it changed. The job item holds node-level steps only; a decision on a forEach item
 * sees the job's steps plus the items of that item's chunk.
 */
export interface StepState {
  nodeId: string;
  /** Set on the per-item steps of a `forEach` node. The node's own step has none. */
  itemIndex?: number;
  status: StepStatus;
  /** 1-based and monotonic across job retries, so `jobId:nodeId:item:attempt` never repeats. 0 before the first. */
  attempt: number;
  /** Attempts made before the current run of the job (a job retry starts a new run): the retry budget counts from here. */
  runFrom?: number;
  input?: unknown;
  output?: unknown;
  error?: StepError;
  /** `forEach` parent: how many item steps it fanned out into. */
  items?: number;
  /** Console lines of the latest finished attempt, bounded (a claim-check pointer when large). */
  logs?: unknown;
  /** `forEach` parent: at most this many items run at once (its `maxConcurrency`, else all of them). */
  window?: number;
  /** `forEach` parent: how many items (of `pick`, or in index order) have been started. */
  started?: number;
  /** `forEach` parent: ended items per chunk, as the job item knows them (monotonic, merged by maximum). */
  ended?: number[];
  /** `forEach` parent after a job retry: the items to run again, in order (the others were kept). */
  pick?: number[];
  /** `forEach` parent of at most 100 items: the items whose end the timeline has reported. */
  reported?: number[];
  queuedAt?: string;
  startedAt?: string;
  endedAt?: string;
  /** Not to run before this time (retry back-off, durable wait). ISO-8601. */
  notBefore?: string;
  /** Durable lease of a running attempt; the sweeper retries it when it lapses. ISO-8601. */
  leaseUntil?: string;
  /** ECS task ARN of a `runtime: "fargate"` attempt. */
  taskArn?: string;
  /** How often this attempt's message was sent again because it seemed lost: each time the sweeper waits longer. */
  requeues?: number;
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
  /** Which steps queue the job's messages go to; absent is normal. */
  priority?: JobPriority;
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
  /**
   * A running attempt could not start its work yet (a rate limit): it goes back to the queue, the same
   * attempt, for `delaySeconds`. Not a failure: the retry budget is untouched.
   */
  | {
      type: "stepDeferred";
      nodeId: string;
      itemIndex?: number;
      attempt: number;
      delaySeconds: number;
      reason: string;
    }
  /** A `wait` step's time has come. */
  | { type: "waitElapsed"; nodeId: string; itemIndex?: number }
  | { type: "approvalDecided"; nodeId: string; itemIndex?: number; decision: "approve" | "reject" }
  | { type: "cancel"; reason?: string }
  | { type: "jobTimedOut" }
  /** Re-run a failed or timed-out job from the steps that did not succeed. */
  | { type: "retry" }
  /** A worker takes a queued attempt: it runs, holding a lease until `leaseSeconds` from now. */
  | { type: "claim"; nodeId: string; itemIndex?: number; attempt: number; leaseSeconds: number }
  /** A running attempt is still alive: extend its lease. */
  | { type: "renewLease"; nodeId: string; itemIndex?: number; attempt: number; leaseSeconds: number }
  /** A fargate attempt's ECS task started. */
  | { type: "taskStarted"; nodeId: string; itemIndex?: number; attempt: number; taskArn: string }
  /**
   * A queued or waiting attempt's message was lost (the sweeper found it past due): send it again. With
   * `workerLost`, a running attempt goes back to the queue too: everything that ran it is known to be gone
   * (the platform restarted), so the same attempt runs again, with the same idempotency key.
   */
  | { type: "requeue"; nodeId: string; itemIndex?: number; attempt: number; workerLost?: boolean }
  /**
   * The attempt's message exhausted its receives. Unlike `stepFailed`, it applies to a queued step too: the
   * message never got as far as a claim.
   */
  | { type: "deadLettered"; nodeId: string; itemIndex?: number; attempt: number; reason: string }
  /**
   * Items of a forEach chunk ended: `ended` is how many of the chunk's items have ended, as its chunk item says
   * (counts merge by maximum, so a repeat changes nothing). `failure` names an item that failed for good, and
   * `outputs` (every item's output, in order) comes with the event that ends the last chunk.
   */
  | {
      type: "itemsEnded";
      nodeId: string;
      /** The fan-out's run (its node step's attempt) the counts belong to. */
      run: number;
      chunk: number;
      ended: number;
      failure?: { itemIndex: number; error: StepError };
      outputs?: unknown[];
      /** For a fan-out of at most 100 items: the chunk's ended items, so each is reported once. */
      endedItems?: number[];
    }
  /** A forEach node whose fan-out was deferred to a worker fans out now (its queued step's attempt). */
  | { type: "fanOut"; nodeId: string; attempt: number };

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

/** forEach items live in chunk items of this many, each with its own version (see stores/jobs/chunks.ts). */
export const FOREACH_CHUNK_SIZE = 100;

export function chunkOf(itemIndex: number): number {
  return Math.floor(itemIndex / FOREACH_CHUNK_SIZE);
}

/** How many items chunk `chunk` of a fan-out over `items` holds. */
export function chunkSize(items: number, chunk: number): number {
  return Math.max(0, Math.min(FOREACH_CHUNK_SIZE, items - chunk * FOREACH_CHUNK_SIZE));
}

export function chunkCount(items: number): number {
  return Math.ceil(items / FOREACH_CHUNK_SIZE);
}

export function stepKey(nodeId: string, itemIndex?: number): string {
  return itemIndex === undefined ? nodeId : `${nodeId}#${itemIndex}`;
}
