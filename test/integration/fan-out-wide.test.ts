import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

const items = (job: any, nodeId: string) =>
  job.steps.filter((s: any) => s.nodeId === nodeId && s.itemIndex !== undefined);

describe("wide forEach on the twin", () => {
  it("runs a 2,000-item forEach of `return item` with every output in item order", async () => {
    const ids = Array.from({ length: 2000 }, (_, i) => i);
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "wide",
        // The fan-out follows a first step, so the worker (not the POST) starts its 2,000 items.
        nodes: [
          { id: "ids", type: "code", input: "{% $input.ids %}", code: "return input" },
          {
            id: "each",
            type: "code",
            dependsOn: ["ids"],
            forEach: "{% $steps.ids.output %}",
            code: "return item",
          },
          { id: "count", type: "code", dependsOn: ["each"], code: "return steps.each.output.length" },
        ],
        output: { all: "{% $steps.each.output %}", count: "{% $steps.count.output %}" },
      },
      input: { ids },
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const heapBefore = process.memoryUsage().heapUsed;
    const job = await waitForJob(platform, submitted.body.jobId, ["succeeded", "failed"], 540_000);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.output).toEqual({ all: ids, count: 2000 });
    const each = items(job, "each");
    expect(each).toHaveLength(2000);
    expect(each.map((s: any) => s.itemIndex)).toEqual(ids);
    expect(each.every((s: any, i: number) => s.status === "succeeded" && s.output === i)).toBe(true);
    // Ordinary memory: the whole run (twin included, in this process) stays far from a Lambda's.
    const grown = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    console.log(`2,000-item forEach: heap grew ${grown.toFixed(0)} MB`);
    expect(process.memoryUsage().heapUsed / 1024 / 1024).toBeLessThan(1024);
    // Item events are coalesced into one progress note per chunk of 100.
    const events = await platform.api("GET", `/v1/jobs/${submitted.body.jobId}/events?limit=1000`);
    const progress = events.body.items.filter((e: any) => e.reason === "FOREACH_PROGRESS");
    expect(progress).toHaveLength(20);
    expect(
      events.body.items.some((e: any) => e.type === "step.status_changed" && e.itemIndex !== undefined),
    ).toBe(false);
  }, 600_000);

  it("never runs more than maxConcurrency items at once, and starts the rest as earlier ones end", async () => {
    const ids = Array.from({ length: 60 }, (_, i) => i);
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "windowed",
        nodes: [
          {
            id: "each",
            type: "code",
            forEach: "{% $input.ids %}",
            maxConcurrency: 4,
            code: "return item * 2",
          },
        ],
      },
      input: { ids },
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const jobId = submitted.body.jobId;
    let most = 0;
    let polls = 0;
    let job: any;
    const deadline = Date.now() + 300_000;
    for (;;) {
      job = (await platform.api("GET", `/v1/jobs/${jobId}`)).body;
      const live = items(job, "each").filter((s: any) => s.status === "queued" || s.status === "running");
      most = Math.max(most, live.length);
      polls++;
      if (["succeeded", "failed"].includes(job.status) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.output).toEqual({ each: ids.map((i) => i * 2) });
    console.log(`maxConcurrency 4: at most ${most} items queued or running in ${polls} polls`);
    expect(polls).toBeGreaterThan(3);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(4);
  }, 360_000);

  it("refuses a maxConcurrency beyond the fan-out limit with a 400", async () => {
    const response = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "too-wide",
        nodes: [
          { id: "each", type: "code", forEach: "{% $input.ids %}", maxConcurrency: 10_001, code: "return 1" },
        ],
      },
      input: { ids: [1] },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe("VALIDATION_FAILED");
  });
});
