/**
 * The overview's aggregates on the twin: `GET /v1/stats/jobs` counts real jobs by status and workflow with
 * their durations, and `GET /v1/usage` groups agent usage by agent and by workflow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
}, 120_000);

afterAll(async () => {
  await platform?.stop();
});

async function run(workflow: unknown, statuses: string[]): Promise<string> {
  const created = await platform.client.api.createJob({ body: { workflow } as never });
  await waitForJob(platform, created.id, statuses);
  return created.id;
}

describe("job statistics", () => {
  it("counts the window's jobs by status and workflow, with durations and the failure rate", async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    await run({ name: "stats-ok", nodes: [{ id: "a", type: "code", code: "return 1" }] }, ["succeeded"]);
    await run({ name: "stats-ok", nodes: [{ id: "a", type: "code", code: "return 2" }] }, ["succeeded"]);
    await run({ name: "stats-bad", nodes: [{ id: "a", type: "code", code: "throw new Error('no')" }] }, [
      "failed",
    ]);
    // Summaries follow the job through the table's stream, so the figures settle shortly after the jobs end.
    let stats = await platform.client.api.jobStats({ query: { from: since } });
    for (let i = 0; i < 100 && stats.total.ended < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await platform.client.api.jobStats({ query: { from: since } });
    }
    expect(stats.bucket).toBe("hour");
    expect(stats.total).toMatchObject({ total: 3, ended: 3, byStatus: { succeeded: 2, failed: 1 } });
    expect(stats.total.failureRate).toBeCloseTo(1 / 3);
    expect(stats.total.p50Ms).toBeGreaterThanOrEqual(0);
    expect(stats.total.p95Ms).toBeGreaterThanOrEqual(stats.total.p50Ms ?? 0);
    expect(stats.byWorkflow.map((w) => [w.workflow, w.total, w.failureRate])).toEqual([
      ["stats-ok", 2, 0],
      ["stats-bad", 1, 1],
    ]);
    expect(stats.buckets.reduce((sum, b) => sum + b.total, 0)).toBe(3);

    const before = await platform.client.api.jobStats({
      query: { from: "2020-01-01T00:00:00.000Z", to: "2020-01-02T00:00:00.000Z", bucket: "day" },
    });
    expect(before.total.total).toBe(0);
    expect(before.buckets).toHaveLength(2);
  });

  it("refuses a window that is reversed or too wide, and an instant that is not one", async () => {
    const stats = platform.client.api.jobStats;
    await expect(
      stats({ query: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" } }),
    ).rejects.toMatchObject({ status: 400, code: "BAD_REQUEST", message: "from must not be after to" });
    await expect(
      stats({ query: { from: "2026-01-01T00:00:00Z", to: "2026-03-01T00:00:00Z" } }),
    ).rejects.toMatchObject({ status: 400, code: "BAD_REQUEST" });
    await expect(stats({ query: { from: "yesterday" } })).rejects.toMatchObject({
      status: 400,
      code: "VALIDATION_FAILED",
    });
  });
});

describe("usage by agent and by workflow", () => {
  it("adds each agent step's tokens and cost under its agent and its workflow", async () => {
    await platform.client.api.createAgent({
      body: { name: "stats-writer", provider: "scripted", model: "rules" },
    });
    const workflow = {
      name: "stats-agents",
      nodes: [{ id: "ask", type: "agent", agent: "stats-writer", input: "Write a line about tea" }],
    };
    await run(workflow, ["succeeded"]);
    await run(workflow, ["succeeded"]);

    const byAgent = await platform.client.api.getUsage({ query: { groupBy: "agent" } });
    const agent = byAgent.items.find((item) => item.key === "stats-writer");
    expect(agent?.steps).toBe(2);
    expect((agent?.inputTokens ?? 0) + (agent?.outputTokens ?? 0)).toBeGreaterThan(0);

    const byWorkflow = await platform.client.api.getUsage({ query: { groupBy: "workflow" } });
    const item = byWorkflow.items.find((entry) => entry.key === "stats-agents");
    expect(item).toMatchObject({
      steps: 2,
      inputTokens: agent?.inputTokens,
      outputTokens: agent?.outputTokens,
    });
  });
});
