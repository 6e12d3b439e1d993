import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { pushJobEvents, storeJobRecords } from "#shared/fanout";
import { logger, publishMetrics, tracer } from "#shared/observability";
import { batchReads } from "#shared/stores/connections";

/** `T#<tenant>#J#<job>`: the record's job, for the log line (jobs are handled in parallel here). */
function jobOf(pk: string): { tenantId?: string; jobId?: string } {
  const match = /^T#(.+)#J#(.+)$/.exec(pk);
  return match ? { tenantId: match[1], jobId: match[2] } : {};
}

/**
 * Turns changes of job items into the job's timeline and WebSocket messages. Records of one job are handled
 * together, in stream order, jobs in parallel. On a failure the job's first record is reported, so the retry
 * starts there: the events it derives again carry the same numbers, and clients drop repeats by seq.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const byJob = new Map<string, DynamoDBRecord[]>();
  for (const record of event.Records) {
    const pk = record.dynamodb?.Keys?.pk?.S ?? "";
    byJob.set(pk, [...(byJob.get(pk) ?? []), record]);
  }
  const failures: string[] = [];
  // One presence read and one tenant-wide subscriber read per tenant per batch, shared by its jobs.
  const reads = batchReads();
  const failed = (records: DynamoDBRecord[], error: unknown) => {
    logger.error("Fanout failed; the records will be retried", {
      ...jobOf(records[0]?.dynamodb?.Keys?.pk?.S ?? ""),
      error: error as Error,
    });
    failures.push(records[0]?.dynamodb?.SequenceNumber ?? "");
  };
  // Every job's page is stored before any presence read: a subscribe that counted itself after a read
  // would otherwise miss a page stored after its replay (see pushJobEvents).
  const stored = await Promise.all(
    [...byJob.values()].map(async (records) => {
      try {
        const events = await storeJobRecords(records);
        return events === undefined ? undefined : { records, events };
      } catch (error) {
        failed(records, error);
        return undefined;
      }
    }),
  );
  await Promise.all(
    stored.map(async (job) => {
      if (job === undefined) return;
      try {
        await pushJobEvents(job.events, reads);
      } catch (error) {
        failed(job.records, error);
      }
    }),
  );
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
