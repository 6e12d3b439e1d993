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

/** Carries out an engine decision's side effects, after it was committed. Run commands become step messages. */
export async function runCommands(state: JobState, commands: Command[]): Promise<void> {
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
