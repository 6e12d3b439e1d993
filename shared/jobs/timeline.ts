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
  for (const { step, previous } of changed) {
    const inline = previous?.status === "pending" && step.status === "running" && step.items === undefined;
    if (inline) {
      // Queued and claimed in one commit (the worker runs it inline): the timeline shows both moves.
      events.push({
        type: "step.status_changed",
        nodeId: step.nodeId,
        ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
        status: "queued",
        previousStatus: "pending",
        attempt: step.attempt,
      });
    }
    const from = inline ? "queued" : previous?.status;
    events.push({
      type: "step.status_changed",
      nodeId: step.nodeId,
      ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
      status: step.status,
      ...(from === undefined ? {} : { previousStatus: from }),
      attempt: step.attempt,
      ...(step.status === "succeeded" && step.output !== undefined ? { output: step.output } : {}),
      ...(step.error === undefined || step.status === "succeeded" ? {} : { error: step.error }),
    });
  }
  // An approval's own write moves the version without a commit of the engine: its `tl` is an older one's.
  const own = after.tlv === after.version;
  events.push(...(own ? (after.tl ?? []) : []));
  if (before === undefined || before.status !== after.status) {
    events.push({
      type: "job.status_changed",
      status: after.status,
      ...(before === undefined ? {} : { previousStatus: before.status }),
      ...(after.error === undefined ? {} : { error: after.error }),
      ...(after.status === "succeeded" && after.output !== undefined ? { output: after.output } : {}),
    });
  }
  events.push(...(own ? (after.tx ?? []) : []));
  return events;
}
