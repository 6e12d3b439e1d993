import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

const ITEMS = 2_000;

describe("a 2,000-item forEach on the twin", () => {
  it("succeeds with every output in item order, and its timeline reads back", async () => {
    const started = Date.now();
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "wide-2000",
        nodes: [{ id: "each", type: "code", forEach: "{% [0..($input.n - 1)] %}", code: "return item * 3" }],
      },
      input: { n: ITEMS },
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const jobId = submitted.body.jobId as string;
    const deadline = Date.now() + 240_000;
    for (;;) {
      // The summary is cheap to read; the full job (every item's step) only once it has ended.
      const page = await platform.api("GET", `/v1/jobs?limit=5`);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      const listed = (page.body.items as any[]).find((j: any) => j.id === jobId);
      if (["succeeded", "failed", "cancelled", "timed_out"].includes(listed?.status) || Date.now() > deadline)
        break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const job: any = (await platform.api("GET", `/v1/jobs/${jobId}`)).body;
    console.log(`2,000-item forEach: ${job.status} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.output).toEqual({ each: Array.from({ length: ITEMS }, (_, i) => i * 3) });
    const items = job.steps.filter((s: any) => s.nodeId === "each" && s.itemIndex !== undefined);
    expect(items).toHaveLength(ITEMS);
    expect(items.every((s: any) => s.status === "succeeded" && s.attempt === 1)).toBe(true);

    const events = await platform.api("GET", `/v1/jobs/${jobId}/events`);
    expect(events.status, JSON.stringify(events.body)).toBe(200);
    const list: any[] = events.body.items;
    const progress = list.filter((e) => e.type === "job.note" && e.reason === "FOREACH_PROGRESS");
    expect(progress).toHaveLength(ITEMS / 100);
    expect(list.filter((e) => e.type === "job.status_changed").map((e) => e.status)).toContain("succeeded");
    const seqs = list.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const later = await platform.api("GET", `/v1/jobs/${jobId}/events?since=${seqs[seqs.length - 2]}`);
    expect(later.status).toBe(200);
    expect(later.body.items.map((e: any) => e.seq)).toEqual([seqs.at(-1)]);
  }, 300_000);
});
