import type { Step } from "#events/jobs";
import { TERMINAL_JOB_STATUSES, TERMINAL_STEP_STATUSES } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";
import type { JobDetail } from "../api/endpoints.ts";

/** One step of a job: a node, or one item of a `forEach` node. */
export function stepKey(nodeId: string, itemIndex?: number): string {
  return itemIndex === undefined ? nodeId : `${nodeId}#${itemIndex}`;
}

/**
 * The job as it is now: the last fetched snapshot with the timeline applied on top.
 *
 * The job's own status comes from events after the snapshot's `seq`. Step statuses come from every step
 * event in order, since the timeline is complete and ordered while a snapshot's steps may have been read a
 * moment before its `seq`; a step never goes back from a finished attempt to an earlier state of that
 * attempt, so a snapshot fresher than the events does not flicker. Replays and duplicates change nothing.
 */
export function applyEvents(job: JobDetail, events: readonly TimelineEvent[]): JobDetail {
  const ordered = [...events].sort((a, b) => a.seq - b.seq);
  if (ordered.length === 0) return job;
  const next: JobDetail = { ...job, steps: [...job.steps] };
  const nodeTypes = new Map(job.definition?.nodes.map((n) => [n.id, n.type]) ?? []);
  for (const event of ordered) {
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
      const current = next.steps[index];
      if (
        current &&
        TERMINAL_STEP_STATUSES.includes(current.status) &&
        !TERMINAL_STEP_STATUSES.includes(event.status) &&
        event.attempt <= current.attempt
      ) {
        continue;
      }
      const base: Step = current ?? {
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
