import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { deleteRemoteSchedule, putRemoteSchedule, resetSchedulerClient } from "#shared/schedules/remote";
import type { ScheduleRecord } from "#shared/stores/schedules";

const scheduler = mockClient(SchedulerClient);
const notFound = () =>
  new ResourceNotFoundException({
    message: "Schedule sch_1 does not exist.",
    Message: "Schedule sch_1 does not exist.",
    $metadata: {},
  });

const record: ScheduleRecord = {
  tenantId: "acme",
  id: "sch_1",
  workflowId: "wf_1",
  expression: "cron(0 9 ? * MON-FRI *)",
  timezone: "Europe/Berlin",
  enabled: true,
  createdAt: "2030-01-01T00:00:00.000Z",
  updatedAt: "2030-01-01T00:00:00.000Z",
  createdBy: "u_1",
  anchorAt: "2030-01-01T00:00:00.000Z",
  version: 1,
};

describe("the Scheduler side of a schedule", () => {
  beforeAll(() => {
    vi.stubEnv("SCHEDULE_GROUP_NAME", "user-schedules");
    vi.stubEnv("SCHEDULE_TARGET_ARN", "arn:aws:lambda:eu-west-1:123456789012:function:schedule");
    vi.stubEnv("SCHEDULE_ROLE_ARN", "arn:aws:iam::123456789012:role/scheduler");
    vi.stubEnv("SCHEDULE_DLQ_ARN", "arn:aws:sqs:eu-west-1:123456789012:schedule-dlq");
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
  beforeEach(() => {
    scheduler.reset();
    resetSchedulerClient();
  });

  it("updates the schedule in the stack's group, targeting the schedule function with ids and the scheduled time", async () => {
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: "arn" });
    await putRemoteSchedule(record);
    const [call] = scheduler.commandCalls(UpdateScheduleCommand);
    expect(call?.args[0].input).toMatchObject({
      Name: "sch_1",
      GroupName: "user-schedules",
      ScheduleExpression: "cron(0 9 ? * MON-FRI *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
      State: "ENABLED",
      ActionAfterCompletion: "NONE",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: "arn:aws:lambda:eu-west-1:123456789012:function:schedule",
        RoleArn: "arn:aws:iam::123456789012:role/scheduler",
        DeadLetterConfig: { Arn: "arn:aws:sqs:eu-west-1:123456789012:schedule-dlq" },
      },
    });
    expect(JSON.parse(call?.args[0].input.Target?.Input ?? "")).toEqual({
      tenantId: "acme",
      scheduleId: "sch_1",
      scheduledTime: "<aws.scheduler.scheduled-time>",
      executionId: "<aws.scheduler.execution-id>",
    });
    expect(scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });

  it("creates the schedule when there is none to update, paused when the record is", async () => {
    scheduler.on(UpdateScheduleCommand).rejects(notFound());
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: "arn" });
    await putRemoteSchedule({ ...record, enabled: false });
    expect(scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input.State).toBe("DISABLED");
  });

  it("turns a create that lost a race back into an update", async () => {
    scheduler.on(UpdateScheduleCommand).rejectsOnce(notFound()).resolves({ ScheduleArn: "arn" });
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: "exists", Message: "exists", $metadata: {} }));
    await putRemoteSchedule(record);
    expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(2);
  });

  it("asks the Scheduler to delete a one-time schedule after it fired", async () => {
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: "arn" });
    await putRemoteSchedule({ ...record, expression: "at(2031-05-01T10:00:00)" });
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input.ActionAfterCompletion).toBe(
      "DELETE",
    );
  });

  it("passes other Scheduler errors on", async () => {
    scheduler.on(UpdateScheduleCommand).rejects(new Error("throttled"));
    await expect(putRemoteSchedule(record)).rejects.toThrow("throttled");
  });

  it("deletes, and treats a schedule that is already gone as deleted", async () => {
    scheduler.on(DeleteScheduleCommand).rejectsOnce(notFound()).resolves({});
    await deleteRemoteSchedule("sch_1");
    await deleteRemoteSchedule("sch_1");
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input)).toEqual([
      { Name: "sch_1", GroupName: "user-schedules" },
      { Name: "sch_1", GroupName: "user-schedules" },
    ]);
  });
});
