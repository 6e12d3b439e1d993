/**
 * The queues of the manifest, each with its DLQ, and the event source mappings that feed the worker, the
 * DLQ consumer and the stream consumers.
 */
import { Duration } from "aws-cdk-lib";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { EventSourceMapping, FilterCriteria, FilterRule, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { type FunctionName, manifest, type QueueSpec, type StreamConsumerSpec } from "#infra/manifest";
import type { QueueBinding } from "./bind.ts";
import { deadLetterQueue } from "./dead-letter-queue.ts";
import { type Functions, pascal } from "./functions.ts";
import { acknowledge, allowWildcard } from "./nag.ts";

/**
 * AWS's rule for SQS-triggered functions: a visibility timeout of at least six times the function
 * timeout, so a batch that is retried inside the function is not handed to a second consumer meanwhile.
 */
export const visibilityFactor = 6;

const timeoutOf = (name: FunctionName) => manifest.functions[name].timeoutSeconds;

/** Throws at synth when the manifest gives a queue too short a visibility timeout for its consumer. */
export function assertVisibilityTimeout(spec: QueueSpec): void {
  const needed = visibilityFactor * timeoutOf(spec.consumer.function);
  if (spec.visibilityTimeoutSeconds < needed) {
    throw new Error(
      `Queue "${spec.name}": visibilityTimeoutSeconds ${spec.visibilityTimeoutSeconds} is below ` +
        `${visibilityFactor} x the ${spec.consumer.function} function's timeout (${needed} s)`,
    );
  }
}

/** One filter per stream consumer: any of its event names, new image `sk` starting with any prefix. */
export function streamFilters(spec: StreamConsumerSpec): Record<string, unknown>[] {
  return [
    FilterCriteria.filter({
      eventName: FilterRule.or(...spec.eventNames),
      dynamodb: { NewImage: { sk: { S: spec.skPrefixes.flatMap((p) => FilterRule.beginsWith(p)) } } },
    }),
  ];
}

export interface JobsProps {
  functions: Functions;
  table: Table;
}

export interface StreamConsumer {
  spec: StreamConsumerSpec;
  mapping: EventSourceMapping;
  failures: Queue;
}

export class Jobs extends Construct {
  /** Keyed by manifest queue name. */
  readonly queues: ReadonlyMap<string, QueueBinding & { queue: Queue; dlq: Queue }>;
  readonly streams: readonly StreamConsumer[];

  constructor(scope: Construct, id: string, props: JobsProps) {
    super(scope, id);
    const { functions, table } = props;

    const queues = new Map<string, QueueBinding & { queue: Queue; dlq: Queue }>();
    for (const spec of manifest.queues as readonly QueueSpec[]) {
      assertVisibilityTimeout(spec);
      const Name = pascal(spec.name);
      const DlqName = pascal(spec.dlq.name);

      const dlq = new Queue(this, DlqName, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.seconds(spec.dlq.retentionSeconds),
        // The DLQ has a consumer of its own, held to the same rule as the main queue.
        ...(spec.dlqConsumer
          ? { visibilityTimeout: Duration.seconds(visibilityFactor * timeoutOf(spec.dlqConsumer.function)) }
          : {}),
      });
      const reason =
        `${DlqName} is the dead-letter queue of ${Name}; what fails here is marked failed by the ` +
        `${spec.dlqConsumer?.function ?? "operator"} and stays for redrive until retention ends.`;
      acknowledge(dlq, "Serverless-SQSRedrivePolicy", reason);

      const queue = new Queue(this, Name, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        retentionPeriod: Duration.seconds(spec.retentionSeconds),
        deadLetterQueue: { queue: dlq, maxReceiveCount: spec.dlq.maxReceiveCount },
      });

      this.consume(functions, queue, `${Name}Consumer`, spec.consumer.function, {
        batchSize: spec.consumer.batchSize,
        maxBatchingWindow:
          spec.consumer.maxBatchingWindowSeconds > 0
            ? Duration.seconds(spec.consumer.maxBatchingWindowSeconds)
            : undefined,
        maxConcurrency: spec.consumer.maxConcurrency,
        parkedIn: DlqName,
      });
      if (spec.dlqConsumer) {
        this.consume(functions, dlq, `${DlqName}Consumer`, spec.dlqConsumer.function, {
          batchSize: spec.dlqConsumer.batchSize,
          parkedIn: undefined,
        });
      }
      queues.set(spec.name, { spec, queue, dlq });
    }
    this.queues = queues;

    if (manifest.streams.length > 0) {
      allowWildcard(this, {
        actionsOnAnyResource: ["dynamodb:ListStreams"],
        reason:
          "dynamodb:ListStreams has no resource-level permissions; stream event source mappings need it on *.",
      });
    }

    this.streams = (manifest.streams as readonly StreamConsumerSpec[]).map((spec) => {
      const fn = functions.get(spec.function);
      const Name = pascal(spec.function);
      const failures = deadLetterQueue(this, `${Name}StreamFailures`, {
        holds: `the shard and sequence numbers of ${spec.function} stream batches that failed after ${spec.retryAttempts} retries`,
      });
      table.grantStreamRead(fn);
      const mapping = new EventSourceMapping(this, `${Name}Stream`, {
        target: fn,
        eventSourceArn: table.tableStreamArn,
        startingPosition: StartingPosition.LATEST,
        batchSize: spec.batchSize,
        maxBatchingWindow:
          spec.maxBatchingWindowSeconds > 0 ? Duration.seconds(spec.maxBatchingWindowSeconds) : undefined,
        bisectBatchOnError: true,
        retryAttempts: spec.retryAttempts,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(failures),
        filters: streamFilters(spec),
      });
      mapping.node.addDependency(fn.role ?? fn);
      return { spec, mapping, failures };
    });
  }

  private consume(
    functions: Functions,
    queue: Queue,
    id: string,
    name: FunctionName,
    options: {
      batchSize: number;
      maxBatchingWindow?: Duration;
      maxConcurrency?: number;
      parkedIn: string | undefined;
    },
  ): EventSourceMapping {
    const fn = functions.get(name);
    queue.grantConsumeMessages(fn);
    const mapping = new EventSourceMapping(this, id, {
      target: fn,
      eventSourceArn: queue.queueArn,
      batchSize: options.batchSize,
      maxBatchingWindow: options.maxBatchingWindow,
      maxConcurrency: options.maxConcurrency,
      reportBatchItemFailures: true,
    });
    // Queue-fed mappings must wait for the grant, or creation fails its permission check.
    mapping.node.addDependency(fn.role ?? fn);
    acknowledge(
      mapping,
      "Serverless-LambdaEventSourceMappingDestination",
      options.parkedIn === undefined
        ? `SQS mappings take no on-failure destination. This one drains a DLQ: a record ${name} cannot handle ` +
            "returns to it and waits for an operator's redrive until its retention ends."
        : `SQS mappings take no on-failure destination; a record ${name} fails returns to the queue and, after ` +
            `maxReceiveCount receives, moves to ${options.parkedIn} through the queue's redrive policy.`,
    );
    return mapping;
  }
}
