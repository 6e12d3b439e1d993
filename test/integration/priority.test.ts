import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { login, type Platform, request, startPlatform } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  // The low queue's consumer runs one batch at a time, so the backlog outlasts its submission on any machine.
  platform = await startPlatform({ startChainMs: 0, queueOverrides: { "steps-low": { concurrency: 1 } } });
});

afterAll(async () => {
  await platform?.stop();
});

/**
 * Five steps of 25 ms of work each, so each low job holds the low queue's one consumer for a while and the
 * backlog outlasts its submission: a chain of trivial code steps commits once and would drain as fast as
 * it is submitted.
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
const oneStep = { name: "tick", nodes: [{ id: "a", type: "code", code: "return 1" }] };

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

async function submit(api: Platform["api"], count: number, body: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  const prefix = `${String(body.priority ?? "normal")}-${Date.now()}`;
  for (let i = 0; i < count; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, count - i) }, (_, n) =>
        submitOne(api, { ...body, idempotencyKey: `${prefix}-${i + n}` }),
      ),
    );
    ids.push(...batch);
  }
  return ids;
}

async function succeeded(api: Platform["api"], ids: string[]): Promise<number> {
  let done = 0;
  for (let i = 0; i < ids.length; i += 5) {
    const results = await Promise.all(ids.slice(i, i + 5).map((id) => api("GET", `/v1/jobs/${id}`)));
    for (const result of results) {
      expect(result.body.status).not.toBe("failed");
      if (result.body.status === "succeeded") done++;
    }
  }
  return done;
}

async function finishedAt(api: Platform["api"], id: string, deadline: number): Promise<number> {
  for (;;) {
    const job = await api("GET", `/v1/jobs/${id}`);
    expect(job.body.status).not.toBe("failed");
    if (job.body.status === "succeeded") return Date.now();
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${job.body.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("job priority", () => {
  it("stores the priority, defaults it to normal and refuses an unknown one", async () => {
    const high = await platform.api("POST", "/v1/jobs", { workflow: oneStep, priority: "high" });
    expect(high.status).toBe(202);
    expect((await platform.api("GET", `/v1/jobs/${high.body.jobId}`)).body.priority).toBe("high");
    const plain = await platform.api("POST", "/v1/jobs", { workflow: oneStep });
    expect((await platform.api("GET", `/v1/jobs/${plain.body.jobId}`)).body.priority).toBe("normal");
    const bad = await platform.api("POST", "/v1/jobs", { workflow: oneStep, priority: "urgent" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
  });

  it("runs a tenant's high job ahead of its low backlog, and keeps another tenant's job prompt", async () => {
    const created = await platform.api("POST", "/v1/tenants", {
      name: "Other",
      adminEmail: "other@switchboard.test",
      adminPassword: "another-long-password",
    });
    expect(created.status).toBe(201);
    const otherToken = await login(platform.url, "other@switchboard.test", "another-long-password");
    const other: Platform["api"] = (method, path, body) =>
      request(platform.url, method, path, body, { authorization: `Bearer ${otherToken}` });

    const backlog = await submit(platform.api, 220, { workflow: fiveSteps, priority: "low" });
    const [high] = await submit(platform.api, 1, { workflow: oneStep, priority: "high" });
    const [normal] = await submit(other, 1, { workflow: oneStep });
    const submittedAt = Date.now();
    const deadline = submittedAt + 420_000;

    const [highDone, normalDone] = await Promise.all([
      finishedAt(platform.api, high as string, deadline),
      finishedAt(other, normal as string, deadline),
    ]);
    const lowLeftAtHigh = backlog.length - (await succeeded(platform.api, backlog));

    let lowDone = await succeeded(platform.api, backlog);
    while (lowDone < backlog.length) {
      if (Date.now() > deadline)
        throw new Error(`the low backlog did not drain: ${lowDone}/${backlog.length}`);
      await new Promise((r) => setTimeout(r, 2000));
      lowDone = await succeeded(platform.api, backlog);
    }
    const lowTook = Date.now() - submittedAt;
    const highTook = highDone - submittedAt;
    const normalTook = normalDone - submittedAt;
    const figures = `high ${highTook} ms, other tenant ${normalTook} ms, low backlog ${lowTook} ms`;
    // In send order the high job would wait for the whole backlog; it overtakes what was still queued.
    expect(lowLeftAtHigh, figures).toBeGreaterThan(0);
    expect(highTook, figures).toBeLessThan(lowTook / 4);
    // The other tenant's normal job is not starved by the first tenant's low or high work.
    expect(normalTook, figures).toBeLessThan(lowTook / 4);
  }, 540_000);
});
