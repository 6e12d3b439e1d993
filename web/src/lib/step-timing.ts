import type { Step, StepStatus } from "#events/jobs";
import type { TimelineEvent } from "#events/timeline";

/** Where a step's time went, in epoch ms. `pausedAt` is when it stopped working to wait (for a person or a sleep). */
export interface StepTiming {
  nodeId: string;
  itemIndex?: number | undefined;
  type: string;
  status: StepStatus;
  queuedAt?: number | undefined;
  startedAt?: number | undefined;
  pausedAt?: number | undefined;
  endedAt?: number | undefined;
  /** What the step waited for after `pausedAt`. */
  pausedFor?: "person" | "time" | undefined;
  /** Time spent doing the step's own work: not queued, not waiting for a person, not sleeping. */
  ranMs?: number | undefined;
  pausedMs?: number | undefined;
}

const parse = (iso: string | undefined) => {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
};

const keyOf = (nodeId: string, itemIndex?: number) =>
  itemIndex === undefined ? nodeId : `${nodeId}#${itemIndex}`;

/**
 * A step's end time covers everything until it ended, including waiting for a decision: an agent whose
 * result goes to review ran for under a second and then waited a minute for a person. The moment it began
 * to wait is on the timeline (its change to `waiting_approval` or `waiting`), so its run ends there.
 */
export function stepTiming(step: Step, events: readonly TimelineEvent[], now = Date.now()): StepTiming {
  const startedAt = parse(step.startedAt);
  const endedAt = parse(step.endedAt);
  let pausedAt: number | undefined;
  let pausedFor: StepTiming["pausedFor"];
  const key = keyOf(step.nodeId, step.itemIndex);
  for (const event of events) {
    if (event.type !== "step.status_changed" || keyOf(event.nodeId, event.itemIndex) !== key) continue;
    if (event.attempt !== step.attempt) continue;
    if (event.status !== "waiting_approval" && event.status !== "waiting") continue;
    const at = parse(event.at);
    if (at === undefined || (startedAt !== undefined && at < startedAt)) continue;
    if (pausedAt === undefined || at < pausedAt) {
      pausedAt = at;
      pausedFor = event.status === "waiting_approval" ? "person" : "time";
    }
  }
  // An approval node does no work of its own: all of its time is the person's.
  if (step.type === "approval" && startedAt !== undefined) {
    pausedAt = startedAt;
    pausedFor = "person";
  }
  if (pausedAt === undefined && (step.status === "waiting_approval" || step.status === "waiting")) {
    pausedAt = startedAt;
    pausedFor = step.status === "waiting_approval" ? "person" : "time";
  }
  const running = step.status === "running";
  const workEnd = pausedAt ?? endedAt ?? (running ? now : undefined);
  const pauseEnd = endedAt ?? now;
  return {
    nodeId: step.nodeId,
    ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
    type: step.type,
    status: step.status,
    queuedAt: parse(step.queuedAt),
    startedAt,
    pausedAt,
    endedAt,
    pausedFor,
    ranMs: startedAt !== undefined && workEnd !== undefined ? Math.max(0, workEnd - startedAt) : undefined,
    pausedMs: pausedAt !== undefined ? Math.max(0, pauseEnd - pausedAt) : undefined,
  };
}

export interface WaterfallRow {
  nodeId: string;
  type: string;
  status: StepStatus;
  /** Items of a forEach, summed up in one row. */
  items?: { total: number; done: number };
  queuedAt?: number | undefined;
  startedAt?: number | undefined;
  pausedAt?: number | undefined;
  endedAt?: number | undefined;
  pausedFor?: StepTiming["pausedFor"];
  ranMs?: number | undefined;
}

const min = (values: (number | undefined)[]) => {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length === 0 ? undefined : Math.min(...present);
};
const max = (values: (number | undefined)[]) => {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length === 0 ? undefined : Math.max(...present);
};

/** One row per node, in the workflow's order; a forEach's items make one row spanning them all. */
export function waterfallRows(
  order: readonly string[],
  steps: readonly Step[],
  events: readonly TimelineEvent[],
  now = Date.now(),
): WaterfallRow[] {
  const byNode = new Map<string, Step[]>();
  for (const step of steps) byNode.set(step.nodeId, [...(byNode.get(step.nodeId) ?? []), step]);
  const ids = [...order, ...[...byNode.keys()].filter((id) => !order.includes(id))];
  return ids.flatMap((nodeId): WaterfallRow[] => {
    const all = byNode.get(nodeId) ?? [];
    const own = all.find((s) => s.itemIndex === undefined);
    const items = all.filter((s) => s.itemIndex !== undefined);
    if (own === undefined && items.length === 0) return [];
    if (items.length === 0 && own !== undefined) {
      const t = stepTiming(own, events, now);
      return [
        {
          nodeId,
          type: t.type,
          status: t.status,
          queuedAt: t.queuedAt,
          startedAt: t.startedAt,
          pausedAt: t.pausedAt,
          endedAt: t.endedAt,
          pausedFor: t.pausedFor,
          ranMs: t.ranMs,
        },
      ];
    }
    const timings = items.map((item) => stepTiming(item, events, now));
    const first = own ?? items[0];
    return [
      {
        nodeId,
        type: first?.type ?? "unknown",
        status: own?.status ?? first?.status ?? "pending",
        items: {
          total: own?.items ?? items.length,
          done: items.filter((s) => s.status === "succeeded").length,
        },
        queuedAt: min([parse(own?.queuedAt), ...timings.map((t) => t.queuedAt)]),
        startedAt: min(timings.map((t) => t.startedAt)),
        endedAt: parse(own?.endedAt) ?? max(timings.map((t) => t.endedAt)),
        ranMs: timings.reduce((sum, t) => sum + (t.ranMs ?? 0), 0),
      },
    ];
  });
}
