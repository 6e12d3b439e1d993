/** Text output: aligned tables, durations, and the live view of a running job. */
import type { Step } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";

export interface Writer {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === undefined || cell === null ? "-" : String(cell)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return `${cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} m ${Math.round((ms % 60_000) / 1000)} s`;
}

export function between(start?: string, end?: string): string {
  if (start === undefined || end === undefined) return "-";
  return duration(Date.parse(end) - Date.parse(start));
}

export function stepLabel(step: { nodeId: string; itemIndex?: number | undefined }): string {
  return step.itemIndex === undefined ? step.nodeId : `${step.nodeId}[${step.itemIndex}]`;
}

export function stepsTable(steps: readonly Step[]): string {
  return table(
    ["STEP", "TYPE", "STATUS", "ATTEMPT", "DURATION", "ERROR"],
    steps.map((s) => [
      stepLabel(s),
      s.type,
      s.status,
      s.attempt,
      between(s.startedAt, s.endedAt),
      s.error === undefined ? "" : `${s.error.code}: ${s.error.message}`,
    ]),
  );
}

const DONE = new Set(["succeeded", "failed", "skipped", "cancelled"]);

/**
 * Follows a job's events and shows them: one line per step that finishes (or waits for a person), and on a
 * terminal a progress bar of done/total steps that is redrawn in place under those lines.
 */
export class JobProgress {
  private readonly steps = new Map<string, { status: string; runningAt?: string }>();
  private jobStatus = "queued";
  private barShown = false;
  private readonly started = Date.now();

  constructor(
    private readonly out: Writer,
    /** Steps known before any event arrives (from GET /v1/jobs/{id}), so the total is right at once. */
    known: readonly { nodeId: string; itemIndex?: number; status: string }[],
    private readonly nodeCount: number,
  ) {
    for (const step of known) this.steps.set(stepLabel(step), { status: step.status });
  }

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  onEvent(event: TimelineEvent): void {
    const lines: string[] = [];
    if (event.type === "step.status_changed") {
      const label = stepLabel(event);
      const previous = this.steps.get(label);
      const runningAt = event.status === "running" ? event.at : previous?.runningAt;
      this.steps.set(label, { status: event.status, ...(runningAt === undefined ? {} : { runningAt }) });
      if (DONE.has(event.status)) {
        const took = runningAt === undefined ? "" : `, ${between(runningAt, event.at)}`;
        const error = event.error === undefined ? "" : ` — ${event.error.code}: ${event.error.message}`;
        lines.push(`step ${label} ${event.status} (attempt ${event.attempt}${took})${error}`);
      } else if (event.status === "waiting_approval") {
        lines.push(`step ${label} is waiting for approval`);
      } else if (event.status === "queued" && event.attempt > 1 && previous?.status !== "queued") {
        lines.push(`step ${label} will be retried (attempt ${event.attempt})`);
      }
    } else if (event.type === "approval.requested") {
      lines.push(
        `approval ${event.approvalId} requested by ${event.nodeId}: ${event.message}` +
          `${event.confidence === undefined ? "" : ` (confidence ${event.confidence})`}` +
          ` — switchboard approvals approve ${event.approvalId}`,
      );
    } else if (event.type === "approval.resolved") {
      lines.push(`approval ${event.approvalId} ${event.decision === "approve" ? "approved" : "rejected"}`);
    } else if (event.type === "job.note" && event.reason !== undefined) {
      lines.push(`note: ${event.message}`);
    } else if (event.type === "job.status_changed") {
      this.jobStatus = event.status;
    }
    this.print(lines);
  }

  counts(): { done: number; total: number } {
    let done = 0;
    for (const step of this.steps.values()) if (DONE.has(step.status)) done++;
    return { done, total: Math.max(this.nodeCount, this.steps.size) };
  }

  bar(): string {
    const { done, total } = this.counts();
    const width = 24;
    const filled = total === 0 ? 0 : Math.round((done / total) * width);
    const elapsed = duration(Date.now() - this.started);
    return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} steps  ${this.jobStatus}  ${elapsed}`;
  }

  private print(lines: string[]): void {
    if (!this.tty) {
      for (const line of lines) this.out.write(`${line}\n`);
      return;
    }
    // Lines go above the bar: clear it, write them, draw it again.
    let text = this.barShown ? "\r\x1b[2K" : "";
    for (const line of lines) text += `${line}\n`;
    text += this.bar();
    this.out.write(text);
    this.barShown = true;
  }

  /** Leaves the bar's last state on its own line. */
  end(): void {
    if (this.tty && this.barShown) this.out.write(`\r\x1b[2K${this.bar()}\n`);
    this.barShown = false;
  }
}
