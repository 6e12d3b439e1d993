import { WORKER_TIMEOUT_SECONDS } from "#events/queues";
import type { BatchItem, StepMessage } from "#events/steps";
import { decide, getNode, isTerminalJob } from "../engine/engine.ts";
import { type Command, chunkOf, type Decision, type JobState, stepKey } from "../engine/types.ts";
import { logger } from "../observability.ts";
import { MAX_DELAY_SECONDS, type OutgoingStep, sendStepMessages } from "../queues.ts";
import { batchMessageFor, stepMessageFor } from "./batches.ts";
import { runCommands } from "./effects.ts";
import { keepLogs, outcomeEvent } from "./outcomes.ts";
import { executeStep, leaseSecondsFor, type StepOutcome, stepTimeoutSeconds } from "./run-step.ts";
import { decideAndCommit } from "./unit-of-work.ts";

/** Time kept in hand beyond an item's own limit before starting it. */
const ITEM_MARGIN_MS = 10_000;
/** The inline time of a fresh worker invocation: its timeout less the steps handler's safety margin. */
const FRESH_INVOCATION_MS = (WORKER_TIMEOUT_SECONDS - 15) * 1000;

export interface BatchOptions {
  /** Epoch ms by which the invocation must be done with inline work. */
  deadline?: number;
  now?: () => Date;
}

export interface BatchReport {
  /** Items this delivery claimed. */
  claimed: number[];
  /** Claimed items that ran and whose results this delivery recorded. */
  recorded: number[];
  /**
   * Claimed items it did not run: released to the queue at the same attempt, in one batch message when time
   * ran out, one message each after a platform error.
   */
  released: number[];
  /** Nothing was claimed: the invocation had no time left for one item, so the message went back as it was. */
  deferred?: boolean;
  /** Items another worker holds: the batch of them comes back when their leases lapse. */
  held: number[];
}

/** Several decisions taken one after another on one state, as one decision for one commit. */
export function foldDecisions(first: JobState, decisions: Decision[]): Decision {
  const last = decisions.at(-1);
  const state = last?.state ?? first;
  const keys = new Set(decisions.flatMap((d) => d.changedSteps.map((s) => stepKey(s.nodeId, s.itemIndex))));
  return {
    state,
    changedSteps: [...keys].flatMap((key) => {
      const step = state.steps[key];
      return step === undefined ? [] : [step];
    }),
    jobChanged: decisions.some((d) => d.jobChanged),
    commands: decisions.flatMap((d) => d.commands),
    notes: decisions.flatMap((d) => d.notes),
  };
}

/**
 * Runs the items a batch message names (one forEach node, one chunk) in this invocation: one write of the
 * chunk claims every item that is still queued at the named attempt (or whose lease lapsed), they run one
 * after another while the invocation and the claim's lease have time, and one write of the chunk records
 * every result through the engine, together with the release of the items there was no time for. A lost
 * race decides again on the fresh chunk, so a duplicate delivery claims nothing and a result is dropped only
 * when its attempt is provably over. The chunk's count then reaches the job item as for a single item.
 */
export async function processBatchMessage(
  message: StepMessage,
  options: BatchOptions = {},
): Promise<BatchReport> {
  const { tenantId, jobId, nodeId } = message;
  const items = message.items ?? [];
  const clock = options.now ?? (() => new Date());
  const report: BatchReport = { claimed: [], recorded: [], released: [], held: [] };
  const first = items[0];
  if (first === undefined) return report;
  const chunk = { nodeId, chunk: chunkOf(first.i) };
  let claimedAt = 0;
  let heldUntil = 0;
  let leaseSeconds = 0;
  let noTime: "later" | "alone" | undefined;
  const claim = await decideAndCommit(
    tenantId,
    jobId,
    async (loaded) => {
      const claimed: BatchItem[] = [];
      const held: number[] = [];
      heldUntil = 0;
      const { state } = loaded;
      if (isTerminalJob(state.status) || getNode(state, nodeId) === undefined) return undefined;
      const now = clock();
      leaseSeconds = leaseSecondsFor(state, nodeId);
      const itemMs = stepTimeoutSeconds(getNode(state, nodeId)) * 1000 + ITEM_MARGIN_MS;
      noTime = undefined;
      if (options.deadline !== undefined && options.deadline - now.getTime() <= itemMs) {
        // Claimed now, the items would only be released again: the message goes back untouched, to an
        // invocation with time, or item by item when even a fresh invocation could not run one.
        noTime = itemMs < FRESH_INVOCATION_MS ? "later" : "alone";
        return undefined;
      }
      const decisions: Decision[] = [];
      let current = state;
      for (const item of items) {
        const step = current.steps[stepKey(nodeId, item.i)];
        if (step === undefined || step.attempt !== item.a) continue;
        if (step.status === "running") {
          const lease = Date.parse(step.leaseUntil ?? "");
          if (Number.isFinite(lease) && lease > now.getTime()) {
            held.push(item.i);
            heldUntil = Math.max(heldUntil, lease);
            continue;
          }
        } else if (step.status !== "queued") continue;
        if (step.notBefore !== undefined && Date.parse(step.notBefore) > now.getTime() + 1000) continue;
        const decision = await decide(
          current,
          { type: "claim", nodeId, itemIndex: item.i, attempt: item.a, leaseSeconds },
          now,
        );
        if (decision.changedSteps.length === 0) continue;
        decisions.push(decision);
        current = decision.state;
        claimed.push(item);
      }
      claimedAt = now.getTime();
      if (decisions.length === 0) return { decision: foldDecisions(state, []), result: { claimed, held } };
      return { decision: foldDecisions(state, decisions), result: { claimed, held } };
    },
    { chunk, keepCommands: true, now: clock },
  );
  if (claim === undefined) {
    logger.warn("Batch message for an unknown job dropped", { tenantId, jobId });
    return report;
  }
  if (noTime !== undefined) {
    report.deferred = true;
    const state = claim.loaded.state;
    await sendStepMessages(
      noTime === "later"
        ? [{ message, delaySeconds: 0 }]
        : items.map((item) => ({
            message: stepMessageFor(state, {
              type: "run",
              nodeId,
              itemIndex: item.i,
              attempt: item.a,
              delaySeconds: 0,
            }),
            delaySeconds: 0,
          })),
    );
    return report;
  }
  if (claim.result === undefined) return report;
  const { claimed, held } = claim.result;
  report.held = held;
  if (held.length > 0) {
    // Another worker runs these; its result may not be recorded yet. The batch of them comes back when the
    // leases lapse and takes over whatever is still open then.
    const back = held.map((i) => items.find((item) => item.i === i) as BatchItem);
    const delay = Math.ceil((heldUntil - clock().getTime()) / 1000) + 1;
    await sendStepMessages([
      {
        message: batchMessageFor(claim.loaded.state, nodeId, back),
        delaySeconds: Math.min(Math.max(0, delay), MAX_DELAY_SECONDS),
      },
    ]);
  }
  if (!claim.committed || claimed.length === 0) return report;
  report.claimed = claimed.map((item) => item.i);

  const node = getNode(claim.loaded.state, nodeId);
  const itemMs = stepTimeoutSeconds(node) * 1000 + ITEM_MARGIN_MS;
  // The claim's lease covers an item's whole run only when that item starts early enough.
  const until = Math.min(options.deadline ?? Number.POSITIVE_INFINITY, claimedAt + leaseSeconds * 1000);
  const outcomes: { item: BatchItem; outcome: StepOutcome }[] = [];
  const left: BatchItem[] = [];
  const broken = new Set<number>();
  for (const item of claimed) {
    if (until - clock().getTime() <= itemMs) {
      left.push(item);
      continue;
    }
    try {
      outcomes.push({ item, outcome: await executeStep(claim.loaded.state, nodeId, item.i, item.a) });
    } catch (error) {
      // A platform error of one item: the items after it are released rather than left to their leases.
      logger.warn("Batch item failed to run; releasing the rest", {
        itemIndex: item.i,
        error: (error as Error).message,
      });
      for (const rest of claimed.slice(claimed.indexOf(item))) {
        left.push(rest);
        broken.add(rest.i);
      }
      break;
    }
  }

  const released: BatchItem[] = [];
  const recorded = await decideAndCommit(
    tenantId,
    jobId,
    async (loaded) => {
      released.length = 0;
      const done: number[] = [];
      const now = clock();
      const decisions: Decision[] = [];
      let current = loaded.state;
      for (const { item, outcome } of outcomes) {
        const key = stepKey(nodeId, item.i);
        const step = current.steps[key];
        if (step === undefined || step.status !== "running" || step.attempt !== item.a) continue;
        const decision = await decide(
          current,
          outcomeEvent({ nodeId, itemIndex: item.i, attempt: item.a }, outcome),
          now,
        );
        keepLogs(decision, key, outcome);
        if (decision.changedSteps.length === 0 && !decision.jobChanged) continue;
        decisions.push(decision);
        current = decision.state;
        done.push(item.i);
      }
      for (const item of left) {
        const step = current.steps[stepKey(nodeId, item.i)];
        if (step === undefined || step.status !== "running" || step.attempt !== item.a) continue;
        const decision = await decide(
          current,
          { type: "requeue", nodeId, itemIndex: item.i, attempt: item.a, workerLost: true },
          now,
        );
        if (decision.changedSteps.length === 0) continue;
        decisions.push(decision);
        current = decision.state;
        released.push(item);
      }
      if (decisions.length === 0) return undefined;
      return { decision: foldDecisions(loaded.state, decisions), result: done };
    },
    { chunk, keepCommands: true, loaded: claim.loaded, now: clock },
  );
  if (recorded?.decision === undefined) return report;
  report.recorded = recorded.result ?? [];
  report.released = released.map((item) => item.i);
  await afterRecord(recorded.decision.state, recorded.decision.commands, released, broken);
  return report;
}

/**
 * Carries out the record's commands. Items released for want of time go back as one batch (the decision's
 * run commands are grouped per chunk as usual); after a platform error each goes back on its own, so one
 * item that keeps failing to run is retried and dead-lettered alone instead of taking its chunk with it.
 */
async function afterRecord(
  state: JobState,
  commands: Command[],
  released: BatchItem[],
  broken: Set<number>,
): Promise<void> {
  const alone = new Set(released.filter((item) => broken.has(item.i)).map((item) => `${item.i}#${item.a}`));
  const own: OutgoingStep[] = [];
  const rest = commands.filter((command) => {
    if (command.type !== "run" || command.itemIndex === undefined) return true;
    if (!alone.has(`${command.itemIndex}#${command.attempt}`)) return true;
    own.push({ message: stepMessageFor(state, command), delaySeconds: command.delaySeconds });
    return false;
  });
  if (own.length > 0) await sendStepMessages(own);
  await runCommands(state, rest);
}

/** A batch whose message exhausted its receives: each of its items is dead-lettered, in one chunk write. */
export async function failBatchFromDeadLetter(message: StepMessage, reason: string): Promise<void> {
  const items = message.items ?? [];
  const first = items[0];
  if (first === undefined) return;
  await decideAndCommit(
    message.tenantId,
    message.jobId,
    async ({ state }) => {
      const now = new Date();
      const decisions: Decision[] = [];
      let current = state;
      for (const item of items) {
        const decision = await decide(
          current,
          { type: "deadLettered", nodeId: message.nodeId, itemIndex: item.i, attempt: item.a, reason },
          now,
        );
        if (decision.changedSteps.length === 0) continue;
        decisions.push(decision);
        current = decision.state;
      }
      if (decisions.length === 0) return undefined;
      return {
        decision: foldDecisions(state, decisions),
        extraEvents: [
          {
            type: "job.note",
            nodeId: message.nodeId,
            message: `Steps dead-lettered (items ${items.map((item) => item.i).join(", ")}): ${reason}`,
            reason: "DEAD_LETTERED",
          },
        ],
        result: undefined,
      };
    },
    { chunk: { nodeId: message.nodeId, chunk: chunkOf(first.i) } },
  );
}

/**
 * Fans out a forEach node whose fan-out the API deferred (its own step is queued): one commit writes its
 * chunks and the job item, and its items go out one message per chunk. A repeat finds it fanned out already.
 */
export async function startFanOut(message: StepMessage): Promise<boolean> {
  const { tenantId, jobId, nodeId, attempt } = message;
  const outcome = await decideAndCommit(tenantId, jobId, async ({ state }) => {
    const step = state.steps[nodeId];
    if (isTerminalJob(state.status) || step?.status !== "queued" || step.attempt !== attempt)
      return undefined;
    const decision = await decide(state, { type: "fanOut", nodeId, attempt }, new Date());
    return decision.changedSteps.length === 0 ? undefined : { decision, result: true };
  });
  if (outcome === undefined) logger.warn("Fan-out message for an unknown job dropped", { tenantId, jobId });
  return outcome?.result === true;
}
