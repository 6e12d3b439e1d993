import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { StepMessage } from "#events/steps";
import { sqsClient } from "./aws.ts";
import { ENV, requireEnv } from "./config.ts";

/** SQS caps a message's delay at 15 minutes; longer waits are re-sent by the worker until they are due. */
export const MAX_DELAY_SECONDS = 900;

export interface OutgoingStep {
  message: StepMessage;
  delaySeconds: number;
}

/** Sends in batches of ten and throws if any entry failed, so the caller's retry covers it. */
export async function sendStepMessages(
  steps: OutgoingStep[],
  queueUrl = requireEnv(ENV.stepsQueueUrl),
): Promise<void> {
  for (let i = 0; i < steps.length; i += 10) {
    const chunk = steps.slice(i, i + 10);
    const result = await sqsClient().send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((step, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(step.message),
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
