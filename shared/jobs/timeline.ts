import type { JobStatus, StepError, StepStatus } from "#events/jobs";
import type { NewTimelineEvent } from "#events/timeline";

/**
 * A job's timeline is derived from its item, never written event by event: each commit of the job item is
 * one stream record with the old and the new image, and the events of that commit follow from the two.
 * The writer runs the same derivation to count them, so the job's `seq` names the last event of each
 * version, and a redelivered stream record numbers its events exactly as the first delivery did.
 */
export interface JobImage {
  status: JobStatus;
  error?: StepError;
  output?: unknown;
  /** Node ids in definition order: events of one commit follow it, items by index within a node. */
  nodes: string[];
  steps: Record<string, ImageStep>;
  /** The engine's notes of the commit that wrote version `tlv`, and the events its caller added (`tx`). */
  tl?: NewTimelineEvent[];
  tx?: NewTimelineEvent[];
  tlv?: number;
  /**
   * Attempts the commit of version `tlv` claimed and ran itself (a chain of pure steps, written once):
   * `[step key, attempt]`. Their queued and running moves are in no image, so the timeline adds them.
   */
  ran?: [string, number][];
  version: number;
  seq: number;
}

export interface ImageStep {
  nodeId: string;
  itemIndex?: number;
  status: StepStatus;
  attempt: number;
  output?: unknown;
  error?: StepError;
  /** Set on a forEach node's own step, which goes from pending to running by fanning out, never queued. */
  items?: number;
}

function stepKeyOf(step: ImageStep): string {
  return step.itemIndex === undefined ? step.nodeId : `${step.nodeId}#${step.itemIndex}`;
}

function order(image: JobImage): (a: ImageStep, b: ImageStep) => number {
  const rank = new Map(image.nodes.map((id, i) => [id, i]));
  return (a, b) =>
    (rank.get(a.nodeId) ?? Number.MAX_SAFE_INTEGER) - (rank.get(b.nodeId) ?? Number.MAX_SAFE_INTEGER) ||
    (a.itemIndex ?? -1) - (b.itemIndex ?? -1);
}

/** The events of the commit that turned `before` (undefined: the job was created) into `after`. */
export function timelineOf(before: JobImage | undefined, after: JobImage): NewTimelineEvent[] {
  const events: NewTimelineEvent[] = [];
  const changed: { step: ImageStep; previous: ImageStep | undefined }[] = [];
  for (const [key, step] of Object.entries(after.steps)) {
    const previous = before?.steps[key];
    if (previous !== undefined && previous.status === step.status && previous.attempt === step.attempt)
      continue;
    changed.push({ step, previous });
  }
  const byStep = order(after);
  changed.sort((a, b) => byStep(a.step, b.step));
  // An approval's own write moves the version without a commit of the engine: its `tl` is an older one's.
  const own = after.tlv === after.version;
  const ran = new Map<string, number[]>();
  for (const [key, attempt] of own ? (after.ran ?? []) : []) ran.set(key, [...(ran.get(key) ?? []), attempt]);
  // The job's status as the events so far leave it: a job whose first step ran inside this commit started
  // running with that step's claim.
  let jobFrom = before?.status;
  for (const { step, previous } of changed) {
    const at = (status: StepStatus, from: StepStatus | undefined, attempt: number): NewTimelineEvent => ({
      type: "step.status_changed",
      nodeId: step.nodeId,
      ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
      status,
      ...(from === undefined ? {} : { previousStatus: from }),
      attempt,
    });
    let from = previous?.status;
    const attempts = (ran.get(stepKeyOf(step)) ?? []).sort((a, b) => a - b);
    for (const [i, attempt] of attempts.entries()) {
      // Each attempt run inside the commit moved queued → running, as it would have in commits of its own;
      // one that was retried went back to the queue.
      if (from === undefined || from === "pending") {
        events.push(at("queued", from, attempt));
        from = "queued";
      }
      if (jobFrom === undefined) {
        // The job's first steps ran before its first write (see runAtStart): it was queued like any job.
        events.push({ type: "job.status_changed", status: "queued" });
        jobFrom = "queued";
      }
      events.push(at("running", from, attempt));
      from = "running";
      if (jobFrom === "queued") {
        events.push({ type: "job.status_changed", status: "running", previousStatus: "queued" });
        jobFrom = "running";
      }
      const retried = attempts[i + 1] ?? (step.attempt > attempt ? step.attempt : undefined);
      if (retried !== undefined && (i + 1 < attempts.length || step.status !== "queued")) {
        events.push(at("queued", from, retried));
        from = "queued";
      }
    }
    const last = attempts.at(-1);
    if (last !== undefined && step.status === "running" && step.attempt === last) continue;
    const inline =
      last === undefined &&
      previous?.status === "pending" &&
      step.status === "running" &&
      step.items === undefined;
    if (inline) {
      // Queued and claimed in one commit (the worker runs it inline): the timeline shows both moves.
      events.push(at("queued", "pending", step.attempt));
      from = "queued";
    }
    events.push({
      ...at(step.status, from, step.attempt),
      ...(step.status === "succeeded" && step.output !== undefined ? { output: step.output } : {}),
      ...(step.error === undefined || step.status === "succeeded" ? {} : { error: step.error }),
    });
  }
  events.push(...(own ? (after.tl ?? []) : []));
  // jobFrom is undefined only for a job's first write whose steps did not run in it.
  if (jobFrom !== after.status) {
    events.push({
      type: "job.status_changed",
      status: after.status,
      ...(jobFrom === undefined ? {} : { previousStatus: jobFrom }),
      ...(after.error === undefined ? {} : { error: after.error }),
      ...(after.status === "succeeded" && after.output !== undefined ? { output: after.output } : {}),
    });
  }
  events.push(...(own ? (after.tx ?? []) : []));
  return events;
}
