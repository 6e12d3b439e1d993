import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { StepMessage } from "#events/steps";
import { processStepMessage } from "#shared/jobs/service";
import { logger, metrics, publishMetrics, tracer } from "#shared/observability";
import { backOffRecord } from "#shared/queue-retry";

const processor = new BatchProcessor(EventType.SQS);
/** Inline work stops this long before the function's timeout. */
const SAFETY_MS = 15_000;
let deadline = 0;

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/**
 * Time from send to this receive. Only a first receive counts: a redelivery's wait is the visibility
 * timeout, not the queue. A message sent with a delay (a retry's back-off) includes its delay.
 */
function recordQueueLag(record: SQSRecord): void {
  if (record.attributes.ApproximateReceiveCount !== "1") return;
  const lag = Date.now() - Number(record.attributes.SentTimestamp);
  if (Number.isFinite(lag) && lag >= 0) metrics.addMetric("QueueLag", MetricUnit.Milliseconds, lag);
}

async function processRecord(record: SQSRecord): Promise<void> {
  recordQueueLag(record);
  const parsed = StepMessage.safeParse(parseBody(record.body));
  if (!parsed.success) {
    // A malformed message can never succeed; failing it would only loop it into the DLQ later.
    logger.error("Dropping malformed step message", {
      messageId: record.messageId,
      issues: parsed.error.issues,
    });
    return;
  }
  logger.appendKeys({ jobId: parsed.data.jobId, nodeId: parsed.data.nodeId, tenantId: parsed.data.tenantId });
  // A redelivery's job item is likely stale (the first delivery may have done the work): read the job.
  const { job, ...bare } = parsed.data;
  const message = job !== undefined && record.attributes.ApproximateReceiveCount === "1" ? parsed.data : bare;
  try {
    await processStepMessage(message, { deadline });
  } catch (error) {
    logger.error("Step message failed; it will be retried", error as Error);
    await backOffRecord(record);
    throw error;
  } finally {
    logger.removeKeys(["jobId", "nodeId", "tenantId"]);
  }
}

/** Claims and runs workflow steps. Failed records are reported one by one, never the whole batch. */
export const handler = middy((event: SQSEvent, context: Context) => {
  deadline = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MS;
  return processPartialResponse(event, processRecord, processor, { context });
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
