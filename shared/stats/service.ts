import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { JobStatus } from "#events/jobs";
import { type JobStats, type JobStatsQuery, MAX_STATS_DAYS, MAX_STATS_JOBS } from "#events/stats";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { badRequest } from "../errors.ts";
import { keys } from "../keys.ts";
import { SUMMARY_SHARDS } from "../stores/jobs/summary.ts";
import { type JobRow, summarizeJobs } from "./summarize.ts";

const DAY_MS = 86_400_000;

/**
 * Reads the job summaries created in the window from the tenant's job list (its SUMMARY_SHARDS partitions,
 * each sorted by creation time, so the key condition selects exactly the window and nothing is scanned or
 * filtered), fetching only the five fields a report needs, newest first. Past MAX_STATS_JOBS in all it
 * keeps the newest and says the report is truncated.
 */
async function jobRows(
  tenantId: string,
  from: Date,
  to: Date,
): Promise<{ rows: JobRow[]; truncated: boolean }> {
  const shards = await Promise.all(
    Array.from({ length: SUMMARY_SHARDS }, async (_, shard) => {
      const rows: JobRow[] = [];
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await dynamo().send(
          new QueryCommand({
            TableName: tableName(),
            KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues: {
              ":pk": keys.jobList(tenantId, shard),
              ":from": from.toISOString(),
              // Sort keys are `<createdAt>#<jobId>`: `~` sorts after `#`, so jobs created at `to` itself count.
              ":to": `${to.toISOString()}~`,
            },
            ProjectionExpression: "#status, workflowName, createdAt, startedAt, endedAt",
            ExpressionAttributeNames: { "#status": "status" },
            ScanIndexForward: false,
            Limit: Math.min(1000, MAX_STATS_JOBS - rows.length),
            ExclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) {
          rows.push({
            status: item.status as JobStatus,
            workflowName: String(item.workflowName ?? "?"),
            createdAt: String(item.createdAt),
            ...(typeof item.startedAt === "string" ? { startedAt: item.startedAt } : {}),
            ...(typeof item.endedAt === "string" ? { endedAt: item.endedAt } : {}),
          });
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey !== undefined && rows.length < MAX_STATS_JOBS);
      return { rows, truncated: ExclusiveStartKey !== undefined };
    }),
  );
  const all = shards
    .flatMap((shard) => shard.rows)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  const truncated = all.length > MAX_STATS_JOBS || shards.some((shard) => shard.truncated);
  return { rows: all.slice(0, MAX_STATS_JOBS), truncated };
}

export async function jobStats(tenantId: string, query: JobStatsQuery, now = new Date()): Promise<JobStats> {
  const to = query.to === undefined ? now : new Date(query.to);
  const from = query.from === undefined ? new Date(to.getTime() - DAY_MS) : new Date(query.from);
  if (from > to) throw badRequest("from must not be after to");
  const days = (to.getTime() - from.getTime()) / DAY_MS;
  if (days > MAX_STATS_DAYS) throw badRequest(`A report covers at most ${MAX_STATS_DAYS} days`);
  const bucket = query.bucket ?? (days <= 2 ? "hour" : "day");
  const { rows, truncated } = await jobRows(tenantId, from, to);
  return summarizeJobs(rows, { from, to, bucket, truncated });
}
