import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { NewTimelineEvent } from "#events/timeline";
import { sweepApproval } from "../approvals/service.ts";
import { dynamo } from "../aws.ts";
import { tableName } from "../db.ts";
import { decide, isTerminalJob } from "../engine/engine.ts";
import { chunkOf, type EngineEvent, type JobState, type StepState } from "../engine/types.ts";
import { logger } from "../observability.ts";
import { unsweepChunk } from "../stores/jobs/chunks.ts";
import { jobDeadline, SWEEP_SHARDS, stepDueAt } from "../stores/jobs.ts";
import { decideAndCommit } from "./unit-of-work.ts";

export interface SweepReport {
  requeued: number;
  leasesExpired: number;
  waitsResumed: number;
  timedOut: number;
}

const note = (message: string, nodeId?: string): NewTimelineEvent => ({
  type: "job.note",
  ...(nodeId === undefined ? {} : { nodeId }),
  message,
  reason: "SWEEPER",
});

/** The first thing due on this job, as an engine event, and what to tell the timeline about it. */
function dueEvent(
  state: JobState,
  now: Date,
  restartedAt?: Date,
  only?: (step: StepState) => boolean,
): { event: EngineEvent; counter: keyof SweepReport; why: NewTimelineEvent } | undefined {
  if (isTerminalJob(state.status)) return undefined;
  // A job's own entry heals its node-level steps; each chunk's entry heals that chunk's items.
  const steps = Object.values(state.steps).filter(only ?? ((step) => step.itemIndex === undefined));
  if (restartedAt !== undefined) {
    const before = (iso: string | undefined) => iso !== undefined && Date.parse(iso) < restartedAt.getTime();
    for (const step of steps) {
      const lost =
        (step.status === "queued" && before(step.queuedAt)) ||
        (step.status === "running" && step.taskArn === undefined && before(step.startedAt));
      if (!lost) continue;
      return {
        event: {
          type: "requeue",
          nodeId: step.nodeId,
          ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
          attempt: step.attempt,
          workerLost: true,
        },
        counter: "requeued",
        why: note(
          `The platform restarted while the step was ${step.status}; attempt ${step.attempt} was sent again`,
          step.nodeId,
        ),
      };
    }
  }
  const deadline = jobDeadline(state);
  if (only === undefined && deadline !== undefined && Date.parse(deadline) <= now.getTime()) {
    return {
      event: { type: "jobTimedOut" },
      counter: "timedOut",
      why: note("The job ran past its timeoutSeconds"),
    };
  }
  for (const step of steps) {
    if (step.items !== undefined) continue;
    const due = stepDueAt(step, now);
    if (due === undefined || Date.parse(due) > now.getTime()) continue;
    const at = (s: StepState) => ({
      nodeId: s.nodeId,
      ...(s.itemIndex === undefined ? {} : { itemIndex: s.itemIndex }),
      attempt: s.attempt,
    });
    if (step.status === "running") {
      return {
        event: {
          type: "stepFailed",
          ...at(step),
          error: { code: "LEASE_EXPIRED", message: "The attempt stopped reporting before its lease ran out" },
          retryable: true,
        },
        counter: "leasesExpired",
        why: note(`Attempt ${step.attempt} lost its lease; recorded as failed`, step.nodeId),
      };
    }
    if (step.status === "queued" || step.status === "waiting") {
      return {
        event: { type: "requeue", ...at(step) },
        counter: step.status === "queued" ? "requeued" : "waitsResumed",
        why: note(
          `No worker had taken the ${step.status} step by its due time; its message was sent again`,
          step.nodeId,
        ),
      };
    }
  }
  return undefined;
}

/** Heals one forEach chunk: its items that are due, one engine event (and one write of the chunk) at a time. */
async function healChunk(
  tenantId: string,
  jobId: string,
  where: { nodeId: string; chunk: number },
  now: Date,
  report: SweepReport,
  restartedAt?: Date,
): Promise<void> {
  const mine = (step: StepState) =>
    step.nodeId === where.nodeId && step.itemIndex !== undefined && chunkOf(step.itemIndex) === where.chunk;
  for (let round = 0; round < 1000; round++) {
    let counter: keyof SweepReport | undefined;
    let over = false;
    const outcome = await decideAndCommit(
      tenantId,
      jobId,
      async ({ state }) => {
        counter = undefined;
        over = isTerminalJob(state.status);
        const due = dueEvent(state, now, restartedAt, mine);
        if (due === undefined) return undefined;
        counter = due.counter;
        return { decision: await decide(state, due.event, now), result: undefined };
      },
      { chunk: where },
    );
    if (over) await unsweepChunk(tenantId, jobId, where.nodeId, where.chunk);
    if (counter === undefined || !outcome?.committed) return;
    report[counter]++;
  }
}

/** Heals one job: everything due on it, one engine event (and one commit) at a time. */
async function healJob(
  tenantId: string,
  jobId: string,
  now: Date,
  report: SweepReport,
  restartedAt?: Date,
): Promise<void> {
  for (let round = 0; round < 1000; round++) {
    let counter: keyof SweepReport | undefined;
    const outcome = await decideAndCommit(tenantId, jobId, async ({ state }) => {
      counter = undefined;
      const due = dueEvent(state, now, restartedAt);
      if (due === undefined) return undefined;
      counter = due.counter;
      return { decision: await decide(state, due.event, now), extraEvents: [due.why], result: undefined };
    });
    if (counter === undefined || !outcome?.committed) return;
    report[counter]++;
  }
}

export interface SweepOptions {
  limitPerShard?: number;
  /**
   * The platform restarted at this time, after everything that ran steps died with their messages (a crash of
   * the whole local twin): every job on the index is looked at now, and its attempts that were queued or
   * running before the restart are sent again, without waiting for their leases or due times.
   */
  restartedAt?: Date;
}

/**
 * Heals what at-least-once delivery cannot: expired leases, lost messages, waits whose message vanished,
 * and jobs past their timeout. It reads only the sweep index, where each active job has one entry keyed by
 * the first time something on it falls due, never the whole table.
 */
export async function sweep(now = new Date(), options: SweepOptions = {}): Promise<SweepReport> {
  const report: SweepReport = { requeued: 0, leasesExpired: 0, waitsResumed: 0, timedOut: 0 };
  const { restartedAt, limitPerShard = 100 } = options;
  // After a restart every entry counts, due or not: "~" sorts after every time.
  const upTo = restartedAt === undefined ? now.toISOString() : "~";
  for (let shard = 0; shard < SWEEP_SHARDS; shard++) {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo().send(
        new QueryCommand({
          TableName: tableName(),
          IndexName: "gsi4",
          KeyConditionExpression: "gsi4pk = :pk AND gsi4sk < :now",
          ExpressionAttributeValues: { ":pk": `SWEEP#${shard}`, ":now": upTo },
          ...(restartedAt === undefined ? { Limit: limitPerShard } : {}),
          ExclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      // A scheduled sweep takes one page per shard; the next run takes the rest.
      ExclusiveStartKey = restartedAt === undefined ? undefined : page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
    for (const item of items) {
      try {
        if (item.type === "job")
          await healJob(String(item.tenantId), String(item.id), now, report, restartedAt);
        else if (item.type === "jobChunk")
          await healChunk(
            String(item.tenantId),
            String(item.jobId),
            { nodeId: String(item.nodeId), chunk: Number(item.chunk) },
            now,
            report,
            restartedAt,
          );
        // Approvals: expiry (onTimeout), steps that stopped waiting, and resolutions not yet delivered.
        else if (item.type === "approval") await sweepApproval(String(item.tenantId), String(item.id), now);
      } catch (error) {
        // One bad item must not stop the sweep; it is due again on the next run.
        logger.error("Sweeper could not heal an item", {
          pk: item.pk,
          sk: item.sk,
          error: (error as Error).message,
        });
      }
    }
  }
  return report;
}
