import { createHash } from "node:crypto";
import { GetCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { ApprovalDecisionRecord, ApprovalDecisionValue, ApprovalStatus } from "#events/approvals";
import type { TimelineEvent } from "#events/timeline";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import { keys } from "../keys.ts";
import { SWEEP_SHARDS } from "./jobs.ts";
import { newestFirst } from "./page.ts";

/**
 * Approval items. An approval's id is derived from the step instance that waits for it, so carrying out the
 * same `requestApproval` command twice finds the first item instead of making a second. Every change is a
 * conditional write on the item's version; the per-agent counters change in the same transactions.
 */

export interface ApprovalRecord {
  tenantId: string;
  id: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  /** The step instance this approval belongs to: a retried job asks again, with a new approval. */
  attempt: number;
  stepStartedAt?: string;
  workflowName?: string;
  agent?: string;
  /** Review statistics are kept by this id (the name the node used, when the agent could not be found). */
  agentId?: string;
  message: string;
  preview?: unknown;
  confidence?: number;
  status: ApprovalStatus;
  approvers?: string[];
  quorum: number;
  decisions: ApprovalDecisionRecord[];
  expiresAt?: string;
  onTimeout?: ApprovalDecisionValue;
  /** What the job is told: the decision that resolved it, or onTimeout when it expired. */
  decision?: ApprovalDecisionValue;
  createdAt: string;
  resolvedAt?: string;
  /** True once the job was told about the resolution (or there was no longer a step to tell). */
  applied: boolean;
  /** When the sweeper should look at it next: expiry, staleness, or an unapplied resolution. */
  dueAt?: string;
  version: number;
}

const RECORD_FIELDS = [
  "tenantId",
  "id",
  "jobId",
  "nodeId",
  "itemIndex",
  "attempt",
  "stepStartedAt",
  "workflowName",
  "agent",
  "agentId",
  "message",
  "preview",
  "confidence",
  "status",
  "approvers",
  "quorum",
  "decisions",
  "expiresAt",
  "onTimeout",
  "decision",
  "createdAt",
  "resolvedAt",
  "applied",
  "dueAt",
  "version",
] as const;

export class ApprovalChangedError extends Error {
  override name = "ApprovalChangedError";
}

export class JobChangedError extends Error {
  override name = "JobChangedError";
}

/** A stable id for one wait of one step instance. */
export function approvalIdFor(
  tenantId: string,
  jobId: string,
  nodeId: string,
  itemIndex: number | undefined,
  attempt: number,
  stepStartedAt: string | undefined,
): string {
  const digest = createHash("sha256")
    .update([tenantId, jobId, nodeId, itemIndex ?? "", attempt, stepStartedAt ?? ""].join("\u0000"))
    .digest("hex");
  return `ap_${digest.slice(0, 32)}`;
}

function sweepShard(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % SWEEP_SHARDS;
}

function sortKey(record: ApprovalRecord): string {
  return `${record.createdAt}#${record.id}`;
}

export function toApprovalItem(record: ApprovalRecord): Record<string, unknown> {
  const key = keys.approval(record.tenantId, record.id);
  return {
    ...key,
    type: "approval",
    ...record,
    gsi1pk: keys.approvalsIndex(record.tenantId),
    gsi1sk: sortKey(record),
    gsi2pk: keys.approvalsByStatusIndex(record.tenantId, record.status),
    gsi2sk: sortKey(record),
    gsi3pk: keys.approvalsByJobIndex(record.tenantId, record.jobId),
    gsi3sk: sortKey(record),
    ...(record.dueAt === undefined
      ? {}
      : { gsi4pk: `SWEEP#${sweepShard(key.pk)}`, gsi4sk: `${record.dueAt}#A` }),
  };
}

export function fromApprovalItem(item: Record<string, unknown>): ApprovalRecord {
  const record: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) if (item[field] !== undefined) record[field] = item[field];
  record.decisions ??= [];
  record.applied = record.applied === true;
  return record as unknown as ApprovalRecord;
}

/** Counter updates for an agent's review statistics, in buckets of 0.1 of confidence. */
export interface StatsDelta {
  agent: string;
  confidence?: number;
  counters: ("requested" | "approved" | "rejected" | "expired")[];
}

export function confidenceBucket(confidence: number): number {
  // The epsilon keeps 0.3 (0.29999… in binary) in the 0.3 bucket.
  return Math.min(9, Math.max(0, Math.floor(confidence * 10 + 1e-9)));
}

function statsUpdate(tenantId: string, delta: StatsDelta) {
  const names: Record<string, string> = { "#type": "type", "#agent": "agent" };
  const adds: string[] = [];
  for (const counter of delta.counters) {
    names[`#${counter}`] = counter;
    adds.push(`#${counter} :one`);
    if (delta.confidence !== undefined && counter !== "expired") {
      const field = `conf${confidenceBucket(delta.confidence)}_${counter}`;
      names[`#${field}`] = field;
      adds.push(`#${field} :one`);
    }
  }
  return {
    Update: {
      TableName: tableName(),
      Key: keys.agentApprovalStats(tenantId, delta.agent),
      UpdateExpression: `SET #type = :type, #agent = :agent ADD ${adds.join(", ")}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ":type": "agentStats", ":agent": delta.agent, ":one": 1 },
    },
  };
}

function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (!(error instanceof Error) || error.name !== "TransactionCanceledException") return undefined;
  return ((error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).map(
    (r) => r.Code,
  );
}

/**
 * Writes a new approval and its `approval.requested` timeline event in one transaction. The event takes the
 * job's next sequence number, and the job's version moves on with it, so a concurrent decision on the job
 * (which is conditioned on that version) reloads instead of reusing the number.
 * Returns false when the approval already exists: the command was carried out before.
 */
export async function insertApprovalWithEvent(
  record: ApprovalRecord,
  job: { seq: number; version: number },
  event: Omit<TimelineEvent, "seq" | "at" | "jobId">,
  stats: StatsDelta | undefined,
  now: Date,
): Promise<boolean> {
  const seq = job.seq + 1;
  const at = now.toISOString();
  const items: Record<string, unknown>[] = [
    {
      Put: {
        TableName: tableName(),
        Item: toApprovalItem(record),
        ConditionExpression: "attribute_not_exists(pk)",
      },
    },
    {
      Update: {
        TableName: tableName(),
        Key: keys.job(record.tenantId, record.jobId),
        // The event rides on the job item as this version's timeline addition; the stream consumer stores it.
        UpdateExpression:
          "SET seq = :seq, #version = :next, updatedAt = :at, tx = :tx, tlv = :next REMOVE tl",
        ConditionExpression: "#version = :version",
        ExpressionAttributeNames: { "#version": "version" },
        ExpressionAttributeValues: {
          ":seq": seq,
          ":next": job.version + 1,
          ":version": job.version,
          ":at": at,
          ":tx": [event],
        },
      },
    },
  ];
  if (stats !== undefined) items.push(statsUpdate(record.tenantId, stats));
  try {
    await dynamo().send(new TransactWriteCommand({ TransactItems: items as never }));
    return true;
  } catch (error) {
    const codes = cancellationCodes(error);
    if (codes?.[0] === "ConditionalCheckFailed") return false;
    if (codes?.some((code) => code === "ConditionalCheckFailed" || code === "TransactionConflict")) {
      throw new JobChangedError(`Job ${record.jobId} changed while its approval was being written`);
    }
    throw error;
  }
}

export async function getApprovalRecord(
  tenantId: string,
  approvalId: string,
): Promise<ApprovalRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: keys.approval(tenantId, approvalId),
      ConsistentRead: true,
    }),
  );
  return Item === undefined || Item.type !== "approval" ? undefined : fromApprovalItem(Item);
}

/**
 * Replaces the approval if it is still at `current.version`, and applies the counter changes in the same
 * transaction. ApprovalChangedError when someone else changed it first.
 */
export async function replaceApproval(
  current: ApprovalRecord,
  next: ApprovalRecord,
  stats?: StatsDelta,
): Promise<void> {
  const items: Record<string, unknown>[] = [
    {
      Put: {
        TableName: tableName(),
        Item: toApprovalItem({ ...next, version: current.version + 1 }),
        ConditionExpression: "#version = :version",
        ExpressionAttributeNames: { "#version": "version" },
        ExpressionAttributeValues: { ":version": current.version },
      },
    },
  ];
  if (stats !== undefined && stats.counters.length > 0) items.push(statsUpdate(current.tenantId, stats));
  try {
    await dynamo().send(new TransactWriteCommand({ TransactItems: items as never }));
  } catch (error) {
    const codes = cancellationCodes(error);
    if (codes?.some((code) => code === "ConditionalCheckFailed" || code === "TransactionConflict")) {
      throw new ApprovalChangedError(`Approval ${current.id} changed concurrently`);
    }
    throw error;
  }
  next.version = current.version + 1;
}

/** Marks a resolution as delivered to the job, and takes the approval off the sweep index. */
export async function markApplied(record: ApprovalRecord): Promise<void> {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.approval(record.tenantId, record.id),
        UpdateExpression: "SET applied = :true REMOVE dueAt, gsi4pk, gsi4sk",
        ConditionExpression: "attribute_exists(pk) AND #status <> :pending",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":true": true, ":pending": "pending" },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** Newest first, from the index that matches the filter. */
export async function listApprovalRecords(
  tenantId: string,
  options: { status?: ApprovalStatus; jobId?: string; cursor?: string; limit: number },
): Promise<{ items: ApprovalRecord[]; cursor?: string }> {
  let index = "gsi1";
  let partition = keys.approvalsIndex(tenantId);
  if (options.jobId !== undefined) {
    index = "gsi3";
    partition = keys.approvalsByJobIndex(tenantId, options.jobId);
  } else if (options.status !== undefined) {
    index = "gsi2";
    partition = keys.approvalsByStatusIndex(tenantId, options.status);
  }
  return newestFirst({
    index,
    partition,
    cursor: options.cursor,
    limit: options.limit,
    map: fromApprovalItem,
    // One job has few approvals: a filter on its partition is cheap.
    ...(options.jobId !== undefined && options.status !== undefined
      ? {
          filter: {
            expression: "#status = :status",
            names: { "#status": "status" },
            values: { ":status": options.status },
          },
        }
      : {}),
  });
}

export async function getAgentStatsItem(
  tenantId: string,
  agent: string,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.agentApprovalStats(tenantId, agent) }),
  );
  return Item;
}
