import type { NewTimelineEvent } from "#events/timeline";
import type { Decision } from "../engine/types.ts";
import { metrics } from "../observability.ts";
import { ConcurrentUpdateError, commitDecision, type LoadedJob, loadJob } from "../stores/jobs.ts";
import { runCommands } from "./effects.ts";
import { jobMetrics } from "./metrics.ts";

export interface Decided<T> {
  decision: Decision;
  /** Events the caller adds to the commit's timeline (why the sweeper acted, an approval's resolution). */
  extraEvents?: NewTimelineEvent[];
  result: T;
}

export interface UnitOfWorkOptions {
  /** The job as the caller last committed it: the first try decides on it instead of reading it again. */
  loaded?: LoadedJob;
  /** Leaves the decision's commands to the caller (which may run one of them inline). */
  keepCommands?: boolean;
  now?: () => Date;
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
  for (let attempt = 0; ; attempt++) {
    const loaded = given ?? (await loadJob(tenantId, jobId));
    given = undefined;
    if (loaded === undefined) return undefined;
    const before = loaded.state;
    const outcome = await decideOn(loaded);
    if (outcome === undefined) return { loaded, result: undefined as T, committed: false };
    const { decision } = outcome;
    const nothingChanged =
      decision.changedSteps.length === 0 &&
      !decision.jobChanged &&
      decision.notes.length === 0 &&
      (outcome.extraEvents ?? []).length === 0;
    if (nothingChanged) {
      if (!options.keepCommands) await runCommands(before, decision.commands);
      return { loaded, result: outcome.result, committed: false, decision };
    }
    try {
      const at = now();
      const changes = jobMetrics(before, decision, at);
      await commitDecision(loaded, decision, at, outcome.extraEvents);
      for (const metric of changes) metrics.addMetric(metric.name, metric.unit, metric.value);
      if (!options.keepCommands) await runCommands(decision.state, decision.commands);
      return { loaded, result: outcome.result, committed: true, decision };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError)) throw error;
      await backoff(Math.min(attempt, 8));
    }
  }
}
