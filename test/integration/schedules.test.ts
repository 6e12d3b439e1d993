import { GetScheduleCommand, ResourceNotFoundException, SchedulerClient } from "@aws-sdk/client-scheduler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";
import { bearer, createTenant, createUser, send } from "./identity-support.ts";

let platform: Platform;
let scheduler: SchedulerClient;
let workflowId: string;
const GROUP = () => platform.twin.env.SCHEDULE_GROUP_NAME ?? "";

const echo = {
  name: "echo",
  nodes: [{ id: "echo", type: "code", input: { said: "{% $input.say %}" }, code: "return input.said" }],
  output: { said: "{% $steps.echo.output %}" },
};

beforeAll(async () => {
  platform = await startPlatform();
  scheduler = new SchedulerClient({
    endpoint: platform.twin.endpoints.awsServices,
    region: "us-east-1",
    credentials: { accessKeyId: "twin", secretAccessKey: "twin" },
  });
  const created = await platform.api("POST", "/v1/workflows", echo);
  workflowId = created.body.id;
});

afterAll(async () => {
  scheduler?.destroy();
  await platform?.stop();
});

/** `at()` for a whole second at least `ms` from now, in UTC. */
function atIn(ms: number): { expression: string; time: Date } {
  const time = new Date(Math.ceil((Date.now() + ms) / 1000) * 1000);
  return { expression: `at(${time.toISOString().slice(0, 19)})`, time };
}

async function jobsOf(id: string): Promise<any[]> {
  const result = await platform.api("GET", `/v1/jobs?workflowId=${id}&limit=100`);
  return result.body.items;
}

async function remote(name: string) {
  return scheduler.send(new GetScheduleCommand({ Name: name, GroupName: GROUP() }));
}

describe("schedules start jobs on the twin", () => {
  it("fires an at() schedule a few seconds ahead, once, recording the schedule on the job", async () => {
    const { expression, time } = atIn(2500);
    const created = await platform.api("POST", "/v1/schedules", {
      name: "soon",
      workflowId,
      expression,
      input: { say: "hello" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^sch_/),
      name: "soon",
      workflowId,
      expression,
      timezone: "UTC",
      enabled: true,
      input: { say: "hello" },
      nextFireTimes: [time.toISOString()],
    });
    const id = created.body.id;
    expect(await remote(id)).toMatchObject({
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: "UTC",
      State: "ENABLED",
      ActionAfterCompletion: "DELETE",
      Target: { Arn: platform.twin.env.SCHEDULE_TARGET_ARN },
    });

    const deadline = Date.now() + 15_000;
    let jobs: any[] = [];
    while (jobs.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      jobs = (await jobsOf(workflowId)).filter((job) => job.scheduleId === id);
    }
    expect(jobs).toHaveLength(1);
    expect(Date.parse(jobs[0].createdAt)).toBeGreaterThanOrEqual(time.getTime());
    const job = await waitForJob(platform, jobs[0].id, ["succeeded"]);
    expect(job).toMatchObject({ scheduleId: id, workflowId, workflowVersion: 1, output: { said: "hello" } });

    // Fired and done: the Scheduler deleted it, and the schedule says when it last fired.
    await expect(remote(id)).rejects.toBeInstanceOf(ResourceNotFoundException);
    const after = await platform.api("GET", `/v1/schedules/${id}`);
    expect(after.body).toMatchObject({
      lastJobId: jobs[0].id,
      lastFiredAt: expect.any(String),
      nextFireTimes: [],
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await jobsOf(workflowId)).filter((j) => j.scheduleId === id)).toHaveLength(1);
  });

  it("does not fire while paused", async () => {
    const { expression } = atIn(1500);
    const created = await platform.api("POST", "/v1/schedules", {
      workflowId,
      expression,
      input: { say: "x" },
    });
    const id = created.body.id;
    const paused = await platform.api("PATCH", `/v1/schedules/${id}`, { enabled: false });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ enabled: false, nextFireTimes: [] });
    expect((await remote(id)).State).toBe("DISABLED");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await jobsOf(workflowId)).filter((job) => job.scheduleId === id)).toEqual([]);
  });

  it("starts one job per firing, however often the firing is delivered", async () => {
    const created = await platform.api("POST", "/v1/schedules", {
      workflowId,
      expression: "cron(0 12 * * ? *)",
      input: { say: "again" },
    });
    const id = created.body.id;
    const firing = {
      tenantId: "default",
      scheduleId: id,
      scheduledTime: "2030-01-01T12:00:00Z",
      executionId: "e1",
    };
    const first = await platform.twin.invoke<{ jobId: string; started: boolean }>("schedule", firing);
    const retry = await platform.twin.invoke<{ jobId: string; started: boolean }>("schedule", {
      ...firing,
      executionId: "e2",
    });
    expect(first.started).toBe(true);
    expect(retry).toEqual({ started: false, jobId: first.jobId });
    const next = await platform.twin.invoke<{ jobId: string }>("schedule", {
      ...firing,
      scheduledTime: "2030-01-02T12:00:00Z",
    });
    expect(next.jobId).not.toBe(first.jobId);
    await platform.api("DELETE", `/v1/schedules/${id}`);
  });
});

describe("the schedule resource", () => {
  it.each([
    ["cron(0 10 * * *)", /six fields/],
    ["cron(0 10 * * * *)", /one of day-of-month or day-of-week must be \?/],
    ["cron(0 10 ? * 0 *)", /day-of-week: 0 is out of range 1-7/],
    ["rate(1 minutes)", /write "1 minute"/],
    ["rate(90 seconds)", /unit "seconds"/],
    ["at(2030-02-30T10:00:00)", /not a date/],
    ["at(2001-01-01T00:00:00)", /in the past/],
    ["every day", /is not cron/],
  ])("refuses %s, saying what is wrong", async (expression, why) => {
    const result = await platform.api("POST", "/v1/schedules", { workflowId, expression });
    expect(result.status).toBe(400);
    expect(result.body.code).toBe("VALIDATION_FAILED");
    expect(result.body.message).toMatch(why);
    expect(result.body.details).toEqual([{ path: "expression", message: expect.stringMatching(why) }]);
  });

  it("refuses an unknown time zone and an unknown workflow", async () => {
    const zone = await platform.api("POST", "/v1/schedules", {
      workflowId,
      expression: "rate(5 minutes)",
      timezone: "Mars/Olympus_Mons",
    });
    expect(zone.status).toBe(400);
    expect(zone.body.details).toEqual([
      { path: "timezone", message: expect.stringMatching(/not an IANA time zone/) },
    ]);
    const workflow = await platform.api("POST", "/v1/schedules", {
      workflowId: "wf_nope",
      expression: "rate(5 minutes)",
    });
    expect(workflow.status).toBe(404);
  });

  it("shows the next five fire times of a cron in its time zone, across a DST change", async () => {
    // Every day at 02:30 in New York: the day clocks spring forward has no 02:30, so it is skipped.
    const created = await platform.api("POST", "/v1/schedules", {
      workflowId,
      expression: "cron(30 2 * 3 ? 2099)",
      timezone: "America/New_York",
    });
    expect(created.status).toBe(201);
    const read = await platform.api("GET", `/v1/schedules/${created.body.id}`);
    expect(read.body.nextFireTimes).toEqual([
      "2099-03-01T07:30:00.000Z",
      "2099-03-02T07:30:00.000Z",
      "2099-03-03T07:30:00.000Z",
      "2099-03-04T07:30:00.000Z",
      "2099-03-05T07:30:00.000Z",
    ]);
    const laterInMarch = await platform.api("PATCH", `/v1/schedules/${created.body.id}`, {
      expression: "cron(30 2 7-12 3 ? 2099)",
    });
    // 2099-03-08 is the second Sunday of March: no 02:30 that day, and EDT (UTC-4) after it.
    expect(laterInMarch.body.nextFireTimes).toEqual([
      "2099-03-07T07:30:00.000Z",
      "2099-03-09T06:30:00.000Z",
      "2099-03-10T06:30:00.000Z",
      "2099-03-11T06:30:00.000Z",
      "2099-03-12T06:30:00.000Z",
    ]);
    expect((await remote(created.body.id)).ScheduleExpression).toBe("cron(30 2 7-12 3 ? 2099)");
  });

  it("lists, updates and deletes schedules, keeping the Scheduler in step", async () => {
    const created = await platform.api("POST", "/v1/schedules", {
      workflowId,
      expression: "rate(1 day)",
      enabled: false,
    });
    const id = created.body.id;
    const listed = await platform.api("GET", "/v1/schedules?limit=100");
    expect(listed.body.items.map((s: any) => s.id)).toContain(id);
    const byWorkflow = await platform.api("GET", `/v1/schedules?workflowId=${workflowId}&limit=100`);
    expect(byWorkflow.body.items.map((s: any) => s.id)).toContain(id);

    const bad = await platform.api("PATCH", `/v1/schedules/${id}`, { expression: "rate(0 days)" });
    expect(bad.status).toBe(400);
    const resumed = await platform.api("PATCH", `/v1/schedules/${id}`, {
      enabled: true,
      expression: "cron(0 9 ? * MON-FRI *)",
      timezone: "Europe/Berlin",
    });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({
      enabled: true,
      expression: "cron(0 9 ? * MON-FRI *)",
      timezone: "Europe/Berlin",
    });
    expect(resumed.body.nextFireTimes).toHaveLength(5);
    expect(await remote(id)).toMatchObject({
      State: "ENABLED",
      ScheduleExpression: "cron(0 9 ? * MON-FRI *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
    });

    expect((await platform.api("DELETE", `/v1/schedules/${id}`)).status).toBe(204);
    expect((await platform.api("GET", `/v1/schedules/${id}`)).status).toBe(404);
    expect((await platform.api("DELETE", `/v1/schedules/${id}`)).status).toBe(404);
    await expect(remote(id)).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it("pauses the schedules of a workflow that is deleted", async () => {
    const doomed = await platform.api("POST", "/v1/workflows", { ...echo, name: "doomed" });
    const schedule = await platform.api("POST", "/v1/schedules", {
      workflowId: doomed.body.id,
      expression: "cron(0 9 * * ? *)",
    });
    expect((await platform.api("DELETE", `/v1/workflows/${doomed.body.id}`)).status).toBe(204);
    const read = await platform.api("GET", `/v1/schedules/${schedule.body.id}`);
    expect(read.body).toMatchObject({ enabled: false, nextFireTimes: [] });
    expect((await remote(schedule.body.id)).State).toBe("DISABLED");
    const resume = await platform.api("PATCH", `/v1/schedules/${schedule.body.id}`, { enabled: true });
    expect(resume.status).toBe(404);
  });

  it("keeps schedules to their tenant and writers", async () => {
    const created = await platform.api("POST", "/v1/schedules", {
      workflowId,
      expression: "rate(1 hour)",
      enabled: false,
    });
    const other = bearer((await createTenant(platform, "Neighbours")).token);
    expect((await send(platform.url, other, "GET", `/v1/schedules/${created.body.id}`)).status).toBe(404);
    expect(
      (await send(platform.url, other, "PATCH", `/v1/schedules/${created.body.id}`, { enabled: true }))
        .status,
    ).toBe(404);
    expect((await send(platform.url, other, "DELETE", `/v1/schedules/${created.body.id}`)).status).toBe(404);
    expect(
      (await send(platform.url, other, "POST", "/v1/schedules", { workflowId, expression: "rate(1 hour)" }))
        .status,
    ).toBe(404);
    const viewer = bearer((await createUser(platform.url, platform.token, "viewer")).token);
    expect((await send(platform.url, viewer, "GET", `/v1/schedules/${created.body.id}`)).status).toBe(200);
    expect(
      (await send(platform.url, viewer, "PATCH", `/v1/schedules/${created.body.id}`, { enabled: true }))
        .status,
    ).toBe(403);
  });
});
