import type { JobStatus } from "#events/jobs";
import type { JobStats, JobStatsBucket } from "#events/stats";

/** What a report needs of one job: the fields of its list summary. */
export interface JobRow {
  status: JobStatus;
  workflowName: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const ENDED: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
const FAILED: ReadonlySet<JobStatus> = new Set(["failed", "timed_out"]);

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

class Tally {
  total = 0;
  byStatus: Partial<Record<JobStatus, number>> = {};
  ended = 0;
  failed = 0;
  durations: number[] = [];

  add(row: JobRow): void {
    this.total++;
    this.byStatus[row.status] = (this.byStatus[row.status] ?? 0) + 1;
    if (!ENDED.has(row.status)) return;
    this.ended++;
    if (FAILED.has(row.status)) this.failed++;
    const start = Date.parse(row.startedAt ?? row.createdAt);
    const end = row.endedAt === undefined ? Number.NaN : Date.parse(row.endedAt);
    if (Number.isFinite(start) && Number.isFinite(end) && end >= start) this.durations.push(end - start);
  }

  figures() {
    const sorted = [...this.durations].sort((a, b) => a - b);
    return {
      total: this.total,
      byStatus: this.byStatus,
      ended: this.ended,
      failureRate: this.ended === 0 ? null : this.failed / this.ended,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
    };
  }
}

/** The start of the UTC hour or day an instant falls in. */
export function bucketStart(at: number, bucket: "hour" | "day"): number {
  const width = bucket === "hour" ? HOUR_MS : DAY_MS;
  return Math.floor(at / width) * width;
}

/** Counts jobs per bucket of their creation time, with durations and failure rates, overall and per workflow. */
export function summarizeJobs(
  rows: Iterable<JobRow>,
  window: { from: Date; to: Date; bucket: "hour" | "day"; truncated?: boolean },
): JobStats {
  const width = window.bucket === "hour" ? HOUR_MS : DAY_MS;
  const first = bucketStart(window.from.getTime(), window.bucket);
  const buckets = new Map<number, Tally>();
  for (let start = first; start <= window.to.getTime(); start += width) buckets.set(start, new Tally());
  const total = new Tally();
  const workflows = new Map<string, Tally>();
  for (const row of rows) {
    const created = Date.parse(row.createdAt);
    if (!(created >= window.from.getTime() && created <= window.to.getTime())) continue;
    buckets.get(bucketStart(created, window.bucket))?.add(row);
    total.add(row);
    const workflow = workflows.get(row.workflowName) ?? new Tally();
    workflow.add(row);
    workflows.set(row.workflowName, workflow);
  }
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    bucket: window.bucket,
    buckets: [...buckets.entries()].map(
      ([start, tally]): JobStatsBucket => ({ start: new Date(start).toISOString(), ...tally.figures() }),
    ),
    total: total.figures(),
    byWorkflow: [...workflows.entries()]
      .map(([workflow, tally]) => ({ workflow, ...tally.figures() }))
      .sort((a, b) => b.total - a.total || a.workflow.localeCompare(b.workflow)),
    truncated: window.truncated ?? false,
  };
}
