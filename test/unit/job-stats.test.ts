import { describe, expect, it } from "vitest";
import { type JobRow, percentile, summarizeJobs } from "#shared/stats/summarize";

const at = (iso: string) => new Date(iso);
const job = (createdAt: string, status: JobRow["status"], ms?: number, workflowName = "wf"): JobRow => ({
  status,
  workflowName,
  createdAt,
  startedAt: createdAt,
  ...(ms === undefined ? {} : { endedAt: new Date(Date.parse(createdAt) + ms).toISOString() }),
});

describe("percentile", () => {
  it("takes the nearest rank, and null for no values", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });
});

describe("summarizeJobs", () => {
  it("counts jobs per hour by status, with every hour of the window present", () => {
    const stats = summarizeJobs(
      [
        job("2026-12-01T10:05:00.000Z", "succeeded", 1_000),
        job("2026-12-01T10:40:00.000Z", "failed", 3_000),
        job("2026-12-01T12:01:00.000Z", "running"),
      ],
      { from: at("2026-12-01T10:00:00.000Z"), to: at("2026-12-01T12:30:00.000Z"), bucket: "hour" },
    );
    expect(stats.buckets.map((b) => [b.start, b.total])).toEqual([
      ["2026-12-01T10:00:00.000Z", 2],
      ["2026-12-01T11:00:00.000Z", 0],
      ["2026-12-01T12:00:00.000Z", 1],
    ]);
    expect(stats.buckets[0]?.byStatus).toEqual({ succeeded: 1, failed: 1 });
    expect(stats.buckets[0]?.failureRate).toBe(0.5);
    expect(stats.buckets[1]?.failureRate).toBeNull();
    expect(stats.total).toMatchObject({ total: 3, ended: 2, failureRate: 0.5, p50Ms: 1_000, p95Ms: 3_000 });
    expect(stats.truncated).toBe(false);
  });

  it("treats timed-out jobs as failures and cancelled ones as ended but not failed", () => {
    const stats = summarizeJobs(
      [
        job("2026-12-01T10:00:00.000Z", "timed_out", 60_000),
        job("2026-12-01T10:00:01.000Z", "cancelled", 10),
        job("2026-12-01T10:00:02.000Z", "succeeded", 20),
        job("2026-12-01T10:00:03.000Z", "succeeded", 30),
      ],
      { from: at("2026-12-01T00:00:00.000Z"), to: at("2026-12-02T00:00:00.000Z"), bucket: "day" },
    );
    expect(stats.total.ended).toBe(4);
    expect(stats.total.failureRate).toBe(0.25);
    expect(stats.total.p95Ms).toBe(60_000);
  });

  it("breaks figures down per workflow, most runs first, and ignores rows outside the window", () => {
    const stats = summarizeJobs(
      [
        job("2026-12-01T10:00:00.000Z", "succeeded", 100, "a"),
        job("2026-12-01T10:00:01.000Z", "succeeded", 200, "b"),
        job("2026-12-01T10:00:02.000Z", "failed", 300, "b"),
        job("2026-11-30T10:00:00.000Z", "failed", 300, "c"),
      ],
      { from: at("2026-12-01T00:00:00.000Z"), to: at("2026-12-01T23:00:00.000Z"), bucket: "hour" },
    );
    expect(stats.byWorkflow.map((w) => [w.workflow, w.total, w.failureRate])).toEqual([
      ["b", 2, 0.5],
      ["a", 1, 0],
    ]);
    expect(stats.total.total).toBe(3);
    expect(stats.buckets).toHaveLength(24);
  });

  it("measures a duration from the start, or from creation when the job never started", () => {
    const stats = summarizeJobs(
      [
        {
          status: "cancelled",
          workflowName: "wf",
          createdAt: "2026-12-01T10:00:00.000Z",
          endedAt: "2026-12-01T10:00:05.000Z",
        },
      ],
      { from: at("2026-12-01T10:00:00.000Z"), to: at("2026-12-01T11:00:00.000Z"), bucket: "hour" },
    );
    expect(stats.total.p50Ms).toBe(5_000);
  });
});
