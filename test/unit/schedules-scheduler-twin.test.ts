import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from "@aws-sdk/client-scheduler";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createScheduler, type LocalScheduler } from "#infra/local/aws-services/scheduler";
import {
  fillContextAttributes,
  functionForTarget,
  startSchedulerFiring,
} from "#infra/local/aws-services/scheduler-firing";
import { type AwsServicesServer, startAwsServices } from "#infra/local/aws-services/server";
import { FunctionRunner } from "#infra/local/functions";
import { createLogger } from "#infra/local/log";

const TARGET = "arn:aws:lambda:us-east-1:000000000000:function:switchboard-schedule";
const ROLE = "arn:aws:iam::000000000000:role/switchboard-scheduler";
const GROUP = "user-schedules";
const log = createLogger({ quiet: true });

let dir: string;
let scheduler: LocalScheduler;
let server: AwsServicesServer;
let client: SchedulerClient;
const stops: (() => Promise<void>)[] = [];

function definition(name: string, overrides: Record<string, unknown> = {}) {
  return {
    Name: name,
    GroupName: GROUP,
    ScheduleExpression: "cron(0 9 * * ? *)",
    ScheduleExpressionTimezone: "Europe/Berlin",
    FlexibleTimeWindow: { Mode: "OFF" as const },
    Target: {
      Arn: TARGET,
      RoleArn: ROLE,
      Input: JSON.stringify({ scheduleId: name, scheduledTime: "<aws.scheduler.scheduled-time>" }),
    },
    ...overrides,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scheduler-twin-"));
  scheduler = createScheduler({ region: "us-east-1", groups: [GROUP], file: join(dir, "schedules.json") });
  server = await startAwsServices({ jsonServices: [], restServices: [scheduler.service], log });
  client = new SchedulerClient({
    endpoint: server.url,
    region: "us-east-1",
    credentials: { accessKeyId: "twin", secretAccessKey: "twin" },
  });
});

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

afterAll(async () => {
  client.destroy();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the twin's EventBridge Scheduler, through the real SDK client", () => {
  it("creates, reads, updates and deletes a schedule", async () => {
    const created = await client.send(new CreateScheduleCommand(definition("daily")));
    expect(created.ScheduleArn).toBe(`arn:aws:scheduler:us-east-1:000000000000:schedule/${GROUP}/daily`);

    const read = await client.send(new GetScheduleCommand({ Name: "daily", GroupName: GROUP }));
    expect(read).toMatchObject({
      Name: "daily",
      GroupName: GROUP,
      ScheduleExpression: "cron(0 9 * * ? *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
      State: "ENABLED",
      ActionAfterCompletion: "NONE",
      Target: { Arn: TARGET, RoleArn: ROLE },
    });
    expect(read.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs((read.CreationDate?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);

    await client.send(new UpdateScheduleCommand({ ...definition("daily"), State: "DISABLED" }));
    const paused = await client.send(new GetScheduleCommand({ Name: "daily", GroupName: GROUP }));
    expect(paused.State).toBe("DISABLED");

    await client.send(new DeleteScheduleCommand({ Name: "daily", GroupName: GROUP }));
    await expect(
      client.send(new GetScheduleCommand({ Name: "daily", GroupName: GROUP })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it("answers as AWS does for duplicates, missing schedules and groups, and bad input", async () => {
    await client.send(new CreateScheduleCommand(definition("twice")));
    await expect(client.send(new CreateScheduleCommand(definition("twice")))).rejects.toBeInstanceOf(
      ConflictException,
    );
    await expect(client.send(new UpdateScheduleCommand(definition("nobody")))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(
      client.send(new DeleteScheduleCommand({ Name: "nobody", GroupName: GROUP })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(new CreateScheduleCommand(definition("lost", { GroupName: "no-such-group" }))),
    ).rejects.toThrow(/Schedule group no-such-group does not exist/);
    await expect(
      client.send(new CreateScheduleCommand(definition("bad", { ScheduleExpression: "cron(0 9 * * * *)" }))),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(new CreateScheduleCommand(definition("bad", { ScheduleExpressionTimezone: "Mars/Base" }))),
    ).rejects.toThrow(/Invalid time zone/);
    await expect(client.send(new CreateScheduleCommand(definition("bad name!")))).rejects.toBeInstanceOf(
      ValidationException,
    );
    // The default group always exists.
    await client.send(new CreateScheduleCommand(definition("in-default", { GroupName: undefined })));
    const found = await client.send(new GetScheduleCommand({ Name: "in-default" }));
    expect(found.GroupName).toBe("default");
  });

  it("keeps schedules in its file across a restart", async () => {
    await client.send(new CreateScheduleCommand(definition("kept")));
    const again = createScheduler({
      region: "us-east-1",
      groups: [GROUP],
      file: join(dir, "schedules.json"),
    });
    expect(again.get(GROUP, "kept")).toMatchObject({
      expression: "cron(0 9 * * ? *)",
      timezone: "Europe/Berlin",
    });
  });
});

describe("firing", () => {
  function runnerWith(calls: unknown[], fail = 0, failed: unknown[] = []) {
    let failures = fail;
    return new FunctionRunner({
      root: process.cwd(),
      region: "us-east-1",
      loadEntries: false,
      log,
      overrides: {
        schedule: async (event: unknown) => {
          if (failures-- > 0) {
            failed.push(event);
            throw new Error("target is down");
          }
          calls.push(event);
          return { ok: true };
        },
      },
    });
  }

  async function until(check: () => boolean, timeoutMs = 8000) {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error("timed out waiting");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("maps a target ARN to the manifest function, and fills in context attributes", () => {
    expect(functionForTarget(TARGET)).toBe("schedule");
    expect(functionForTarget(`${TARGET}:live`)).toBe("schedule");
    expect(functionForTarget("arn:aws:lambda:us-east-1:000000000000:function:someone-else")).toBeUndefined();
    expect(functionForTarget("arn:aws:sqs:us-east-1:000000000000:queue")).toBeUndefined();
    expect(
      fillContextAttributes('{"t":"<aws.scheduler.scheduled-time>","n":"<aws.scheduler.attempt-number>"}', {
        scheduleArn: "arn",
        scheduledTime: new Date("2030-01-01T09:00:00.000Z"),
        executionId: "x",
        attempt: 2,
      }),
    ).toBe('{"t":"2030-01-01T09:00:00Z","n":"2"}');
  });

  it("fires an at() schedule once at its time, then deletes it when told to", async () => {
    const calls: unknown[] = [];
    const firing = startSchedulerFiring({ scheduler, functions: runnerWith(calls), log });
    stops.push(() => firing.stop());
    const at = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
    const local = at.toISOString().slice(0, 19);
    await client.send(
      new CreateScheduleCommand(
        definition("once", {
          ScheduleExpression: `at(${local})`,
          ScheduleExpressionTimezone: "UTC",
          ActionAfterCompletion: "DELETE",
        }),
      ),
    );
    await until(() => calls.length > 0);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
    expect(calls).toEqual([{ scheduleId: "once", scheduledTime: `${local}Z` }]);
    await expect(
      client.send(new GetScheduleCommand({ Name: "once", GroupName: GROUP })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it("fires rate() at once and then every interval, and not while disabled", async () => {
    const calls: unknown[] = [];
    const firing = startSchedulerFiring({ scheduler, functions: runnerWith(calls), log });
    stops.push(() => firing.stop());
    await client.send(
      new CreateScheduleCommand(
        definition("paused", { ScheduleExpression: "rate(1 minute)", State: "DISABLED" }),
      ),
    );
    await client.send(
      new CreateScheduleCommand(definition("every-minute", { ScheduleExpression: "rate(1 minute)" })),
    );
    await until(() => calls.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(calls).toEqual([{ scheduleId: "every-minute", scheduledTime: expect.any(String) }]);
    const next = scheduler.get(GROUP, "every-minute")?.nextFireAt ?? 0;
    const first = Date.parse((calls[0] as { scheduledTime: string }).scheduledTime);
    expect(Math.abs(next - first - 60_000)).toBeLessThan(1000);
    await client.send(new DeleteScheduleCommand({ Name: "every-minute", GroupName: GROUP }));
    await client.send(new DeleteScheduleCommand({ Name: "paused", GroupName: GROUP }));
  });

  it("retries a failing target with the same scheduled time", async () => {
    const calls: unknown[] = [];
    const failed: unknown[] = [];
    const firing = startSchedulerFiring({ scheduler, functions: runnerWith(calls, 1, failed), log });
    stops.push(() => firing.stop());
    await client.send(
      new CreateScheduleCommand(definition("flaky", { ScheduleExpression: "rate(5 minutes)" })),
    );
    await until(() => calls.length > 0);
    expect(failed).toHaveLength(1);
    expect(calls).toEqual(failed);
    await client.send(new DeleteScheduleCommand({ Name: "flaky", GroupName: GROUP }));
  });
});
