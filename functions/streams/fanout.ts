import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { publishEvent } from "#shared/fanout";
import { logger, publishMetrics, tracer } from "#shared/observability";

/** `T#<tenant>#J#<job>`: the timeline event's job, for the log line (jobs are handled in parallel here). */
function jobOf(pk: string): { tenantId?: string; jobId?: string } {
  const match = /^T#(.+)#J#(.+)$/.exec(pk);
  return match ? { tenantId: match[1], jobId: match[2] } : {};
}

/**
 * Turns inserted timeline events into WebSocket messages. Records of one job are sent in stream order, jobs
 * in parallel. On a failure the record and the rest of its job are reported, so the retry keeps the order.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const byJob = new Map<string, DynamoDBRecord[]>();
  for (const record of event.Records) {
    const pk = record.dynamodb?.Keys?.pk?.S ?? "";
    byJob.set(pk, [...(byJob.get(pk) ?? []), record]);
  }
  const failures: string[] = [];
  await Promise.all(
    [...byJob.values()].map(async (records) => {
      for (const record of records) {
        try {
          await publishEvent(record);
        } catch (error) {
          logger.error("Fanout failed; the record will be retried", {
            ...jobOf(record.dynamodb?.Keys?.pk?.S ?? ""),
            error: error as Error,
          });
          failures.push(record.dynamodb?.SequenceNumber ?? "");
          return;
        }
      }
    }),
  );
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
