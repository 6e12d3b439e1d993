import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { login, type Platform, request, startPlatform } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  // One batch at a time, so the burst drains slower than it is submitted on any machine and there is a
  // backlog to be fair against. It is the queue's consumer, not a limit on tenants.
  platform = await startPlatform({ startChainMs: 0, queueOverrides: { steps: { concurrency: 1 } } });
});

afterAll(async () => {
  await platform?.stop();
});

const oneStep = { name: "tick", nodes: [{ id: "a", type: "code", code: "return 1" }] };
/**
 * The burst's jobs: a chain of five steps of 25 ms of work each, each job holding a worker for five steps, so
 * the burst queues up faster than the twin drains it and there is a backlog to be fair against (a chain of
 * trivial code steps commits once and would drain as fast as it is submitted).
 */
const fiveSteps = {
  name: "chain",
  nodes: ["a", "b", "c", "d", "e"].map((id, index, ids) => ({
    id,
    type: "code",
    code: `const end = Date.now() + 25; while (Date.now() < end) {} return ${index}`,
    ...(index === 0 ? {} : { dependsOn: [ids[index - 1] as string] }),
  })),
};

/**
 * On a loaded machine the twin's gateway can time out (504) while the job is still being created; a retry
 * with the same idempotency key gets that job, never a second one.
 */
async function submitOne(api: Platform["api"], body: Record<string, unknown>): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const result = await api("POST", "/v1/jobs", body);
    if (result.status === 504 && attempt < 4) continue;
    expect([200, 202]).toContain(result.status);
    return result.body.jobId;
  }
}

async function submit(
  api: Platform["api"],
  count: number,
  workflow: Record<string, unknown> = oneStep,
): Promise<string[]> {
  const ids: string[] = [];
  const prefix = `${workflow.name}-${Date.now()}`;
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, (_, n) =>
        submitOne(api, { workflow, idempotencyKey: `${prefix}-${i + n}` }),
      ),
    );
    ids.push(...batch);
  }
  return ids;
}

/** How many of the caller's jobs are in each status, from the status index (not one GET per job). */
async function statusCounts(api: Platform["api"]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const status of ["queued", "running", "succeeded", "failed"]) {
    let cursor: string | undefined;
    let n = 0;
    do {
      const page = await api(
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

describe("fairness between tenants", () => {
  it("finishes a small tenant's jobs long before a busy tenant's burst drains", async () => {
    const created = await platform.api("POST", "/v1/tenants", {
      name: "Small",
      adminEmail: "small@switchboard.test",
      adminPassword: "another-long-password",
    });
    expect(created.status).toBe(201);
    const smallToken = await login(platform.url, "small@switchboard.test", "another-long-password");
    const small: Platform["api"] = (method, path, body) =>
      request(platform.url, method, path, body, { authorization: `Bearer ${smallToken}` });

    const burst = await submit(platform.api, 200, fiveSteps);
    const few = await submit(small, 5);
    const submittedAt = Date.now();

    const deadline = Date.now() + 240_000;
    let smallCounts = await statusCounts(small);
    while ((smallCounts.succeeded ?? 0) < few.length) {
      expect(smallCounts.failed).toBe(0);
      if (Date.now() > deadline)
        throw new Error(`the small tenant's jobs did not finish: ${JSON.stringify(smallCounts)}`);
      await new Promise((r) => setTimeout(r, 100));
      smallCounts = await statusCounts(small);
    }
    const smallTook = Date.now() - submittedAt;
    const burstLeft = burst.length - ((await statusCounts(platform.api)).succeeded ?? 0);

    // The burst still drains, with nothing lost.
    let burstCounts = await statusCounts(platform.api);
    while ((burstCounts.succeeded ?? 0) < burst.length) {
      expect(burstCounts.failed).toBe(0);
      if (Date.now() > deadline) throw new Error(`the burst did not drain: ${JSON.stringify(burstCounts)}`);
      await new Promise((r) => setTimeout(r, 250));
      burstCounts = await statusCounts(platform.api);
    }
    const burstTook = Date.now() - submittedAt;
    // Queued behind the burst in send order, the five would finish with it; the steps queue's fair delivery
    // by message group (the tenant) lets them overtake it.
    expect(burstLeft, `small took ${smallTook} ms, the burst ${burstTook} ms`).toBeGreaterThan(0);
    expect(smallTook, `small took ${smallTook} ms, the burst ${burstTook} ms`).toBeLessThan(burstTook / 2);
  }, 360_000);
});
