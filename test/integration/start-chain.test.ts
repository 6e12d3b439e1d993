import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addSdkHook } from "../bench/sdk-hooks.ts";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

/**
 * A job's start runs its first code steps itself, within SWITCHBOARD_START_CHAIN_MS (default 100 ms), before
 * the job's first write: a job of cheap code steps is written once, already finished, and no step message
 * is sent. These tests drive POST /v1/jobs on the twin and watch every AWS request it makes.
 */
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
  // The first code job of a process finds the sandbox cold and goes to a worker, which starts it.
  const warm = await platform.api("POST", "/v1/jobs", {
    workflow: { name: "warm", nodes: [{ id: "a", type: "code", code: "return 1" }] },
  });
  await waitForJob(platform, warm.body.jobId, ["succeeded"]);
});

afterAll(async () => {
  await platform?.stop();
});

const chain = (name: string, steps: number) => ({
  name,
  nodes: Array.from({ length: steps }, (_, i) => ({
    id: `s${i + 1}`,
    type: "code" as const,
    code: "return (input.n ?? 0) + 1",
    input: i === 0 ? { n: "{% $input.n %}" } : { n: `{% $steps.s${i}.output %}` },
    ...(i === 0 ? {} : { dependsOn: [`s${i}`] }),
  })),
  output: `{% $steps.s${steps}.output %}`,
});

/** Every AWS request made while `body` runs, by command name, with the job items each one wrote. */
async function requestsDuring<T>(body: () => Promise<T>) {
  const calls: {
    command: string;
    jobItems: Record<string, unknown>[];
    summaries: Record<string, unknown>[];
    definitionKeys: string[];
  }[] = [];
  const stop = addSdkHook("start-chain-calls", async (call, next) => {
    const input = call.input as {
      Item?: Record<string, unknown>;
      RequestItems?: Record<string, { PutRequest?: { Item: Record<string, unknown> } }[]>;
    };
    const items = [
      ...(input.Item === undefined ? [] : [input.Item]),
      ...Object.values(input.RequestItems ?? {}).flatMap((requests) =>
        requests.flatMap((r) => (r.PutRequest === undefined ? [] : [r.PutRequest.Item])),
      ),
    ].map((raw) =>
      (raw.pk as { S?: string } | undefined)?.S === undefined ? raw : unmarshall(raw as never),
    );
    calls.push({
      command: call.commandName,
      jobItems: items.filter((item) => item.type === "job"),
      summaries: items.filter((item) => item.type === "jobSummary"),
      definitionKeys: items.filter((item) => item.sk === "A#DEF").map((item) => String(item.pk)),
    });
    return next();
  });
  try {
    return { result: await body(), calls };
  } finally {
    stop();
  }
}

type Event = {
  type: string;
  seq: number;
  nodeId?: string;
  status: string;
  previousStatus?: string;
  attempt?: number;
};

const moves = (events: Event[]) =>
  events.map((e) =>
    e.type === "job.status_changed"
      ? `job:${e.previousStatus ?? "-"}>${e.status}`
      : `${e.nodeId}:${e.previousStatus ?? "-"}>${e.status}`,
  );

describe("code steps at a job's start", () => {
  it("finish a chain of five in the request: one write, no step message, the whole timeline", async () => {
    const { result: submitted, calls } = await requestsDuring(() =>
      platform.api("POST", "/v1/jobs", { workflow: chain("at-start", 5), input: { n: 1 } }),
    );
    expect(submitted.status).toBe(202);
    expect(submitted.body).toMatchObject({ status: "succeeded" });
    const jobId: string = submitted.body.jobId;
    const mine = calls.filter((c) => c.jobItems.some((item) => item.id === jobId));
    expect(mine.map((c) => c.command)).toEqual(["BatchWriteItemCommand"]);
    expect(mine[0]?.jobItems[0]).toMatchObject({ status: "succeeded", output: 6 });
    expect(mine[0]?.jobItems[0]).not.toHaveProperty("gsi4pk");
    // Its list summary, written in the same request, is already final; `succeeded` is not on gsi2.
    expect(mine[0]?.summaries).toEqual([expect.objectContaining({ id: jobId, status: "succeeded" })]);
    expect(mine[0]?.summaries[0]).not.toHaveProperty("gsi2pk");
    expect(calls.map((c) => c.command)).not.toContain("SendMessageBatchCommand");
    expect(calls.map((c) => c.command)).not.toContain("SendMessageCommand");

    const job = await waitForJob(platform, jobId, ["succeeded"]);
    expect(job.output).toBe(6);
    expect(job.steps.map((s: { status: string; attempt: number }) => [s.status, s.attempt])).toEqual(
      Array.from({ length: 5 }, () => ["succeeded", 1]),
    );
    const listed = await platform.api("GET", "/v1/jobs?status=succeeded&limit=100");
    expect(listed.body.items.map((j: { id: string }) => j.id)).toContain(jobId);

    const events = (await platform.api("GET", `/v1/jobs/${jobId}/events`)).body.items as Event[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const all = moves(events);
    expect(all.filter((m) => m.startsWith("job:"))).toEqual([
      "job:->queued",
      "job:queued>running",
      "job:running>succeeded",
    ]);
    for (let i = 1; i <= 5; i++) {
      expect(all.filter((m) => m.startsWith(`s${i}:`))).toEqual([
        `s${i}:->queued`,
        `s${i}:queued>running`,
        `s${i}:running>succeeded`,
      ]);
    }
    // The job started running with its first step's claim, and ended after its last step.
    expect(all.indexOf("job:queued>running")).toBe(all.indexOf("s1:queued>running") + 1);
    expect(all.at(-1)).toBe("job:running>succeeded");
  });

  it("leave a step slower than the start's budget to a worker, which runs it as the same attempt", async () => {
    const workflow = {
      name: "slow-at-start",
      nodes: [
        {
          id: "slow",
          type: "code",
          code: "const t = Date.now(); while (Date.now() - t < 400) {} return 'slow'",
        },
      ],
      output: "{% $steps.slow.output %}",
    };
    const submitted = await platform.api("POST", "/v1/jobs", { workflow });
    expect(submitted.status).toBe(202);
    // Cut short at the start and forgotten: nothing of it was recorded.
    expect(submitted.body.status).toBe("queued");
    const job = await waitForJob(platform, submitted.body.jobId, ["succeeded", "failed"]);
    expect(job).toMatchObject({ status: "succeeded", output: "slow" });
    expect(job.steps[0]).toMatchObject({ nodeId: "slow", status: "succeeded", attempt: 1 });
  });

  it("stop before a step that is not pure, which a worker claims", async () => {
    const workflow = {
      name: "code-then-claimed",
      nodes: [
        { id: "first", type: "code", code: "return 20" },
        // Over 60 s, so it is claimed before it runs (not pure): it goes to a worker.
        {
          id: "second",
          type: "code",
          timeoutSeconds: 90,
          dependsOn: ["first"],
          code: "return steps.first.output + 1",
        },
      ],
      output: "{% $steps.second.output %}",
    };
    const submitted = await platform.api("POST", "/v1/jobs", { workflow });
    expect(submitted.body.status).toBe("running");
    const job = await waitForJob(platform, submitted.body.jobId, ["succeeded", "failed"]);
    expect(job).toMatchObject({ status: "succeeded", output: 21 });
    const events = (await platform.api("GET", `/v1/jobs/${job.id}/events`)).body.items as Event[];
    expect(moves(events)).toEqual([
      "first:->queued",
      "job:->queued",
      "first:queued>running",
      "job:queued>running",
      "first:running>succeeded",
      "second:->queued",
      "second:queued>running",
      "second:running>succeeded",
      "job:running>succeeded",
    ]);
  });

  it("record a failed first attempt and leave its retry to a worker, with the next attempt number", async () => {
    const workflow = {
      name: "retry-after-start",
      nodes: [
        {
          id: "flaky",
          type: "code",
          code: "if (attempt === 1) throw new Error('first try'); return attempt",
          retry: { maxAttempts: 2, intervalSeconds: 0.2 },
        },
      ],
      output: "{% $steps.flaky.output %}",
    };
    const submitted = await platform.api("POST", "/v1/jobs", { workflow });
    expect(submitted.body.status).toBe("running");
    const job = await waitForJob(platform, submitted.body.jobId, ["succeeded", "failed"]);
    expect(job).toMatchObject({ status: "succeeded", output: 2 });
    const events = (await platform.api("GET", `/v1/jobs/${job.id}/events`)).body.items as Event[];
    const queued = events.filter((e) => e.type === "step.status_changed" && e.status === "queued");
    expect(queued.map((e) => e.attempt)).toEqual([1, 2]);
  });

  it("run nothing when the deployment turns it off", async () => {
    process.env.SWITCHBOARD_START_CHAIN_MS = "0";
    try {
      const submitted = await platform.api("POST", "/v1/jobs", {
        workflow: chain("off", 2),
        input: { n: 1 },
      });
      expect(submitted.body.status).toBe("queued");
      const job = await waitForJob(platform, submitted.body.jobId, ["succeeded", "failed"]);
      expect(job).toMatchObject({ status: "succeeded", output: 3 });
    } finally {
      delete process.env.SWITCHBOARD_START_CHAIN_MS;
    }
  });
});

describe("inline definitions", () => {
  it("are stored once per content, and the jobs after the first only name it", async () => {
    const workflow = {
      name: `shared-definition-${Date.now()}`,
      nodes: [{ id: "a", type: "code", code: "return input.n * 3", input: { n: "{% $input.n %}" } }],
      output: "{% $steps.a.output %}",
    };
    const { result, calls } = await requestsDuring(async () => {
      const ids: string[] = [];
      for (let n = 1; n <= 3; n++) {
        const submitted = await platform.api("POST", "/v1/jobs", { workflow, input: { n } });
        expect(submitted.status).toBe(202);
        ids.push(submitted.body.jobId);
      }
      return ids;
    });
    const definitions = calls.flatMap((c) => c.definitionKeys);
    expect(definitions).toHaveLength(1);
    expect(definitions[0]).toMatch(/^T#default#DEF#[0-9a-f]{24}$/);
    for (const [i, id] of result.entries()) {
      const job = await waitForJob(platform, id, ["succeeded", "failed"]);
      expect(job).toMatchObject({ status: "succeeded", output: (i + 1) * 3 });
      expect(job.workflowName).toBe(workflow.name);
    }
  });
});
