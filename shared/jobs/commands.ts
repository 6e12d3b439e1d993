import { MetricUnit } from "@aws-lambda-powertools/metrics";
import type { JobPriority } from "#events/jobs";
import type { NewTimelineEvent } from "#events/timeline";
import type { WorkflowDefinition } from "#events/workflow";
import { decide } from "../engine/engine.ts";
import type { EngineEvent, JobState, StepState } from "../engine/types.ts";
import { conflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { metrics } from "../observability.ts";
import type { AuditEntry } from "../stores/audit.ts";
import { insertJob, loadJob, requestHash } from "../stores/jobs.ts";
import { runCommands } from "./effects.ts";
import { jobMetrics } from "./metrics.ts";
import { runAtStart } from "./pure-chain.ts";
import { decideAndCommit } from "./unit-of-work.ts";

export interface StartJobInput {
  tenantId: string;
  createdBy: string;
  definition: WorkflowDefinition;
  workflowId?: string;
  workflowVersion?: number;
  input?: unknown;
  idempotencyKey?: string;
  /** The request the key stands for; a reuse of the key with another request is a 409. */
  request?: unknown;
  scheduleId?: string;
  /** A re-run: the steps it keeps from the job it re-runs, and the note that says so on its timeline. */
  seed?: { steps: Record<string, StepState>; note: string };
  priority?: JobPriority;
  /** The audit entry of the request that starts the job, written with the job when it is created. */
  audit?: (jobId: string) => AuditEntry;
}

/** Plans the job's first steps, writes the job, then sends the ready steps' messages. */
export async function startJob(
  input: StartJobInput,
  now = new Date(),
): Promise<{ jobId: string; status: string; created: boolean }> {
  const jobId = newId("j_", now.getTime());
  const initial: JobState = {
    jobId,
    tenantId: input.tenantId,
    status: "queued",
    definition: input.definition,
    input: input.input ?? {},
    steps: structuredClone(input.seed?.steps ?? {}),
    createdAt: now.toISOString(),
    ...(input.priority === undefined || input.priority === "normal" ? {} : { priority: input.priority }),
  };
  // A wide first fan-out is left to a worker, so this request writes no chunk items.
  const options = { deferWideFanOut: true };
  const { decision, ran } = await runAtStart(await decide(initial, { type: "start" }, now, options), options);
  const notes: NewTimelineEvent[] = [
    ...(input.seed === undefined ? [] : [{ type: "job.note" as const, message: input.seed.note }]),
    ...decision.notes.map((note) => ({
      type: "job.note" as const,
      message: note.message,
      ...(note.nodeId === undefined ? {} : { nodeId: note.nodeId }),
    })),
  ];
  const outcome = await insertJob(
    {
      tenantId: input.tenantId,
      jobId,
      createdBy: input.createdBy,
      definition: input.definition,
      input: initial.input,
      ...(input.workflowId === undefined ? {} : { workflowId: input.workflowId }),
      ...(input.workflowVersion === undefined ? {} : { workflowVersion: input.workflowVersion }),
      ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
      ...(input.idempotencyKey === undefined
        ? {}
        : {
            requestHash: requestHash(input.request ?? { definition: input.definition, input: initial.input }),
          }),
      ...(input.scheduleId === undefined ? {} : { scheduleId: input.scheduleId }),
      ...(input.audit === undefined ? {} : { audit: input.audit(jobId) }),
    },
    decision,
    notes,
    now,
    ran,
  );
  if (!outcome.created) {
    const existing = await loadJob(input.tenantId, outcome.jobId);
    return { jobId: outcome.jobId, status: existing?.state.status ?? "queued", created: false };
  }
  metrics.addMetric("JobsStarted", MetricUnit.Count, 1);
  for (const metric of jobMetrics(initial, decision, new Date()))
    metrics.addMetric(metric.name, metric.unit, metric.value);
  await runCommands(decision.state, decision.commands, outcome.item);
  return { jobId, status: decision.state.status, created: true };
}

async function decideOnJob(
  tenantId: string,
  jobId: string,
  event: EngineEvent,
  refuse: (state: JobState) => string | undefined,
  options: { allItems?: boolean } = {},
) {
  const outcome = await decideAndCommit(
    tenantId,
    jobId,
    async (loaded) => {
      const why = refuse(loaded.state);
      if (why !== undefined) throw conflict(why);
      return { decision: await decide(loaded.state, event, new Date()), result: undefined };
    },
    options,
  );
  if (outcome === undefined) throw notFound("Job", jobId);
  return { jobId, status: outcome.loaded.state.status };
}

export function cancelJob(tenantId: string, jobId: string, reason?: string) {
  return decideOnJob(tenantId, jobId, { type: "cancel", ...(reason === undefined ? {} : { reason }) }, (s) =>
    ["queued", "running", "waiting"].includes(s.status)
      ? undefined
      : `Job ${jobId} is ${s.status} and cannot be cancelled`,
  );
}

export function retryJob(tenantId: string, jobId: string) {
  // A retry keeps the items that succeeded and re-runs the rest, so it reads every forEach chunk.
  return decideOnJob(
    tenantId,
    jobId,
    { type: "retry" },
    (s) => {
      if (s.status === "cancelled")
        return `Job ${jobId} was cancelled, and a cancelled job is not retried: start a new job to run it again`;
      return ["failed", "timed_out"].includes(s.status)
        ? undefined
        : `Job ${jobId} is ${s.status} and cannot be retried`;
    },
    { allItems: true },
  );
}
