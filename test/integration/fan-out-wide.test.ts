import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform } from "../support/platform.ts";

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
