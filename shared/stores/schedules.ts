import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { JobPriority } from "#events/jobs";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import { keys } from "../keys.ts";
import { createdByFilter, newestFirst } from "./page.ts";

/**
 * Schedule items: what the API shows and what the schedule function reads when EventBridge Scheduler fires.
 * The Scheduler holds the timing; this item holds the tenant's view of it (workflow, input, enabled).
 */
export interface ScheduleRecord {
  tenantId: string;
  id: string;
  name?: string;
  workflowId: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  input?: unknown;
  /** Of the jobs it starts; absent is normal. */
  priority?: JobPriority;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  /** When the Scheduler schedule was last written: where a rate() counts its intervals from. */
  anchorAt: string;
  lastFiredAt?: string;
  lastJobId?: string;
  /** Optimistic-concurrency version. */
  version: number;
}

export class ScheduleChangedError extends Error {
  override name = "ScheduleChangedError";
}

const FIELDS = [
  "tenantId",
  "id",
  "name",
  "workflowId",
  "expression",
  "timezone",
  "enabled",
  "input",
  "priority",
  "createdAt",
  "updatedAt",
  "createdBy",
  "anchorAt",
  "lastFiredAt",
  "lastJobId",
  "version",
] as const;

function fromItem(item: Record<string, unknown>): ScheduleRecord {
  const record: Record<string, unknown> = {};
  for (const field of FIELDS) if (item[field] !== undefined) record[field] = item[field];
  return record as unknown as ScheduleRecord;
}

function toItem(record: ScheduleRecord): Record<string, unknown> {
  return {
    ...keys.schedule(record.tenantId, record.id),
    type: "schedule",
    ...record,
    gsi1pk: keys.schedulesIndex(record.tenantId),
    gsi1sk: record.id,
    gsi3pk: keys.schedulesByWorkflowIndex(record.tenantId, record.workflowId),
    gsi3sk: record.id,
  };
}

export async function insertSchedule(record: ScheduleRecord): Promise<void> {
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: toItem(record),
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
}

/** Replaces the item if it is still at `expectedVersion`; otherwise ScheduleChangedError. */
export async function replaceSchedule(record: ScheduleRecord, expectedVersion: number): Promise<void> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: toItem(record),
        ConditionExpression: "#version = :expected",
        ExpressionAttributeNames: { "#version": "version" },
        ExpressionAttributeValues: { ":expected": expectedVersion },
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error))
      throw new ScheduleChangedError(`Schedule ${record.id} changed concurrently`);
    throw error;
  }
}

export async function getScheduleRecord(
  tenantId: string,
  scheduleId: string,
): Promise<ScheduleRecord | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: keys.schedule(tenantId, scheduleId),
      ConsistentRead: true,
    }),
  );
  return Item === undefined || Item.type !== "schedule" ? undefined : fromItem(Item);
}

export async function deleteScheduleRecord(tenantId: string, scheduleId: string): Promise<boolean> {
  try {
    await dynamo().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: keys.schedule(tenantId, scheduleId),
        ConditionExpression: "attribute_exists(pk)",
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/** Notes a firing. Not versioned: it must not fail because someone edited the schedule meanwhile. */
export async function recordFiring(
  tenantId: string,
  scheduleId: string,
  firedAt: string,
  jobId: string,
): Promise<void> {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.schedule(tenantId, scheduleId),
        UpdateExpression: "SET lastFiredAt = :at, lastJobId = :job",
        ConditionExpression:
          "attribute_exists(pk) AND (attribute_not_exists(lastFiredAt) OR lastFiredAt <= :at)",
        ExpressionAttributeValues: { ":at": firedAt, ":job": jobId },
      }),
    );
  } catch (error) {
    // Deleted since, or a later firing was recorded first: either way there is nothing to note.
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** Newest first; by workflow through gsi3. */
export async function listScheduleRecords(
  tenantId: string,
  options: { workflowId?: string; cursor?: string; limit: number; createdBy?: string },
): Promise<{ items: ScheduleRecord[]; cursor?: string }> {
  const index = options.workflowId === undefined ? "gsi1" : "gsi3";
  const partition =
    options.workflowId === undefined
      ? keys.schedulesIndex(tenantId)
      : keys.schedulesByWorkflowIndex(tenantId, options.workflowId);
  return newestFirst({
    index,
    partition,
    cursor: options.cursor,
    limit: options.limit,
    map: fromItem,
    filter: createdByFilter(options.createdBy),
  });
}
