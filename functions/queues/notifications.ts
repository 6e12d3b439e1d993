import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { DeliveryMessage } from "#events/notifications";
import { attemptDelivery } from "#shared/notifications/service";
import { logger, publishMetrics, tracer } from "#shared/observability";

const processor = new BatchProcessor(EventType.SQS);

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

async function processRecord(record: SQSRecord): Promise<void> {
  const parsed = DeliveryMessage.safeParse(parseBody(record.body));
  if (!parsed.success) {
    // A malformed message can never succeed; failing it would only loop it into the DLQ later.
    logger.error("Dropping malformed delivery message", {
      messageId: record.messageId,
      issues: parsed.error.issues,
    });
    return;
  }
  logger.appendKeys({ tenantId: parsed.data.tenantId, deliveryId: parsed.data.deliveryId });
  try {
    await attemptDelivery(parsed.data);
  } finally {
    logger.removeKeys(["tenantId", "deliveryId"]);
  }
}

/** One webhook attempt per message; a failed attempt re-queues itself with its backoff, so this rarely throws. */
export const handler = middy((event: SQSEvent, context: Context) =>
  processPartialResponse(event, processRecord, processor, { context }),
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
