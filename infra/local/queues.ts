import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { QueueSpec } from "#infra/manifest";

export interface QueueOverrides {
  visibilityTimeoutSeconds?: number;
  maxReceiveCount?: number;
  /** Batches the consumer runs at once: a test that needs a backlog to build slows the drain with it. */
  concurrency?: number;
}

export interface LocalQueue {
  spec: QueueSpec;
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

/** The manifest's concurrencies are for AWS; one laptop runs this share of each, and at least one batch. */
const LOCAL_CONCURRENCY_SHARE = 1 / 3;

/**
 * Batches in flight for a queue's consumer: the manifest's `maxConcurrency` scaled down, so the weights
 * between the steps queues of each priority stay as in the stack.
 */
export function localConcurrency(spec: QueueSpec, override: QueueOverrides = {}): number {
  if (override.concurrency !== undefined) return Math.max(1, override.concurrency);
  return Math.max(1, Math.ceil(spec.consumer.maxConcurrency * LOCAL_CONCURRENCY_SHARE));
}

async function create(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`Queue ${name} has no ARN`);
  return { url: QueueUrl, arn };
}

/**
 * Creates each queue and its DLQ with the stack's settings. The SQS emulator keeps no state across restarts, so
 * this runs on every start, and messages that were in flight when the twin stopped are gone.
 */
export async function ensureQueues(
  sqs: SQSClient,
  specs: readonly QueueSpec[],
  overrides: Record<string, QueueOverrides> = {},
): Promise<LocalQueue[]> {
  return Promise.all(
    specs.map(async (spec) => {
      const override = overrides[spec.name] ?? {};
      const dlq = await create(sqs, spec.dlq.name, {
        MessageRetentionPeriod: String(spec.dlq.retentionSeconds),
      });
      const queue = await create(sqs, spec.name, {
        VisibilityTimeout: String(override.visibilityTimeoutSeconds ?? spec.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(spec.retentionSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: override.maxReceiveCount ?? spec.dlq.maxReceiveCount,
        }),
      });
      return { spec, url: queue.url, arn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
    }),
  );
}
