import type { NewTimelineEvent } from "#events/timeline";
import { decide, endsFanOut, isTerminalJob } from "../engine/engine.ts";
import { type Decision, FOREACH_CHUNK_SIZE, type StepState } from "../engine/types.ts";
import { metrics } from "../observability.ts";
import { hydrate } from "../payloads.ts";
import {
  chunkId,
  chunkProgress,
  type LoadedChunk,
  loadChunks,
  withAllItems,
  withChunk,
} from "../stores/jobs/chunks.ts";
import { ConcurrentUpdateError, commitDecision, type LoadedJob, loadJob } from "../stores/jobs.ts";
import { runCommands } from "./effects.ts";
import { jobMetrics } from "./metrics.ts";

export interface Decided<T> {
  decision: Decision;
  /** Events the caller adds to the commit's timeline (why the sweeper acted, an approval's resolution). */
  extraEvents?: NewTimelineEvent[];
  /** Attempts the decision claimed and ran in memory (`[step key, attempt]`), for the timeline. */
  ran?: [string, number][];
  result: T;
}

export interface UnitOfWorkOptions {
  /** The job as the caller last committed it: the first try decides on it instead of reading it again. */
  loaded?: LoadedJob;
  /** Leaves the decision's commands to the caller (which may run one of them inline). */
  keepCommands?: boolean;
  now?: () => Date;
  /**
   * The decision is about forEach items of this chunk: it sees the job's steps plus the chunk's items, and
   * its commit writes only the chunk. When the chunk's ended count moved past what the job item knows (also
   * when this delivery finds the work already recorded), the job item is told with `itemsEnded`.
   */
  chunk?: { nodeId: string; chunk: number };
  /** The decision needs every forEach item (a job retry): all chunks are read into the state. */
  allItems?: boolean;
}

async function backoff(attempt: number): Promise<void> {
  const ms = Math.min(500, 5 * 2 ** attempt) * (0.5 + Math.random());
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Loads the job, lets `decideOn` decide on it, and commits the decision as one conditional write. When
 * another writer got there first, it reloads and decides again, for as long as it takes: a result is never
 * dropped because of contention, only when `decideOn`, seeing the current state, finds nothing to do (the
 * step was already recorded, superseded, cancelled or timed out). Returns undefined for an unknown job.
 */
export async function decideAndCommit<T>(
  tenantId: string,
  jobId: string,
  decideOn: (loaded: LoadedJob) => Promise<Decided<T> | undefined>,
  options: UnitOfWorkOptions = {},
): Promise<{ loaded: LoadedJob; result: T; committed: boolean; decision?: Decision } | undefined> {
  const now = options.now ?? (() => new Date());
  let given = options.loaded;
  const where = options.chunk;
  for (let attempt = 0; ; attempt++) {
    let loaded = given ?? (await loadJob(tenantId, jobId));
    // A job as the caller committed it has the chunk it was given; anything else is read afresh.
    if (
      loaded !== undefined &&
      where !== undefined &&
      !loaded.chunks?.has(chunkId(where.nodeId, where.chunk))
    )
      loaded = await withChunk(loaded, where.nodeId, where.chunk);
    if (loaded !== undefined && options.allItems) loaded = await withAllItems(loaded);
    given = undefined;
    if (loaded === undefined) return undefined;
    const before = loaded.state;
    const outcome = await decideOn(loaded);
    if (outcome === undefined) {
      if (where !== undefined) await syncChunk(loaded, where);
      return { loaded, result: undefined as T, committed: false };
    }
    const { decision } = outcome;
    // Notes of an item (a retry's back-off) would make every item write the job item too.
    if (where !== undefined) decision.notes = [];
    const nothingChanged =
      decision.changedSteps.length === 0 &&
      !decision.jobChanged &&
      decision.notes.length === 0 &&
      (outcome.extraEvents ?? []).length === 0;
    if (nothingChanged) {
      if (!options.keepCommands) await runCommands(before, decision.commands, loaded.item);
      if (where !== undefined) await syncChunk(loaded, where);
      return { loaded, result: outcome.result, committed: false, decision };
    }
    try {
      const at = now();
      const changes = jobMetrics(before, decision, at);
      await commitDecision(loaded, decision, at, outcome.extraEvents, outcome.ran);
      for (const metric of changes) metrics.addMetric(metric.name, metric.unit, metric.value);
      if (!options.keepCommands) await runCommands(decision.state, decision.commands, loaded.item);
      if (where !== undefined) await syncChunk(loaded, where);
      return { loaded, result: outcome.result, committed: true, decision };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      await backoff(Math.min(attempt, 8));
    }
  }
}

/** Fan-outs up to this many items report each item's end in the timeline; wider ones report per chunk. */
export const ITEM_EVENTS_MAX_ITEMS = FOREACH_CHUNK_SIZE;

/** The timeline events for a chunk whose items all ended: each item's end, or one progress note. */
function chunkEvents(
  parent: StepState,
  chunk: LoadedChunk,
  endedAfter: number[],
  only: (index: number) => boolean = () => true,
): NewTimelineEvent[] {
  const items = parent.items ?? 0;
  if (items > ITEM_EVENTS_MAX_ITEMS) {
    const done = endedAfter.reduce((sum, n) => sum + n, 0);
    return [
      {
        type: "job.note",
        nodeId: parent.nodeId,
        message: `"${parent.nodeId}": items ${chunk.chunk * FOREACH_CHUNK_SIZE}–${chunk.chunk * FOREACH_CHUNK_SIZE + Object.keys(chunk.steps).length - 1} ended; ${done} of ${items} done`,
        reason: "FOREACH_PROGRESS",
      },
    ];
  }
  return Object.entries(chunk.steps)
    .map(([key, stored]) => ({ index: Number(key.slice(key.lastIndexOf("#") + 1)), stored }))
    .filter(
      ({ index, stored }) =>
        only(index) && ["succeeded", "failed", "skipped", "cancelled"].includes(stored.s),
    )
    .sort((a, b) => a.index - b.index)
    .map(({ index, stored }) => ({
      type: "step.status_changed" as const,
      nodeId: parent.nodeId,
      itemIndex: index,
      status: stored.s,
      previousStatus: "running" as const,
      attempt: stored.a,
      ...(stored.s === "succeeded" && stored.o !== undefined ? { output: stored.o } : {}),
      ...(stored.er === undefined || stored.s === "succeeded" ? {} : { error: stored.er }),
    }));
}

/** Every item's output in item order, for the join; a failed item of a node that continues gives `{error}`. */
async function joinedOutputs(
  tenantId: string,
  jobId: string,
  parent: StepState,
): Promise<{
  outputs?: unknown[];
  failure?: { itemIndex: number; error: { code: string; message: string } };
}> {
  const chunks = (await loadChunks(tenantId, jobId)).filter(
    (chunk) => chunk.nodeId === parent.nodeId && chunk.run === parent.attempt,
  );
  const outputs: unknown[] = new Array(parent.items ?? 0);
  let filled = 0;
  for (const chunk of chunks) {
    for (const [key, stored] of Object.entries(chunk.steps)) {
      const index = Number(key.slice(key.lastIndexOf("#") + 1));
      if (stored.s === "succeeded") outputs[index] = stored.o ?? null;
      else if (stored.s === "failed") outputs[index] = stored.o ?? { error: stored.er };
      else if (stored.s === "skipped" || stored.s === "cancelled") outputs[index] = null;
      else continue;
      filled++;
    }
  }
  if (filled < outputs.length) return {};
  return { outputs: await Promise.all(outputs.map((value) => hydrate(value))) };
}

/**
 * Tells the job item how far a chunk got, when it knows less: `itemsEnded` with the chunk's own count (exact,
 * since the chunk's writers are serialised by its version), merged by maximum, so repeats and races count
 * once. The last chunk's event carries the joined outputs. Safe to run again on every delivery.
 */
async function syncChunk(loaded: LoadedJob, where: { nodeId: string; chunk: number }): Promise<void> {
  const chunk = loaded.chunks?.get(chunkId(where.nodeId, where.chunk));
  const parent = loaded.state.steps[where.nodeId];
  if (chunk === undefined || parent?.items === undefined || chunk.run !== parent.attempt) return;
  if (isTerminalJob(loaded.state.status) || parent.status !== "running") return;
  const progress = chunkProgress(chunk);
  const node = loaded.state.definition.nodes.find((n) => n.id === where.nodeId);
  const failure = node?.onError === "continue" ? undefined : progress.failed;
  if (failure === undefined && !worthTelling(parent, where.chunk, progress.ended)) return;
  const small = parent.items <= ITEM_EVENTS_MAX_ITEMS;
  const { tenantId, jobId } = loaded.meta;
  await decideAndCommit(tenantId, jobId, async (fresh) => {
    const current = fresh.state.steps[where.nodeId];
    if (current?.items === undefined || current.attempt !== chunk.run || current.status !== "running")
      return undefined;
    const known = current.ended?.[where.chunk] ?? 0;
    if (failure === undefined && progress.ended <= known) return undefined;
    let joined: Awaited<ReturnType<typeof joinedOutputs>> = {};
    if (failure === undefined && endsFanOut(current, where.chunk, progress.ended))
      joined = await joinedOutputs(tenantId, jobId, current);
    const decision = await decide(
      fresh.state,
      {
        type: "itemsEnded",
        nodeId: where.nodeId,
        run: chunk.run,
        chunk: where.chunk,
        ended: progress.ended,
        ...(failure === undefined ? {} : { failure }),
        ...(joined.outputs === undefined ? {} : { outputs: joined.outputs }),
        ...(small ? { endedItems: endedIndexes(chunk) } : {}),
      },
      new Date(),
    );
    const moved = decision.changedSteps.length > 0 || decision.jobChanged;
    const size = Math.min(FOREACH_CHUNK_SIZE, (current.items ?? 0) - where.chunk * FOREACH_CHUNK_SIZE);
    const complete = known < size && progress.ended >= size;
    const after = decision.state.steps[where.nodeId]?.ended ?? [];
    let extraEvents: NewTimelineEvent[] = [];
    if (moved && small) {
      const reported = new Set(current.reported ?? []);
      extraEvents = chunkEvents(current, chunk, after, (index) => !reported.has(index));
    } else if (moved && (complete || failure !== undefined)) extraEvents = chunkEvents(current, chunk, after);
    return { decision, extraEvents, result: undefined };
  });
}

function endedIndexes(chunk: LoadedChunk): number[] {
  return Object.entries(chunk.steps)
    .filter(([, stored]) => ["succeeded", "failed", "skipped", "cancelled"].includes(stored.s))
    .map(([key]) => Number(key.slice(key.lastIndexOf("#") + 1)));
}

/**
 * Whether the job item should hear of a chunk's new count now: when the chunk is complete, when the window
 * waits for ended items to start others, and for a small fan-out (its items are reported one by one).
 * Otherwise a wide fan-out's item writes stay off the job item.
 */
function worthTelling(parent: StepState, chunk: number, ended: number): boolean {
  const known = parent.ended?.[chunk] ?? 0;
  if (ended <= known) return false;
  const items = parent.items ?? 0;
  if (items <= ITEM_EVENTS_MAX_ITEMS) return true;
  const size = Math.min(FOREACH_CHUNK_SIZE, items - chunk * FOREACH_CHUNK_SIZE);
  if (ended >= size) return true;
  const toStart = parent.pick === undefined ? items : parent.pick.length;
  return (parent.started ?? 0) < toStart;
}
