import type { StepMessage } from "#events/steps";
import { decide, getNode, isTerminalJob } from "../engine/engine.ts";
import { nodeKind } from "../engine/nodes/index.ts";
import { nodeRunner } from "../engine/nodes/runners.ts";
import { type Command, chunkOf, type Decision, stepKey } from "../engine/types.ts";
import { logger } from "../observability.ts";
import { MAX_DELAY_SECONDS, sendStepMessages } from "../queues.ts";
import { type LoadedJob, loadedFromItem } from "../stores/jobs.ts";
import { failBatchFromDeadLetter, processBatchMessage, startFanOut } from "./chunk-run.ts";
import { runCommands, stepMessageFor } from "./effects.ts";
import { combined, keepLogs, outcomeEvent } from "./outcomes.ts";
import { foldLinks, isPure, PURE_COMMIT_EVERY_MS, runLinks, where } from "./pure-chain.ts";
import { executeStep, leaseSecondsFor, type StepOutcome, stepTimeoutSeconds } from "./run-step.ts";
import { startStepTask } from "./tasks.ts";
import { decideAndCommit } from "./unit-of-work.ts";

export interface StepBudget {
  /** Epoch ms by which the invocation must be done with inline work (its timeout, less a margin). */
  deadline: number;
}

/** Time kept in hand beyond the next step's own limit before running it inline. */
const INLINE_MARGIN_MS = 10_000;

/** A step claimed in the same commit that recorded the previous one: the worker runs it next, itself. */
interface InlineStep {
  message: StepMessage;
  loaded: LoadedJob;
  /** Not claimed: a pure step, queued in `loaded`, which the worker runs in memory (see runPureChain). */
  pure?: boolean;
}

export { PURE_COMMIT_EVERY_MS, PURE_UNCLAIMED_MAX_SECONDS } from "./pure-chain.ts";

/** A forEach item's decisions are taken on its chunk (see decideAndCommit's `chunk`). */
function chunkOption(message: StepMessage): { chunk?: { nodeId: string; chunk: number } } {
  return message.itemIndex === undefined
    ? {}
    : { chunk: { nodeId: message.nodeId, chunk: chunkOf(message.itemIndex) } };
}

async function resend(message: StepMessage, delaySeconds: number): Promise<void> {
  // The job item it carried is out of date by now: the next delivery reads the job.
  const { job: _stale, ...fresh } = message;
  await sendStepMessages([
    { message: fresh, delaySeconds: Math.min(Math.max(0, delaySeconds), MAX_DELAY_SECONDS) },
  ]);
}

/** The job as the message's own commit wrote it, when it carries that item for this job. */
async function snapshotOf(message: StepMessage): Promise<LoadedJob | undefined> {
  const item = message.job;
  if (item === undefined || item.id !== message.jobId || item.tenantId !== message.tenantId) return undefined;
  return loadedFromItem(item);
}

/**
 * The worker's unit of work: claim the step named by the message, run it, record the result together with
 * the claim of the next ready step, and run that one too while the invocation has time, saving a queue round
 * trip per step. Every write is conditional, so a duplicate or late message changes nothing. Fairness between
 * tenants costs no writes here: the steps queues deliver fairly by message group (the tenant).
 */
export async function processStepMessage(message: StepMessage, budget?: StepBudget): Promise<void> {
  if (message.items !== undefined) {
    await processBatchMessage(message, budget === undefined ? {} : { deadline: budget.deadline });
    return;
  }
  if (message.fanOut === true) {
    await startFanOut(message);
    return;
  }
  let next = await claimAndRun(message, budget);
  while (next !== undefined) {
    const current: InlineStep = next;
    logger.appendKeys({ nodeId: current.message.nodeId });
    try {
      next = current.pure
        ? await runPureChain(current.message, current.loaded, budget)
        : await runClaimedStep(current.message, current.loaded, budget);
    } catch (error) {
      // The inline step is claimed but has no message of its own: give it one. Its lease is live, so that
      // message waits for the lease to lapse and then takes the attempt again.
      logger.warn("Inline step failed; sending it through the queue", { error: (error as Error).message });
      await resend(current.message, 0);
      return;
    }
  }
}

async function claimAndRun(
  message: StepMessage,
  budget: StepBudget | undefined,
): Promise<InlineStep | undefined> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);
  let later: number | undefined;
  let pure: LoadedJob | undefined;
  const snapshot = await snapshotOf(message);
  const claim = await decideAndCommit(
    tenantId,
    jobId,
    async (loaded) => {
      later = undefined;
      pure = undefined;
      const { state } = loaded;
      const step = state.steps[key];
      if (isTerminalJob(state.status) || step === undefined || step.attempt !== attempt) return undefined;
      const now = new Date();
      if (step.status === "waiting") {
        return {
          decision: await decide(state, { type: "waitElapsed", nodeId, itemIndex }, now),
          result: "waited" as const,
        };
      }
      if (step.status === "running") {
        const lease = Date.parse(step.leaseUntil ?? "");
        if (Number.isFinite(lease) && lease > now.getTime()) {
          // Another worker holds this attempt. Its result may not be recorded yet, so this message must not
          // just vanish: it comes back when the lease lapses, and takes the attempt over if it is still open.
          later = (lease - now.getTime()) / 1000 + 1;
          return undefined;
        }
      } else if (step.status !== "queued") return undefined;
      if (step.notBefore !== undefined && Date.parse(step.notBefore) > now.getTime() + 1000) {
        // Back-off longer than SQS's longest delay: send the message again for the time that is left.
        later = (Date.parse(step.notBefore) - now.getTime()) / 1000;
        return undefined;
      }
      if (step.status === "queued" && itemIndex === undefined && isPure(state, nodeId)) {
        // No claim: the step runs in memory and its result is the first write (runPureChain).
        pure = loaded;
        return undefined;
      }
      const leaseSeconds = leaseSecondsFor(state, nodeId);
      return {
        decision: await decide(state, { type: "claim", ...where(message), leaseSeconds }, now),
        result: "claimed" as const,
      };
    },
    { ...chunkOption(message), ...(snapshot === undefined ? {} : { loaded: snapshot }) },
  );
  if (snapshot !== undefined && claim?.loaded === snapshot && !claim.committed && pure === undefined) {
    // Nothing to do, as the copy has it: the copy may be stale, so the job itself has the last word.
    const { job: _copy, ...bare } = message;
    return claimAndRun(bare, budget);
  }
  if (later !== undefined) {
    await resend(message, later);
    return undefined;
  }
  if (pure !== undefined) return runPureChain(message, pure, budget);
  if (claim === undefined) logger.warn("Step message for an unknown job dropped", { tenantId, jobId });
  if (claim === undefined || claim.result !== "claimed" || !claim.committed) return undefined;
  return runClaimedStep(message, claim.loaded, budget);
}

async function runClaimedStep(
  message: StepMessage,
  loaded: LoadedJob,
  budget?: StepBudget,
): Promise<InlineStep | undefined> {
  const { tenantId, jobId, nodeId } = message;
  if (getNode(loaded.state, nodeId)?.runtime === "fargate") {
    // Long steps leave the worker: the task runs the same step code and reports through recordStepOutcome.
    let taskArn: string;
    try {
      taskArn = await startStepTask(message);
    } catch (error) {
      logger.error("Could not start the step's task", error as Error);
      await recordStepOutcome(
        message,
        {
          ok: false,
          error: { code: "TASK_START_FAILED", message: (error as Error).message },
          retryable: true,
        },
        { loaded },
      );
      return undefined;
    }
    await decideAndCommit(
      tenantId,
      jobId,
      async ({ state }) => ({
        decision: await decide(state, { type: "taskStarted", ...where(message), taskArn }, new Date()),
        result: undefined,
      }),
      { loaded, ...chunkOption(message) },
    );
    return undefined;
  }
  // The step's own failures become a result; only infrastructure errors throw.
  const outcome = await executeStep(loaded.state, nodeId, message.itemIndex, message.attempt);
  return recordStepOutcome(message, outcome, {
    loaded,
    ...(budget === undefined ? {} : { inlineUntil: budget.deadline }),
  });
}

/** A ready step the worker may run itself, right away, instead of sending it through the queue. */
function inlineable(
  decision: Decision,
  command: Command,
  until: number,
): command is Extract<Command, { type: "run" }> {
  if (command.type !== "run" || command.delaySeconds > 0) return false;
  const node = getNode(decision.state, command.nodeId);
  if (node === undefined || node.runtime === "fargate" || nodeKind(node.type)?.inline !== true) return false;
  return until - Date.now() > stepTimeoutSeconds(node) * 1000 + INLINE_MARGIN_MS;
}

/** One decision for one commit: `first`, then the claim of `inlined` (one of its run commands). */
function withClaim(first: Decision, claim: Decision, inlined: Command): Decision {
  return combined(first, claim, (command) => command === inlined);
}

/**
 * Records an attempt's result and advances the workflow, in one commit that may also claim the next ready
 * step for this worker to run inline. A lost race is decided again on the fresh state until it is recorded;
 * the result is dropped only when the attempt is provably over (recorded, superseded, cancelled, timed out).
 */
export async function recordStepOutcome(
  message: StepMessage,
  outcome: StepOutcome,
  options: { inlineUntil?: number; loaded?: LoadedJob } = {},
): Promise<InlineStep | undefined> {
  const { tenantId, jobId, nodeId, itemIndex, attempt } = message;
  const key = stepKey(nodeId, itemIndex);
  const event = outcomeEvent(where(message), outcome);
  let inline: StepMessage | undefined;
  let inlined: Command | undefined;
  let inlinePure = false;
  const recorded = await decideAndCommit(
    tenantId,
    jobId,
    async (loaded) => {
      inline = undefined;
      inlined = undefined;
      inlinePure = false;
      const step = loaded.state.steps[key];
      if (step === undefined || step.status !== "running" || step.attempt !== attempt) return undefined;
      const now = new Date();
      let decision = await decide(loaded.state, event, now);
      keepLogs(decision, key, outcome);
      const until = options.inlineUntil;
      const command =
        until === undefined ? undefined : decision.commands.find((c) => inlineable(decision, c, until));
      if (
        command !== undefined &&
        command.itemIndex === undefined &&
        isPure(decision.state, command.nodeId)
      ) {
        // Left queued, without a message: this worker runs it next, in memory, and records it unclaimed.
        decision = { ...decision, commands: decision.commands.filter((c) => c !== command) };
        inlined = command;
        inline = stepMessageFor(decision.state, command);
        inlinePure = true;
      } else if (command !== undefined && command.type === "run") {
        const leaseSeconds = leaseSecondsFor(decision.state, command.nodeId);
        const claim = await decide(
          decision.state,
          {
            type: "claim",
            nodeId: command.nodeId,
            ...(command.itemIndex === undefined ? {} : { itemIndex: command.itemIndex }),
            attempt: command.attempt,
            leaseSeconds,
          },
          now,
        );
        if (claim.changedSteps.length > 0) {
          decision = withClaim(decision, claim, command);
          inlined = command;
          inline = stepMessageFor(decision.state, command);
        }
      }
      return { decision, result: undefined };
    },
    {
      keepCommands: true,
      ...chunkOption(message),
      ...(options.loaded === undefined ? {} : { loaded: options.loaded }),
    },
  );
  if (recorded?.decision !== undefined)
    await runCommands(recorded.decision.state, recorded.decision.commands, recorded.loaded.item);
  if (!recorded?.committed || inline === undefined || inlined === undefined) return undefined;
  return { message: inline, loaded: recorded.loaded, ...(inlinePure ? { pure: true } : {}) };
}

/**
 * Runs a chain of pure steps in memory, starting with the queued step `first` names, and records them with
 * ONE conditional write on the job's version: no claim is written. The chain goes on to the next ready pure
 * step while the invocation has time, and commits at least every PURE_COMMIT_EVERY_MS of work, before any
 * step that is not pure (whose claim joins the commit when it may run inline), and at its end. A lost race
 * re-applies the links on the fresh state; links whose step is no longer open are dropped there.
 */
async function runPureChain(
  first: StepMessage,
  loaded: LoadedJob,
  budget: StepBudget | undefined,
): Promise<InlineStep | undefined> {
  const { links } = await runLinks(loaded.state, first, {
    runners: nodeRunner,
    next: (decision) => (budget === undefined ? undefined : nextRun(decision, budget.deadline)),
    budgetMs: budget === undefined ? 0 : PURE_COMMIT_EVERY_MS,
  });
  if (links.length === 0) return undefined;
  const { tenantId, jobId } = first;
  let follow: { message: StepMessage; pure: boolean; command: Command } | undefined;
  const recorded = await decideAndCommit(
    tenantId,
    jobId,
    async (fresh) => {
      follow = undefined;
      const folded = await foldLinks(fresh.state, links);
      if (folded.decision === undefined) return undefined;
      let decision = folded.decision;
      const ran = links
        .slice(0, folded.applied)
        .map((link): [string, number] => [link.message.nodeId, link.message.attempt]);
      const command = budget === undefined ? undefined : nextRun(decision, budget.deadline);
      if (command !== undefined && isPure(decision.state, command.nodeId)) {
        follow = { message: stepMessageFor(decision.state, command), pure: true, command };
      } else if (command !== undefined) {
        const claim = await decide(
          decision.state,
          {
            type: "claim",
            nodeId: command.nodeId,
            attempt: command.attempt,
            leaseSeconds: leaseSecondsFor(decision.state, command.nodeId),
          },
          new Date(),
        );
        if (claim.changedSteps.length > 0) {
          decision = withClaim(decision, claim, command);
          follow = { message: stepMessageFor(decision.state, command), pure: false, command };
        }
      }
      if (follow !== undefined) {
        const taken = follow.command;
        decision = { ...decision, commands: decision.commands.filter((c) => c !== taken) };
      }
      return { decision, ran, result: undefined };
    },
    { loaded, keepCommands: true },
  );
  if (recorded?.decision !== undefined)
    await runCommands(recorded.decision.state, recorded.decision.commands, recorded.loaded.item);
  if (!recorded?.committed || follow === undefined) return undefined;
  return { message: follow.message, loaded: recorded.loaded, ...(follow.pure ? { pure: true } : {}) };
}

/** The first run command of `decision` the worker may take inline now (node-level steps only). */
function nextRun(decision: Decision, until: number): Extract<Command, { type: "run" }> | undefined {
  return decision.commands.find(
    (c): c is Extract<Command, { type: "run" }> =>
      c.type === "run" && c.itemIndex === undefined && inlineable(decision, c, until),
  );
}

/** Extends a running attempt's lease; false when the attempt is no longer running (cancelled, timed out). */
export async function heartbeat(message: StepMessage, leaseSeconds: number): Promise<boolean> {
  const key = stepKey(message.nodeId, message.itemIndex);
  const outcome = await decideAndCommit(
    message.tenantId,
    message.jobId,
    async ({ state }) => {
      const step = state.steps[key];
      if (isTerminalJob(state.status) || step?.status !== "running" || step.attempt !== message.attempt)
        return undefined;
      return {
        decision: await decide(state, { type: "renewLease", ...where(message), leaseSeconds }, new Date()),
        result: true,
      };
    },
    chunkOption(message),
  );
  return outcome?.result === true;
}

/**
 * Marks the step of a dead-lettered message failed, so the job does not hang. Returns whether the step
 * now stands failed by this dead letter (failed here, or by an earlier delivery of the same one): false
 * when the step has moved on since (a job retry, a later attempt), so a late delivery of an old dead
 * letter leaves no record for a redrive.
 */
export async function failStepFromDeadLetter(message: StepMessage, reason: string): Promise<boolean> {
  if (message.items !== undefined) {
    await failBatchFromDeadLetter(message, reason);
    return true;
  }
  let stands = false;
  await decideAndCommit(
    message.tenantId,
    message.jobId,
    async ({ state }) => {
      const decision = await decide(state, { type: "deadLettered", ...where(message), reason }, new Date());
      const step = state.steps[stepKey(message.nodeId, message.itemIndex)];
      stands =
        decision.changedSteps.length > 0 ||
        (step?.status === "failed" &&
          step.attempt === message.attempt &&
          step.error?.code === "DEAD_LETTERED");
      if (decision.changedSteps.length === 0) return undefined;
      return {
        decision,
        extraEvents: [
          {
            type: "job.note",
            nodeId: message.nodeId,
            message: `Step dead-lettered: ${reason}`,
            reason: "DEAD_LETTERED",
          },
        ],
        result: undefined,
      };
    },
    chunkOption(message),
  );
  return stands;
}
