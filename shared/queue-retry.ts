import { ChangeMessageVisibilityCommand } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { sqsClient } from "./aws.ts";
import { logger } from "./observability.ts";

/** `arn:aws:sqs:region:account:name` → the queue URL the SDK's endpoint resolution would use. */
function queueUrlOf(record: SQSRecord): string | undefined {
  const [, , , region, account, name] = record.eventSourceARN.split(":");
  if (region === undefined || account === undefined || name === undefined) return undefined;
  const endpoint =
    process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL ?? `https://sqs.${region}.amazonaws.com`;
  return `${endpoint.replace(/\/$/, "")}/${account}/${name}`;
}

/**
 * A failed record would otherwise wait out the queue's whole visibility timeout (several minutes) before
 * its next try. Shorten it to an exponential back-off on the receive count, so transient errors heal fast
 * and the redrive to the DLQ still happens after maxReceiveCount receives.
 */
export async function backOffRecord(record: SQSRecord): Promise<void> {
  const url = queueUrlOf(record);
  if (url === undefined) return;
  const receives = Number(record.attributes.ApproximateReceiveCount ?? "1");
  const seconds = Math.min(900, 2 ** Math.min(receives, 9));
  try {
    await sqsClient().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  } catch (error) {
    // The message still comes back after the queue's visibility timeout; only the back-off is lost.
    logger.warn("Could not shorten the visibility of a failed record", { error: (error as Error).message });
  }
}
