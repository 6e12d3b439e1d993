import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { StepMessage } from "#events/steps";
import { failStepFromDeadLetter } from "#shared/jobs/service";
import { logger, metrics, publishMetrics, tracer } from "#shared/observability";
import { recordDeadLetter } from "#shared/stores/dead-letters";

const processor = new BatchProcessor(EventType.SQS);

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const isoFromEpochMs = (value: string | undefined, fallback: Date) => {
  const ms = Number(value);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : fallback.toISOString();
};

async function processRecord(record: SQSRecord): Promise<void> {
  const parsed = StepMessage.safeParse(parseBody(record.body));
  if (!parsed.success) {
    // Nothing to fail and no job to re-run; retrying it would only keep it in the DLQ until it expires.
    logger.error("Dead letter is not a step message; dropped", { messageId: record.messageId });
    return;
  }
  const message = parsed.data;
  logger.appendKeys({ tenantId: message.tenantId, jobId: message.jobId, nodeId: message.nodeId });
  try {
    const receives = Number(record.attributes.ApproximateReceiveCount ?? 0);
    const reason = `the step message failed ${receives || "?"} deliveries and was dead-lettered`;
    if (!(await failStepFromDeadLetter(message, reason))) {
      // An old dead letter delivered again after its job moved on (a redrive re-ran it): nothing to record.
      logger.info("Dead letter of a step that has moved on; not recorded", { attempt: message.attempt });
      return;
    }
    // After the step is failed, so a record never points at a step that still looks alive. Keyed by the
    // first receive, which a redelivery of the same dead letter keeps: a retry overwrites, never duplicates.
    const now = new Date();
    await recordDeadLetter({
      messageId: record.messageId,
      tenantId: message.tenantId,
      jobId: message.jobId,
      nodeId: message.nodeId,
      ...(message.itemIndex === undefined ? {} : { itemIndex: message.itemIndex }),
      attempt: message.attempt,
      reason,
      receivedAt: isoFromEpochMs(record.attributes.ApproximateFirstReceiveTimestamp, now),
      deadLetteredAt: now.toISOString(),
      receiveCount: receives,
      body: record.body,
    });
    metrics.addMetric("DeadLetters", MetricUnit.Count, 1);
    logger.warn("Step dead-lettered; marked failed and recorded for redrive", { attempt: message.attempt });
  } finally {
    logger.removeKeys(["tenantId", "jobId", "nodeId"]);
  }
}

/**
 * Consumes the steps DLQ: the step whose message exhausted its receives is marked failed with the reason,
 * so no job stays running forever. Consuming empties the queue, so each dead letter is also recorded in
 * the table, where `GET /v1/system/dlq` lists it and a redrive re-runs its job.
 */
export const handler = middy((event: SQSEvent, context: Context) =>
  processPartialResponse(event, processRecord, processor, { context }),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
