import type { JobStatus, StepStatus } from "#events/jobs";

const LABELS: Record<string, string> = { waiting_approval: "waiting approval", timed_out: "timed out" };

export function StatusBadge({ status }: { status: JobStatus | StepStatus | string }) {
  return <span className={`badge status-${status}`}>{LABELS[status] ?? status}</span>;
}
