import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_JOB_PRIORITY, type Job, type JobPriority, type JobStatus } from "#events/jobs";
import { dynamo } from "../../aws.ts";
import { encodeCursor, tableName } from "../../db.ts";
import { keys } from "../../keys.ts";
import { allOf, createdByFilter, cursorAfter, FILTER_READ_SIZE, mergeShardPages } from "../page.ts";

/**
 * The job lists. Each job has one small summary item holding only what a list shows. It lives in one of
 * the tenant's list partitions on the table itself, so the all-jobs list costs no index write at all, and
 * it carries the keys of the by-status (gsi2) and by-workflow (gsi3) lists, whose entries are the summary
 * and nothing more. Every list partition is split in SUMMARY_SHARDS by job id, so one tenant starting
 * 1,000 jobs a second spreads its summary writes over that many partitions (each stays far below
 * DynamoDB's 1,000 WCU per partition), and a page is the merge of the shards' pages, newest first.
 */
export const SUMMARY_SHARDS = 8;

/** The job fields a list shows; a commit that changes none of them (but `updatedAt`) leaves the summary alone. */
export const SUMMARY_FIELDS = [
  "id",
  "tenantId",
  "status",
  "workflowName",
  "workflowId",
  "workflowVersion",
  "createdAt",
  "updatedAt",
  "startedAt",
  "endedAt",
  "createdBy",
  "scheduleId",
  "priority",
  "error",
  "output",
] as const;

/**
 * The status most jobs end in has no entry on the by-status index: `?status=succeeded` reads the all-jobs
 * list with a filter instead, which in a tenant whose jobs mostly succeed passes nearly every item it
 * reads, and every job that succeeds saves that index entry's write (and its move when it gets there).
 */
export const UNINDEXED_STATUS: JobStatus = "succeeded";

export function summaryShard(jobId: string): number {
  let hash = 0;
  for (const char of jobId) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % SUMMARY_SHARDS;
}

/** The summary of a job item (as stored): its key, its list keys, its version `v` and the listed fields. */
export function summaryItem(item: Record<string, unknown>): Record<string, unknown> {
  const tenantId = String(item.tenantId);
  const jobId = String(item.id);
  const shard = summaryShard(jobId);
  const sortKey = keys.jobSortKey(String(item.createdAt), jobId);
  const summary: Record<string, unknown> = {
    ...keys.jobSummary(tenantId, shard, sortKey),
    type: "jobSummary",
    v: Number(item.version ?? 0),
  };
  if (item.status !== UNINDEXED_STATUS) {
    summary.gsi2pk = keys.jobsByStatusIndex(tenantId, String(item.status), shard);
    summary.gsi2sk = sortKey;
  }
  if (item.workflowId !== undefined) {
    summary.gsi3pk = keys.jobsByWorkflowIndex(tenantId, String(item.workflowId), shard);
    summary.gsi3sk = sortKey;
  }
  for (const field of SUMMARY_FIELDS) if (item[field] !== undefined) summary[field] = item[field];
  summary.seq = Number(item.seq ?? 0);
  return summary;
}

export interface ListJobsOptions {
  status?: JobStatus;
  workflowId?: string;
  /** Only the jobs this principal started (owner-only access). */
  createdBy?: string;
  /** An id prefix, or part of the workflow name: a filter on each page read, so pages may come back short. */
  q?: string;
  /** Creation dates (a day, or an instant), both inclusive. */
  from?: string;
  to?: string;
  cursor?: string;
  limit: number;
}

/** Sort-key bounds for a creation-time range: sort keys are `<createdAt ISO>#<job id>`. */
function createdRange(from?: string, to?: string): { from?: string; to?: string } {
  const day = /^\d{4}-\d{2}-\d{2}$/;
  const start = (value: string) => new Date(day.test(value) ? `${value}T00:00:00.000Z` : value).toISOString();
  const end = (value: string) =>
    day.test(value)
      ? `${value}T23:59:59.999Z\uffff`
      : `${new Date(new Date(value).getTime() - 1).toISOString()}\uffff`;
  return {
    ...(from === undefined ? {} : { from: start(from) }),
    ...(to === undefined ? {} : { to: end(to) }),
  };
}

/**
 * The one sort-key condition DynamoDB allows, from the range and the cursor. The cursor's own key is
 * excluded after the read (BETWEEN is inclusive): it is the last job of the page before.
 */
function sortCondition(
  range: { from?: string; to?: string },
  after: string | undefined,
): { expression: string; values: Record<string, string> } {
  const upper = after !== undefined && (range.to === undefined || after <= range.to) ? after : range.to;
  if (range.from !== undefined && upper !== undefined)
    return {
      expression: " AND #sk BETWEEN :from AND :upper",
      values: { ":from": range.from, ":upper": upper },
    };
  if (range.from !== undefined) return { expression: " AND #sk >= :from", values: { ":from": range.from } };
  if (upper !== undefined) return { expression: " AND #sk <= :upper", values: { ":upper": upper } };
  return { expression: "", values: {} };
}

/** What a list shows of a job beyond its fixed fields (a job's GET adds its input). */
const LISTED_FIELDS = [
  "workflowId",
  "workflowVersion",
  "output",
  "error",
  "startedAt",
  "endedAt",
  "scheduleId",
] as const;

/** A job item or summary as the API's `Job`. */
export function toJob(item: Record<string, unknown>, optional: readonly string[] = LISTED_FIELDS): Job {
  const job: Job = {
    id: String(item.id),
    tenantId: String(item.tenantId),
    status: item.status as JobStatus,
    workflowName: String(item.workflowName),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    createdBy: String(item.createdBy),
    // As of the summary's last write: events up to it exist, later ones may too.
    seq: Number(item.seq ?? 0),
    priority: (item.priority as JobPriority | undefined) ?? DEFAULT_JOB_PRIORITY,
  };
  for (const field of optional) {
    if (item[field] !== undefined) (job as Record<string, unknown>)[field] = item[field];
  }
  return job;
}

interface ListSource {
  /** Where the list lives: the table (`undefined`) or an index. */
  index?: "gsi2" | "gsi3";
  partitionOf: (shard: number) => string;
  /** Names the list in the cursor, so a cursor of another list (or tenant) is refused. */
  family: string;
}

function sourceOf(tenantId: string, options: ListJobsOptions): ListSource {
  if (options.status === UNINDEXED_STATUS && options.workflowId !== undefined) {
    // Its workflow's list, filtered by status (see listJobs); the cursor still names the status list.
    const workflowId = options.workflowId;
    return {
      index: "gsi3",
      partitionOf: (shard) => keys.jobsByWorkflowIndex(tenantId, workflowId, shard),
      family: keys.jobsByStatusIndex(tenantId, UNINDEXED_STATUS, 0),
    };
  }
  if (options.status === UNINDEXED_STATUS) {
    return {
      partitionOf: (shard) => keys.jobList(tenantId, shard),
      family: keys.jobsByStatusIndex(tenantId, UNINDEXED_STATUS, 0),
    };
  }
  if (options.status !== undefined) {
    const status = options.status;
    return {
      index: "gsi2",
      partitionOf: (shard) => keys.jobsByStatusIndex(tenantId, status, shard),
      family: keys.jobsByStatusIndex(tenantId, status, 0),
    };
  }
  if (options.workflowId !== undefined) {
    const workflowId = options.workflowId;
    return {
      index: "gsi3",
      partitionOf: (shard) => keys.jobsByWorkflowIndex(tenantId, workflowId, shard),
      family: keys.jobsByWorkflowIndex(tenantId, workflowId, 0),
    };
  }
  return {
    partitionOf: (shard) => keys.jobList(tenantId, shard),
    family: keys.jobList(tenantId, 0),
  };
}

/**
 * Newest first, never a scan: one query per shard of the matching list, each from below the cursor, merged.
 * A shard that stopped early (its page filled, or a filter left its page short) bounds the page: nothing
 * older than where it stopped is returned, since that shard may hold jobs in between.
 */
export async function listJobs(
  tenantId: string,
  options: ListJobsOptions,
): Promise<{ items: Job[]; cursor?: string }> {
  const source = sourceOf(tenantId, options);
  const after = cursorAfter(options.cursor, source.family);
  const pkName = source.index === undefined ? "pk" : `${source.index}pk`;
  const skName = source.index === undefined ? "sk" : `${source.index}sk`;
  const filter = allOf(
    options.status === UNINDEXED_STATUS
      ? {
          expression: "#status = :status",
          names: { "#status": "status" },
          values: { ":status": options.status },
        }
      : undefined,
    options.status !== undefined && options.status !== UNINDEXED_STATUS && options.workflowId !== undefined
      ? { expression: "workflowId = :workflowId", values: { ":workflowId": options.workflowId } }
      : undefined,
    createdByFilter(options.createdBy),
    options.q === undefined
      ? undefined
      : {
          expression: "begins_with(#id, :q) OR contains(#workflowName, :q)",
          names: { "#id": "id", "#workflowName": "workflowName" },
          values: { ":q": options.q },
        },
  );
  const bounds = sortCondition(createdRange(options.from, options.to), after);
  const pages = await Promise.all(
    Array.from({ length: SUMMARY_SHARDS }, async (_, shard) => {
      const page = await dynamo().send(
        new QueryCommand({
          TableName: tableName(),
          ...(source.index === undefined ? {} : { IndexName: source.index }),
          KeyConditionExpression: `#pk = :pk${bounds.expression}`,
          ExpressionAttributeNames: {
            "#pk": pkName,
            ...(bounds.expression === "" ? {} : { "#sk": skName }),
            ...filter?.names,
          },
          ExpressionAttributeValues: {
            ":pk": source.partitionOf(shard),
            ...bounds.values,
            ...filter?.values,
          },
          ...(filter === undefined ? {} : { FilterExpression: filter.expression }),
          ScanIndexForward: false,
          // DynamoDB limits before it filters: a filtered shard reads more, so a sparse filter still fills pages.
          Limit: filter === undefined ? options.limit : Math.max(options.limit, FILTER_READ_SIZE),
        }),
      );
      const stoppedAt =
        page.LastEvaluatedKey === undefined ? undefined : String(page.LastEvaluatedKey[skName]);
      const items = (page.Items ?? []).filter(
        (item) => after === undefined || String(item[skName]) !== after,
      );
      return { items, stoppedAt };
    }),
  );
  const merged = mergeShardPages(pages, skName, options.limit);
  const cursor = merged.next === undefined ? undefined : encodeCursor({ l: source.family, k: merged.next });
  return { items: merged.items.map((item) => toJob(item)), ...(cursor === undefined ? {} : { cursor }) };
}
