import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { optionalEnv, requireEnv, SCHEDULE_ENV } from "../config.ts";
import { withoutRequestLog } from "../sdk.ts";
import type { ScheduleRecord } from "../stores/schedules.ts";

/**
 * The EventBridge Scheduler side of a schedule: one Scheduler schedule per Switchboard schedule, named by its
 * id, in the group the stack made, targeting the schedule function.
 */

/**
 * Variables the stack (and the twin) set for the functions that manage schedules, named once in the stack's
 * access table: the group, the role the Scheduler assumes, the target (the schedule function), and the queue
 * that keeps firings the Scheduler could not deliver.
 */
export { SCHEDULE_ENV };

/**
 * The target's input. The Scheduler fills in the context attributes on each firing; the scheduled time is
 * the same on every retry of one firing, which makes it the idempotency key of the job it starts.
 */
export function targetInput(record: Pick<ScheduleRecord, "tenantId" | "id">): string {
  return JSON.stringify({
    tenantId: record.tenantId,
    scheduleId: record.id,
    scheduledTime: "<aws.scheduler.scheduled-time>",
    executionId: "<aws.scheduler.execution-id>",
  });
}

let client: SchedulerClient | undefined;

function scheduler(): SchedulerClient {
  client ??= withoutRequestLog(new SchedulerClient({}));
  return client;
}

/** Tests swap clients in and out; production code never calls this. */
export function resetSchedulerClient(): void {
  client = undefined;
}

function scheduleInput(record: ScheduleRecord): CreateScheduleCommandInput {
  // Optional: the twin keeps no dead-letter queue for firings.
  const deadLetterArn = optionalEnv(SCHEDULE_ENV.dlqArn, "");
  return {
    Name: record.id,
    GroupName: requireEnv(SCHEDULE_ENV.groupName),
    ScheduleExpression: record.expression,
    ScheduleExpressionTimezone: record.timezone,
    State: record.enabled ? "ENABLED" : "DISABLED",
    Description: `Switchboard schedule ${record.id} (tenant ${record.tenantId}, workflow ${record.workflowId})`,
    FlexibleTimeWindow: { Mode: "OFF" },
    // A one-time schedule has nothing left to do once it fired; the Scheduler removes it.
    ActionAfterCompletion: record.expression.startsWith("at(") ? "DELETE" : "NONE",
    Target: {
      Arn: requireEnv(SCHEDULE_ENV.targetArn),
      RoleArn: requireEnv(SCHEDULE_ENV.roleArn),
      Input: targetInput(record),
      RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 3600 },
      ...(deadLetterArn === "" ? {} : { DeadLetterConfig: { Arn: deadLetterArn } }),
    },
  };
}

/**
 * Makes the Scheduler schedule match the record. Update first: the schedule usually exists. It may not (a
 * one-time schedule deletes itself after firing, a create may have failed halfway), so a missing one is
 * created, and a create that races another is turned back into an update.
 */
export async function putRemoteSchedule(record: ScheduleRecord): Promise<void> {
  const input = scheduleInput(record);
  try {
    await scheduler().send(new UpdateScheduleCommand(input));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await scheduler().send(new CreateScheduleCommand(input));
  } catch (error) {
    if (!(error instanceof ConflictException)) throw error;
    await scheduler().send(new UpdateScheduleCommand(input));
  }
}

/** Removes the Scheduler schedule; one that is already gone is fine. */
export async function deleteRemoteSchedule(scheduleId: string): Promise<void> {
  try {
    await scheduler().send(
      new DeleteScheduleCommand({ Name: scheduleId, GroupName: requireEnv(SCHEDULE_ENV.groupName) }),
    );
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
}
