import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { MetricUnit as Unit } from "@aws-lambda-powertools/metrics/types";
import type { StepError } from "#events/jobs";
import type { StepMessage } from "#events/steps";
import type { NewTimelineEvent } from "#events/timeline";
import type { WorkflowDefinition } from "#events/workflow";
import { requestApproval } from "../approvals/request.ts";
import { decide, getNode } from "../engine/engine.ts";
import {
  type Command,
  type Decision,
  type EngineEvent,
  type JobState,
  type StepState,
  stepKey,
} from "../engine/types.ts";
import { conflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { logger, metrics } from "../observability.ts";
import { MAX_DELAY_SECONDS, type OutgoingStep, sendStepMessages } from "../queues.ts";
import { ConcurrentUpdateError, commitDecision, insertJob, type LoadedJob, loadJob } from "../stores/jobs.ts";
import { acquireRunSlot, releaseRunSlot } from "./fairness.ts";
import { executeStep, leaseSecondsFor, type StepOutcome, stepTimeoutSeconds } from "./run-step.ts";
import { startStepTask, stopStepTask } from "./tasks.ts";

const MAX_COMMIT_ATTEMPTS = 12;

async function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random());
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Loads the job, lets `step` decide on it, and commits, reloading and deciding again when another writer
 * got there first. `step` returns undefined when, on the state it sees, there is nothing to do.
 */
export async function withJob<T>(
  tenantId: string,
  jobId: string,
  step: (
    loaded: LoadedJob,
  ) => Promise<{ decision: Decision; extraEvents?: NewTimelineEvent[]; result: T } | undefined>,
  now: () => Date = () => new Date(),
): Promise<{ loaded: LoadedJob; result: T; committed: boolean } | undefined> {
  for (let attempt = 0; ; attempt++) {
    const loaded = await loadJob(tenantId, jobId);
    if (loaded === undefined) return undefined;
    const outcome = await step(loaded);
    if (outcome === undefined) return { loaded, result: undefined as T, committed: false };
    const nothingChanged =
      outcome.decision.changedSteps.length === 0 &&
      !outcome.decision.jobChanged &&
      outcome.decision.notes.length === 0 &&
      (outcome.extraEvents ?? []).length === 0;
    if (nothingChanged) {
      await runCommands(loaded.state, outcome.decision.commands);
      return { loaded, result: outcome.result, committed: false };
    }
    try {
      const at = now();
      const changes = jobMetrics(loaded.state, outcome.decision, at);
      await commitDecision(loaded, outcome.decision, at, outcome.extraEvents);
      for (const metric of changes) metrics.addMetric(metric.name, metric.unit, metric.value);
      await runCommands(loaded.state, outcome.decision.commands);
      return { loaded, result: outcome.result, committed: true };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || attempt + 1 >= MAX_COMMIT_ATTEMPTS) throw error;
      await backoff(attempt);
    }
  }
}

export interface JobMetric {
  name: "JobsSucceeded" | "JobsFailed" | "StepDuration";
  unit: Unit;
  value: number;
}

/**
 * What a decision taken on `before` means for the job metrics. Every change of a job after its start is
 * committed through `withJob`, so counting here counts each job once. A timed-out job counts as failed: both
 * ended without a result. A step's duration is its attempt's, from claim to the decision that ended it, also
 * when a retry puts it back in the queue.
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

/** Carries out an engine decision's side effects. Run commands become step messages. */
export async function runCommands(state: JobState, commands: Command[]): Promise<void> {
  const outgoing: OutgoingStep[] = [];
  const approvals: Extract<Command, { type: "requestApproval" }>[] = [];
  for (const command of commands) {
    switch (command.type) {
      case "run":
        outgoing.push({
          message: {
            v: 1,
            tenantId: state.tenantId,
            jobId: state.jobId,
            nodeId: command.nodeId,
            ...(command.itemIndex === undefined ? {} : { itemIndex: command.itemIndex }),
            attempt: command.attempt,
          },
          delaySeconds: command.delaySeconds,
        });
        break;
      case "stopTask":
        await stopStepTask(command.taskArn, `Job ${state.jobId} no longer needs step ${command.nodeId}`);
        break;
      case "requestApproval":
        approvals.push(command);
        break;
      default:
        // Every command type is handled above; this catches one the engine adds later.
        logger.warn("Command not carried out", { command: (command as Command).type, jobId: state.jobId });
    }
  }
  if (outgoing.length > 0) await sendStepMessages(outgoing);
  // After the step messages, so a failing approval write cannot hold back work that is ready. Each approval
  // and its timeline event are one idempotent transaction (see requestApproval).
  for (const command of approvals) await requestApproval(state, command);
}

/** Seconds a step waits before trying again when its tenant is at its running-steps limit. */
const BUSY_RETRY_SECONDS = { min: 1, max: 5 };

export interface StartJobInput {
  tenantId: string;
  createdBy: string;
  definition: WorkflowDefinition;
  workflowId?: string;
  workflowVersion?: number;
  input?: unknown;
  idempotencyKey?: string;
  scheduleId?: string;
}

/** Plans the job's first steps, writes everything in one transaction, then sends the ready steps' messages. */
export async function startJob(
  input: StartJobInput,
  now = new Date(),
): Promise<{ jobId: string; status: string; created: boolean }> {
  const jobId = newId("j_", now.getTime());
  const initial: JobState = {
    jobId,
    tenantId: input.tenantId,
    status: "queued",
    definition: input.definition,
    input: input.input ?? {},
    steps: {},
    createdAt: now.toISOString(),
  };
  const decision = await decide(initial, { type: "start" }, now);
  // Until a worker claims a step the job is queued, not running.
  if (decision.state.status === "running") decision.state.status = "queued";
  const outcome = await insertJob(
    {
      tenantId: input.tenantId,
      jobId,
      createdBy: input.createdBy,
      definition: input.definition,
      input: initial.input,
      ...(input.workflowId === undefined ? {} : { workflowId: input.workflowId }),
      ...(input.workflowVersion === undefined ? {} : { workflowVersion: input.workflowVersion }),
      ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
      ...(input.scheduleId === undefined ? {} : { scheduleId: input.scheduleId }),
    },
    initial,
    decision,
    now,
  );
  if (!outcome.created) {
    const existing = await loadJob(input.tenantId, outcome.jobId);
    return { jobId: outcome.jobId, status: existing?.state.status ?? "queued", created: false };
  }
  metrics.addMetric("JobsStarted", MetricUnit.Count, 1);
  await runCommands(decision.state, decision.commands);
  return { jobId, status: decision.state.status, created: true };
}

function noChange(state: JobState): Decision {
  return { state, changedSteps: [], jobChanged: false, commands: [], notes: [] };
}

const TERMINAL = ["succeeded", "failed", "cancelled", "timed_out"];

/**
 * The worker's unit of work: claim the step named by the message, run it, record the result, and send the
 * messages of the steps that are ready now. Every write is conditional, so a duplicate or late message
 * changes nothing.
 */
export interface StepBudget {
  /** Epoch ms by which the invocation must be done with inline work (its timeout, less a margin). */
  deadline: number;
}

/**
 * Inline continuation: after an attempt's result is durably written, the worker runs the next ready Lambda
 * step itself while the invocation has time for it, saving a queue round trip (a send, a receive, a delete
 * and an invocation) per step. A worker that dies in between leaves the step queued without a message;
 * the sweeper re-sends it.
 */
export async function processStepMessage(message: StepMessage, budget?: StepBudget): Promise<void> {
  let next = await processOneStep(message, budget);
  while (next !== undefined) {
    const current: StepMessage = next;
    // The worker's log lines name the step they are about, inline ones included.
    logger.appendKeys({ nodeId: current.nodeId });
    try {
      next = await processOneStep(current, budget);
    } catch (error) {
      // The message being handled is done; the inline step has no message of its own yet, so give it one
      // rather than leave it to the sweeper.
      logger.warn("Inline step failed; sending it through the queue", { error: (error as Error).message });
      await sendStepMessages([{ message: current, delaySeconds: 0 }]);
      return;
    }
  }
}

async function processOneStep(message: StepMessage, budget?: StepBudget): Promise<StepMessage | undefined> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);

  // 1. Claim: queued → running for exactly this attempt, holding one of the tenant's run slots.
  let slot: Awaited<ReturnType<typeof acquireRunSlot>>;
  let busy = false;
  const claim = await withJob(tenantId, jobId, async (loaded) => {
    const { state } = loaded;
    const step = state.steps[key];
    if (TERMINAL.includes(state.status) || step === undefined || step.attempt !== attempt) return undefined;
    const now = new Date();
    if (step.status === "waiting") {
      return {
        decision: await decide(state, { type: "waitElapsed", nodeId, itemIndex }, now),
        result: "waited" as const,
      };
    }
    if (step.status !== "queued") return undefined;
    if (step.notBefore !== undefined && Date.parse(step.notBefore) > now.getTime() + 1000) {
      // Back-off longer than SQS's longest delay: send the message again for the time that is left.
      const remaining = (Date.parse(step.notBefore) - now.getTime()) / 1000;
      await sendStepMessages([{ message, delaySeconds: Math.min(remaining, MAX_DELAY_SECONDS) }]);
      return undefined;
    }
    const lambda = getNode(state, nodeId)?.runtime !== "fargate";
    if (lambda && slot === undefined) {
      slot = await acquireRunSlot(
        tenantId,
        `${jobId}:${key}:${attempt}`,
        leaseSecondsFor(state, nodeId),
        now,
      );
      if (slot === undefined) {
        busy = true;
        return undefined;
      }
    }
    const next: JobState = structuredClone(state);
    const claimed = next.steps[key];
    if (claimed === undefined) return undefined;
    claimed.status = "running";
    claimed.startedAt = now.toISOString();
    claimed.leaseUntil = new Date(now.getTime() + leaseSecondsFor(state, nodeId) * 1000).toISOString();
    if (next.status === "queued") {
      next.status = "running";
      next.startedAt ??= now.toISOString();
    }
    return {
      decision: { ...noChange(next), changedSteps: [claimed], jobChanged: next.status !== state.status },
      result: "claimed" as const,
    };
  });
  if (busy) {
    // Waiting for a slot is not a failure: a new message (with a fresh receive count) tries again shortly.
    const { min, max } = BUSY_RETRY_SECONDS;
    await sendStepMessages([{ message, delaySeconds: min + Math.random() * (max - min) }]);
    return undefined;
  }
  if (claim === undefined) logger.warn("Step message for an unknown job dropped", { tenantId, jobId });
  if (claim === undefined || claim.result !== "claimed" || !claim.committed) {
    await releaseRunSlot(slot);
    return undefined;
  }
  try {
    return await runClaimedStep(message, claim.loaded.state, budget);
  } finally {
    await releaseRunSlot(slot);
  }
}

/** Time kept in hand beyond the next step's own limit before running it inline. */
const INLINE_MARGIN_MS = 10_000;

async function runClaimedStep(
  message: StepMessage,
  claimedState: JobState,
  budget?: StepBudget,
): Promise<StepMessage | undefined> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);
  if (getNode(claimedState, nodeId)?.runtime === "fargate") {
    // Long steps leave the worker: the task runs the same step code and reports through recordStepOutcome.
    let taskArn: string;
    try {
      taskArn = await startStepTask(message);
    } catch (error) {
      logger.error("Could not start the step's task", error as Error);
      const reason = (error as Error).message;
      await recordStepOutcome(message, {
        ok: false,
        error: { code: "TASK_START_FAILED", message: reason },
        retryable: true,
      });
      return undefined;
    }
    await withJob(tenantId, jobId, async ({ state }) => {
      const step = state.steps[key];
      if (step === undefined || step.status !== "running" || step.attempt !== attempt) return undefined;
      const next = structuredClone(state);
      const running = next.steps[key] as StepState;
      running.taskArn = taskArn;
      return { decision: { ...noChange(next), changedSteps: [running] }, result: undefined };
    });
    return undefined;
  }

  // 2. Run. The step's own failures become a result; only infrastructure errors throw.
  const outcome = await executeStep(claimedState, nodeId, itemIndex, attempt);
  return recordStepOutcome(message, outcome, budget === undefined ? {} : { inlineUntil: budget.deadline });
}

/** 3. Records an attempt's result and advances the workflow. A result for an attempt that is no longer running is dropped. */
export async function recordStepOutcome(
  message: StepMessage,
  outcome: StepOutcome,
  options: { inlineUntil?: number } = {},
): Promise<StepMessage | undefined> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);
  const event: EngineEvent = outcome.ok
    ? {
        type: "stepSucceeded",
        nodeId,
        ...(itemIndex === undefined ? {} : { itemIndex }),
        attempt,
        output: outcome.output,
      }
    : {
        type: "stepFailed",
        nodeId,
        ...(itemIndex === undefined ? {} : { itemIndex }),
        attempt,
        error: outcome.error,
        retryable: outcome.retryable,
      };
  let inline: StepMessage | undefined;
  await withJob(tenantId, jobId, async (loaded) => {
    inline = undefined;
    const step = loaded.state.steps[key];
    if (step === undefined || step.status !== "running" || step.attempt !== attempt) return undefined;
    const decision = await decide(loaded.state, event, new Date());
    if (options.inlineUntil !== undefined) {
      const until = options.inlineUntil;
      const index = decision.commands.findIndex((command) => inlineable(decision.state, command, until));
      const command = decision.commands[index];
      if (command?.type === "run") {
        decision.commands.splice(index, 1);
        inline = {
          v: 1,
          tenantId,
          jobId,
          nodeId: command.nodeId,
          ...(command.itemIndex === undefined ? {} : { itemIndex: command.itemIndex }),
          attempt: command.attempt,
        };
      }
    }
    return { decision, result: undefined };
  });
  return inline;
}

/** A ready step the worker may run itself, right away, instead of sending it through the queue. */
function inlineable(state: JobState, command: Command, until: number): boolean {
  if (command.type !== "run" || command.delaySeconds > 0) return false;
  const node = getNode(state, command.nodeId);
  if (node === undefined || node.runtime === "fargate" || !["code", "tool", "agent"].includes(node.type))
    return false;
  return until - Date.now() > stepTimeoutSeconds(node) * 1000 + INLINE_MARGIN_MS;
}

/** Extends a running attempt's lease; false when the attempt is no longer running (cancelled, timed out). */
export async function heartbeat(message: StepMessage, leaseSeconds: number): Promise<boolean> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);
  const outcome = await withJob(tenantId, jobId, async ({ state }) => {
    const step = state.steps[key];
    if (TERMINAL.includes(state.status) || step?.status !== "running" || step.attempt !== attempt)
      return undefined;
    const next = structuredClone(state);
    const running = next.steps[key] as StepState;
    running.leaseUntil = new Date(Date.now() + leaseSeconds * 1000).toISOString();
    return { decision: { ...noChange(next), changedSteps: [running] }, result: true };
  });
  return outcome?.result === true;
}

async function decideOnJob(
  tenantId: string,
  jobId: string,
  event: EngineEvent,
  allowed: string[],
  verb: string,
) {
  const outcome = await withJob(tenantId, jobId, async (loaded) => {
    if (!allowed.includes(loaded.state.status)) {
      throw conflict(`Job ${jobId} is ${loaded.state.status} and cannot be ${verb}`);
    }
    return { decision: await decide(loaded.state, event, new Date()), result: undefined };
  });
  if (outcome === undefined) throw notFound("Job", jobId);
  return { jobId, status: outcome.loaded.state.status };
}

export function cancelJob(tenantId: string, jobId: string, reason?: string) {
  return decideOnJob(
    tenantId,
    jobId,
    { type: "cancel", ...(reason === undefined ? {} : { reason }) },
    ["queued", "running", "waiting"],
    "cancelled",
  );
}

export function retryJob(tenantId: string, jobId: string) {
  return decideOnJob(tenantId, jobId, { type: "retry" }, ["failed", "cancelled", "timed_out"], "retried");
}

/** Marks a step failed because its message could not be processed (dead-lettered), so the job does not hang. */
export async function failStepFromDeadLetter(message: StepMessage, reason: string): Promise<void> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);
  const error: StepError = { code: "DEAD_LETTERED", message: reason };
  await withJob(tenantId, jobId, async (loaded) => {
    const step = loaded.state.steps[key];
    if (TERMINAL.includes(loaded.state.status) || step === undefined || step.attempt !== attempt)
      return undefined;
    if (!["queued", "running", "waiting"].includes(step.status)) return undefined;
    // A step still queued has to pass through running for the engine to accept its failure.
    const state = structuredClone(loaded.state);
    const target = state.steps[key];
    if (target !== undefined) target.status = "running";
    return {
      decision: await decide(
        state,
        {
          type: "stepFailed",
          nodeId,
          ...(itemIndex === undefined ? {} : { itemIndex }),
          attempt,
          error,
          retryable: false,
        },
        new Date(),
      ),
      extraEvents: [
        { type: "job.note", nodeId, message: `Step dead-lettered: ${reason}`, reason: "DEAD_LETTERED" },
      ],
      result: undefined,
    };
  });
}
