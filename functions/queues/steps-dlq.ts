import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { StepMessage } from "#events/steps";
import { failStepFromDeadLetter } from "#shared/jobs/service";
import { logger } from "#shared/observability";

const processor = new BatchProcessor(EventType.SQS);

async function processRecord(record: SQSRecord): Promise<void> {
  const parsed = StepMessage.safeParse(JSON.parse(record.body));
  if (!parsed.success) {
    logger.error("Dead letter is not a step message; dropped", { messageId: record.messageId });
    return;
  }
  const receives = record.attributes.ApproximateReceiveCount ?? "?";
  await failStepFromDeadLetter(
    parsed.data,
    `the step message failed ${receives} deliveries and was dead-lettered`,
  );
}

/**
 * Consumes the steps DLQ: the step whose message exhausted its receives is marked failed with the reason,
 * so no job stays running forever. The message itself is consumed; operators see the failure on the job.
 */
export const handler = middy((event: SQSEvent, context: Context) =>
  processPartialResponse(event, processRecord, processor, { context }),
).use(injectLambdaContext(logger, { resetKeys: true }));
