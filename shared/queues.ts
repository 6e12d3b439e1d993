import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { stepQueueFor } from "#events/queues";
import type { StepMessage } from "#events/steps";
import { sqsClient } from "./aws.ts";
import { requireEnv } from "./config.ts";

/** SQS caps a message's delay at 15 minutes; longer waits are re-sent by the worker until they are due. */
export const MAX_DELAY_SECONDS = 900;

export interface OutgoingStep {
  message: StepMessage;
  delaySeconds: number;
}

/** The queue URL of each step's priority, in the order the steps came. */
export function groupByQueue(steps: OutgoingStep[]): Map<string, OutgoingStep[]> {
  const byQueue = new Map<string, OutgoingStep[]>();
  for (const step of steps) {
    const url = requireEnv(stepQueueFor(step.message.priority).urlEnv);
    byQueue.set(url, [...(byQueue.get(url) ?? []), step]);
  }
  return byQueue;
}

/**
 * Sends each step to its priority's queue, in batches of ten, and throws if any entry failed, so the
 * caller's retry covers it. The tenant is the message group: on a standard queue that makes SQS deliver
 * fairly between tenants (fair queues), with no ordering or throughput cost.
 */
export async function sendStepMessages(steps: OutgoingStep[]): Promise<void> {
  for (const [queueUrl, queued] of groupByQueue(steps)) {
    for (let i = 0; i < queued.length; i += 10) {
      const chunk = queued.slice(i, i + 10);
      const result = await sqsClient().send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((step, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(step.message),
            MessageGroupId: step.message.tenantId,
            DelaySeconds: Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.ceil(step.delaySeconds))),
          })),
        }),
      );
      if (result.Failed !== undefined && result.Failed.length > 0) {
        const first = result.Failed[0];
        throw new Error(
          `SQS refused ${result.Failed.length} step message(s): ${first?.Code} ${first?.Message ?? ""}`,
        );
      }
    }
  }
}
