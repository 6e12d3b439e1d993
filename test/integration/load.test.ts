import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform } from "../support/platform.ts";

const JOBS = 1000;
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

async function countByStatus(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const status of ["queued", "running", "succeeded", "failed"]) {
    let cursor: string | undefined;
    let n = 0;
    do {
      const page = await platform.api(
        "GET",
        `/v1/jobs?status=${status}&limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      );
      n += page.body.items.length;
      cursor = page.body.cursor;
    } while (cursor !== undefined);
    counts[status] = n;
  }
  return counts;
}

describe("load", () => {
  it(`runs ${JOBS} jobs on the twin and loses none`, async () => {
    const workflow = {
      name: "load",
      nodes: [
        { id: "a", type: "code", code: "return input.n + 1", input: { n: "{% $input.n %}" } },
        { id: "b", type: "code", dependsOn: ["a"], code: "return steps.a.output * 2" },
      ],
      output: "{% $steps.b.output %}",
    };
    const ids = new Set<string>();
    // The first half goes through the queue to the workers; the second half's steps run at their start.
    let finishedAtStart = 0;
    for (let i = 0; i < JOBS; i += 25) {
      process.env.SWITCHBOARD_START_CHAIN_MS = i < JOBS / 2 ? "0" : "";
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, JOBS - i) }, (_, j) =>
          platform.api("POST", "/v1/jobs", { workflow, input: { n: i + j } }),
        ),
      );
      for (const result of batch) {
        expect(result.status).toBe(202);
        if (i < JOBS / 2) expect(result.body.status).toBe("queued");
        else if (result.body.status === "succeeded") finishedAtStart++;
        ids.add(result.body.jobId);
      }
    }
    delete process.env.SWITCHBOARD_START_CHAIN_MS;
    expect(ids.size).toBe(JOBS);
    console.log(`${finishedAtStart} of ${JOBS / 2} jobs finished in the request that started them`);
    expect(finishedAtStart).toBeGreaterThan(0);

    const deadline = Date.now() + 600_000;
    let counts = await countByStatus();
    while ((counts.succeeded ?? 0) < JOBS) {
      expect(counts.failed, JSON.stringify(counts)).toBe(0);
      if (Date.now() > deadline) throw new Error(`jobs left unfinished: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 1000));
      counts = await countByStatus();
    }
    expect(counts).toEqual({ queued: 0, running: 0, succeeded: JOBS, failed: 0 });
  }, 900_000);
});
