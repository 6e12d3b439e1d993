import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

async function run(
  workflow: unknown,
  input: unknown = {},
  statuses = ["succeeded", "failed", "cancelled", "timed_out"],
) {
  const submitted = await platform.api("POST", "/v1/jobs", { workflow, input });
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  return waitForJob(platform, submitted.body.jobId, statuses, 45_000);
}

const step = (job: any, nodeId: string, itemIndex?: number) =>
  job.steps.find((s: any) => s.nodeId === nodeId && s.itemIndex === itemIndex);

describe("workflow semantics on the twin", () => {
  it("runs parallel branches and joins them only when both parents finished", async () => {
    const job = await run({
      name: "diamond",
      nodes: [
        { id: "start", type: "code", code: "return 1" },
        { id: "left", type: "code", dependsOn: ["start"], code: "return steps.start.output + 10" },
        { id: "right", type: "code", dependsOn: ["start"], code: "return steps.start.output + 100" },
        {
          id: "join",
          type: "code",
          dependsOn: ["left", "right"],
          code: "return steps.left.output + steps.right.output",
        },
      ],
      output: "{% $steps.join.output %}",
    });
    expect(job.status).toBe("succeeded");
    expect(job.output).toBe(112);
    const join = step(job, "join");
    for (const parent of ["left", "right"]) {
      expect(Date.parse(join.startedAt)).toBeGreaterThanOrEqual(Date.parse(step(job, parent).endedAt));
    }
  });

  it("skips a node whose condition is false, and propagates the skip unless another parent succeeded", async () => {
    const job = await run(
      {
        name: "conditions",
        nodes: [
          { id: "gate", type: "code", if: "{% $input.go %}", code: "return 'ran'" },
          { id: "after", type: "code", dependsOn: ["gate"], code: "return 'after'" },
          { id: "other", type: "code", code: "return 'other'" },
          { id: "either", type: "code", dependsOn: ["gate", "other"], code: "return 'either'" },
        ],
      },
      { go: false },
    );
    expect(job.status).toBe("succeeded");
    expect(step(job, "gate").status).toBe("skipped");
    expect(step(job, "after").status).toBe("skipped");
    expect(step(job, "either")).toMatchObject({ status: "succeeded", output: "either" });
  });

  it("fans out forEach into one step per item and joins the outputs in item order", async () => {
    const job = await run(
      {
        name: "fan",
        nodes: [
          {
            id: "each",
            type: "code",
            forEach: "{% $input.ids %}",
            code: "return { item, index, doubled: item * 2 }",
          },
          {
            id: "sum",
            type: "code",
            dependsOn: ["each"],
            code: "return steps.each.output.reduce((a, o) => a + o.doubled, 0)",
          },
        ],
        output: { sum: "{% $steps.sum.output %}" },
      },
      { ids: [3, 1, 2] },
    );
    expect(job.status).toBe("succeeded");
    expect(step(job, "each").output).toEqual([
      { item: 3, index: 0, doubled: 6 },
      { item: 1, index: 1, doubled: 2 },
      { item: 2, index: 2, doubled: 4 },
    ]);
    expect([0, 1, 2].map((i) => step(job, "each", i).status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect(job.output).toEqual({ sum: 12 });
  });

  it("retries a failing step up to maxAttempts, with $attempt visible to the code", async () => {
    const job = await run({
      name: "flaky",
      nodes: [
        {
          id: "flaky",
          type: "code",
          input: { attempt: "{% $attempt %}" },
          code: "if (attempt < 3) throw new Error('try ' + attempt); return { attempt, seen: input.attempt }",
          retry: { maxAttempts: 3, intervalSeconds: 0.2, backoffRate: 1 },
        },
      ],
    });
    expect(job.status).toBe("succeeded");
    expect(step(job, "flaky")).toMatchObject({ attempt: 3, output: { attempt: 3, seen: 3 } });
    const events = await platform.api("GET", `/v1/jobs/${job.id}/events`);
    const failures = events.body.items.filter(
      (e: any) => e.type === "step.status_changed" && e.status === "queued",
    );
    expect(failures.map((e: any) => e.attempt)).toEqual([1, 2, 3]);
  });

  it("fails the job when retries run out, and goes on past a node with onError continue", async () => {
    const failed = await run({
      name: "exhausted",
      nodes: [
        {
          id: "bad",
          type: "code",
          code: "throw new Error('always')",
          retry: { maxAttempts: 2, intervalSeconds: 0.1 },
        },
      ],
    });
    expect(failed.status).toBe("failed");
    expect(step(failed, "bad")).toMatchObject({ status: "failed", attempt: 2 });
    expect(failed.error.message).toContain("bad");

    const continued = await run({
      name: "continue",
      nodes: [
        { id: "bad", type: "code", code: "throw new Error('tolerated')", onError: "continue" },
        { id: "next", type: "code", dependsOn: ["bad"], code: "return 'went on'" },
      ],
    });
    expect(continued.status).toBe("succeeded");
    expect(step(continued, "next").output).toBe("went on");
  });

  it("times out a step that runs past its timeoutSeconds", async () => {
    const job = await run({
      name: "slow",
      nodes: [{ id: "spin", type: "code", timeoutSeconds: 1, code: "while (true) {}" }],
    });
    expect(job.status).toBe("failed");
    expect(step(job, "spin").error.code).toBe("CODE_TIMEOUT");
  });

  it("sleeps durably in a wait node and then goes on", async () => {
    const started = Date.now();
    const job = await run({
      name: "pause",
      nodes: [
        { id: "pause", type: "wait", seconds: 2 },
        { id: "after", type: "code", dependsOn: ["pause"], code: "return 'awake'" },
      ],
    });
    expect(job.status).toBe("succeeded");
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(step(job, "after").output).toBe("awake");
  });

  it("exposes $job to expressions", async () => {
    const job = await run({
      name: "context",
      nodes: [
        {
          id: "who",
          type: "code",
          input: { id: "{% $job.id %}", name: "{% $job.workflowName %}" },
          code: "return input",
        },
      ],
    });
    expect(step(job, "who").output).toEqual({ id: job.id, name: "context" });
  });

  it("returns the same job for a repeated idempotencyKey", async () => {
    const body = {
      workflow: { name: "once", nodes: [{ id: "a", type: "code", code: "return 1" }] },
      idempotencyKey: `key-${Date.now()}`,
    };
    const first = await platform.api("POST", "/v1/jobs", body);
    const second = await platform.api("POST", "/v1/jobs", body);
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(second.body.jobId).toBe(first.body.jobId);
  });

  it("refuses an idempotencyKey reused with a different body, naming the job it belongs to", async () => {
    const key = `key-${Date.now()}-other`;
    const workflow = { name: "once", nodes: [{ id: "a", type: "code", code: "return 1" }] };
    const first = await platform.api("POST", "/v1/jobs", { workflow, input: { n: 1 }, idempotencyKey: key });
    const other = await platform.api("POST", "/v1/jobs", { workflow, input: { n: 2 }, idempotencyKey: key });
    expect(first.status).toBe(202);
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
      message: expect.stringContaining(key),
      details: { jobId: first.body.jobId },
      requestId: expect.any(String),
    });
    // Key order in the body does not make it another request.
    const same = await platform.api("POST", "/v1/jobs", { idempotencyKey: key, input: { n: 1 }, workflow });
    expect(same.status).toBe(200);
    expect(same.body.jobId).toBe(first.body.jobId);
  });

  it("refuses to retry a cancelled job with a 409 that says why", async () => {
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: { name: "stop", nodes: [{ id: "pause", type: "wait", seconds: 120 }] },
    });
    await waitForJob(platform, submitted.body.jobId, ["waiting"]);
    expect((await platform.api("POST", `/v1/jobs/${submitted.body.jobId}/cancel`)).status).toBe(200);
    const retried = await platform.api("POST", `/v1/jobs/${submitted.body.jobId}/retry`);
    expect(retried.status).toBe(409);
    expect(retried.body).toMatchObject({ code: "CONFLICT", message: expect.stringContaining("cancelled") });
    const job = await platform.api("GET", `/v1/jobs/${submitted.body.jobId}`);
    expect(job.body.status).toBe("cancelled");
  });

  it("cancels a waiting job so no new step starts", async () => {
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "cancel-me",
        nodes: [
          { id: "pause", type: "wait", seconds: 60 },
          { id: "never", type: "code", dependsOn: ["pause"], code: "return 1" },
        ],
      },
    });
    await waitForJob(platform, submitted.body.jobId, ["waiting", "running"]);
    const cancelled = await platform.api("POST", `/v1/jobs/${submitted.body.jobId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    const job = await waitForJob(platform, submitted.body.jobId, ["cancelled"]);
    expect(step(job, "never").status).toBe("cancelled");
    const again = await platform.api("POST", `/v1/jobs/${submitted.body.jobId}/cancel`);
    expect(again.status).toBe(409);
  });

  it("re-runs a failed job from its failed steps and keeps what succeeded", async () => {
    const failed = await run(
      {
        name: "rerun",
        nodes: [
          { id: "stamp", type: "code", code: "return Math.random()" },
          { id: "check", type: "code", dependsOn: ["stamp"], code: "throw new Error('fails on every run')" },
        ],
      },
      {},
    );
    expect(failed.status).toBe("failed");
    const stamp = step(failed, "stamp").output;
    const retried = await platform.api("POST", `/v1/jobs/${failed.id}/retry`);
    expect(retried.status).toBe(202);
    // The step fails on every run, while the succeeded step's output is kept as it was. The re-run goes on
    // with the attempt numbers, so the step's idempotency key (job:node:item:attempt) never repeats.
    const job = await waitForJob(platform, failed.id, ["failed", "succeeded"]);
    expect(step(job, "stamp").output).toBe(stamp);
    expect(step(failed, "check").attempt).toBe(1);
    expect(step(job, "check")).toMatchObject({ status: "failed", attempt: 2 });
    const events = await platform.api("GET", `/v1/jobs/${failed.id}/events`);
    const stampRuns = events.body.items.filter(
      (e: any) => e.type === "step.status_changed" && e.nodeId === "stamp" && e.status === "running",
    );
    expect(stampRuns).toHaveLength(1);
  });

  it("runs a node with runtime fargate as a task, which reports through the same transitions", async () => {
    const job = await run({
      name: "long",
      nodes: [
        { id: "prep", type: "code", code: "return 20" },
        {
          id: "long",
          type: "code",
          runtime: "fargate",
          dependsOn: ["prep"],
          code: "return steps.prep.output + 22",
        },
      ],
      output: "{% $steps.long.output %}",
    });
    expect(job.status).toBe("succeeded");
    expect(job.output).toBe(42);
  });

  it("fails a job whose timeoutSeconds passed, when the sweeper runs", async () => {
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: { name: "too-long", timeoutSeconds: 1, nodes: [{ id: "pause", type: "wait", seconds: 120 }] },
    });
    await waitForJob(platform, submitted.body.jobId, ["waiting", "running"]);
    await new Promise((r) => setTimeout(r, 1100));
    await platform.twin.invoke("sweeper", {});
    const job = await waitForJob(platform, submitted.body.jobId, ["timed_out"]);
    expect(step(job, "pause").status).toBe("cancelled");
  });

  it("stores outputs over the claim-check threshold in S3 and hands back the full value", async () => {
    const job = await run({
      name: "big",
      nodes: [
        { id: "big", type: "code", code: "return 'x'.repeat(100000)" },
        { id: "size", type: "code", dependsOn: ["big"], code: "return steps.big.output.length" },
      ],
      output: { size: "{% $steps.size.output %}", big: "{% $steps.big.output %}" },
    });
    expect(job.status).toBe("succeeded");
    expect(step(job, "big").output).toHaveLength(100_000);
    expect(step(job, "size").output).toBe(100_000);
    expect(job.output.big).toHaveLength(100_000);
    const events = await platform.api("GET", `/v1/jobs/${job.id}/events`);
    const bigDone = events.body.items.find(
      (e: any) => e.type === "step.status_changed" && e.nodeId === "big" && e.status === "succeeded",
    );
    expect(bigDone.output).toEqual({ $payload: expect.objectContaining({ bytes: 100_002 }) });
  });
});
