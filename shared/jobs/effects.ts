import { requestApproval } from "../approvals/request.ts";
import type { Command, JobState } from "../engine/types.ts";
import { logger } from "../observability.ts";
import { type OutgoingStep, sendStepMessages } from "../queues.ts";
import { stepMessagesFor } from "./batches.ts";
import { stopStepTask } from "./tasks.ts";

export { stepMessageFor } from "./batches.ts";

/** Step messages per send call group (SQS batches hold 10), and how many groups go out at once. */
const SEND_GROUP = 50;
const SEND_LANES = 8;

/** A job item rides along with a step message up to this size (SQS bills each 64 KB of a request). */
export const SNAPSHOT_MAX_BYTES = 16 * 1024;
/** …and to at most this many of one commit's messages, so a send batch stays far below SQS's limit. */
const SNAPSHOT_MAX_MESSAGES = 10;

/**
 * Gives the single-step messages of a commit the job item it wrote (`job`), so the worker that takes one
 * makes no read. forEach items and batches read their chunk anyway and go without.
 */
export function withSnapshot(outgoing: OutgoingStep[], item: Record<string, unknown> | undefined): void {
  if (item === undefined) return;
  const singles = outgoing.filter(
    ({ message }) =>
      message.itemIndex === undefined && message.items === undefined && message.fanOut === undefined,
  );
  if (singles.length === 0 || singles.length > SNAPSHOT_MAX_MESSAGES) return;
  if (Buffer.byteLength(JSON.stringify(item)) > SNAPSHOT_MAX_BYTES) return;
  for (const step of singles) step.message = { ...step.message, job: item };
}

/**
 * Carries out an engine decision's side effects, after it was committed. Run commands become step messages;
 * `committed` is the job item the commit wrote, which they carry when small (see withSnapshot).
 */
export async function runCommands(
  state: JobState,
  commands: Command[],
  committed?: Record<string, unknown>,
): Promise<void> {
  const runs: Extract<Command, { type: "run" }>[] = [];
  const approvals: Extract<Command, { type: "requestApproval" }>[] = [];
  for (const command of commands) {
    switch (command.type) {
      case "run":
        runs.push(command);
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
  const outgoing = stepMessagesFor(state, runs);
  withSnapshot(outgoing, committed);
  // A wide fan-out starts thousands of items at once: their batches go out several at a time.
  const batches: OutgoingStep[][] = [];
  for (let i = 0; i < outgoing.length; i += SEND_GROUP) batches.push(outgoing.slice(i, i + SEND_GROUP));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(SEND_LANES, batches.length) }, async () => {
      while (next < batches.length) await sendStepMessages(batches[next++] as OutgoingStep[]);
    }),
  );
  // After the step messages, so a failing approval write cannot hold back work that is ready. Each approval
  // and its timeline event are one idempotent transaction (see requestApproval).
  for (const command of approvals) await requestApproval(state, command);
}
