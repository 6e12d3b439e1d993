import type { Step } from "#events/jobs";
import { TERMINAL_JOB_STATUSES, TERMINAL_STEP_STATUSES } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";
import type { JobDetail } from "../api/endpoints.ts";

/** One step of a job: a node, or one item of a `forEach` node. */
export function stepKey(nodeId: string, itemIndex?: number): string {
  return itemIndex === undefined ? nodeId : `${nodeId}#${itemIndex}`;
}

/**
 * The job as it is now: the last fetched snapshot with every later timeline event applied on top. The
 * snapshot's `seq` says which events it already includes, so replays and duplicates change nothing.
 * A step the snapshot lacks altogether is rebuilt from all of its events.
 */
export function applyEvents(job: JobDetail, events: readonly TimelineEvent[]): JobDetail {
  const known = new Set(job.steps.map((s) => stepKey(s.nodeId, s.itemIndex)));
  const newer = events
    .filter(
      (e) =>
        e.seq > job.seq || (e.type === "step.status_changed" && !known.has(stepKey(e.nodeId, e.itemIndex))),
    )
    .sort((a, b) => a.seq - b.seq);
  if (newer.length === 0) return job;
  const next: JobDetail = { ...job, steps: [...job.steps] };
  const nodeTypes = new Map(job.definition?.nodes.map((n) => [n.id, n.type]) ?? []);
  for (const event of newer) {
    if (event.seq > next.seq) {
      next.seq = event.seq;
      next.updatedAt = event.at;
    }
    if (event.type === "job.status_changed" && event.seq > job.seq) {
      next.status = event.status;
      if (event.error) next.error = event.error;
      else if (!TERMINAL_JOB_STATUSES.includes(event.status)) delete next.error;
      if (event.output !== undefined) next.output = event.output;
      if (event.status === "running") next.startedAt ??= event.at;
      if (TERMINAL_JOB_STATUSES.includes(event.status)) next.endedAt = event.at;
    } else if (event.type === "step.status_changed") {
      const index = next.steps.findIndex((s) => s.nodeId === event.nodeId && s.itemIndex === event.itemIndex);
      const base: Step = next.steps[index] ?? {
        nodeId: event.nodeId,
        ...(event.itemIndex === undefined ? {} : { itemIndex: event.itemIndex }),
        type: nodeTypes.get(event.nodeId) ?? "",
        status: event.status,
        attempt: event.attempt,
      };
      const step: Step = { ...base, status: event.status, attempt: event.attempt };
      if (event.output !== undefined) step.output = event.output;
      if (event.error) step.error = event.error;
      if (event.status === "queued") step.queuedAt = event.at;
      if (event.status === "running") {
        step.startedAt = event.at;
        delete step.endedAt;
        delete step.error;
      }
      if (TERMINAL_STEP_STATUSES.includes(event.status)) step.endedAt = event.at;
      if (index === -1) next.steps.push(step);
      else next.steps[index] = step;
    }
  }
  return next;
}
