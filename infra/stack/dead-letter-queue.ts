import { Duration } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { acknowledge } from "./nag.ts";

/** Longest retention SQS allows: parked messages wait for a person, who may be away for a while. */
export const parkedRetention = Duration.days(14);

/**
 * A queue that is itself a place of last resort (an on-failure destination or a target DLQ). It has no
 * DLQ of its own: there is nowhere further to send what could not be handled here.
 */
export function deadLetterQueue(scope: Construct, id: string, props: { holds: string }): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: parkedRetention,
  });
  const reason = `This queue is itself a dead-letter destination: it holds ${props.holds}. A second-level DLQ would only move the same messages again.`;
  acknowledge(queue, "AwsSolutions-SQS3", reason);
  acknowledge(queue, "Serverless-SQSRedrivePolicy", reason);
  return queue;
}
