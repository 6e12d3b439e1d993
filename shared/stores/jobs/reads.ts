import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { JobPriority, JobStatus, JobWithSteps, Step } from "#events/jobs";
import type { WorkflowDefinition } from "#events/workflow";
import { dynamo } from "../../aws.ts";
import { tableName } from "../../db.ts";
import type { JobState, StepState } from "../../engine/types.ts";
import { keys } from "../../keys.ts";
import { hydrate } from "../../payloads.ts";
import { getWorkflowVersion } from "../workflows.ts";
import { withAllItems } from "./chunks.ts";
import { decodeStep, type LoadedJob, metaOf, type StoredStep } from "./items.ts";
import { toJob } from "./summary.ts";

/** Definitions never change once a job pins them, so a process keeps the ones it read. */
const definitions = new Map<string, WorkflowDefinition>();
const DEFINITION_ENTRIES = 256;

function remember(key: string, definition: WorkflowDefinition): void {
  definitions.delete(key);
  definitions.set(key, definition);
  if (definitions.size > DEFINITION_ENTRIES) definitions.delete(definitions.keys().next().value as string);
}

/**
 * Whether this process knows the inline definition of content `hash` is stored: it read it, or a job it
 * started wrote it. A job start then leaves it out of its write.
 */
export function definitionStored(tenantId: string, hash: string): boolean {
  return definitions.has(`${tenantId}/def/${hash}`);
}

/** Notes that the inline definition of content `hash` is stored (a job start's write just succeeded). */
export function rememberDefinition(tenantId: string, hash: string, definition: WorkflowDefinition): void {
  remember(`${tenantId}/def/${hash}`, definition);
}

async function definitionOf(item: Record<string, unknown>): Promise<WorkflowDefinition | undefined> {
  if (item.definition !== undefined) return item.definition as WorkflowDefinition;
  const tenantId = String(item.tenantId);
  const jobId = String(item.id);
  const cacheKey =
    item.workflowId !== undefined
      ? `${tenantId}/wf/${String(item.workflowId)}/${Number(item.workflowVersion)}`
      : item.dh !== undefined
        ? `${tenantId}/def/${String(item.dh)}`
        : `${tenantId}/job/${jobId}`;
  const cached = definitions.get(cacheKey);
  if (cached !== undefined) return cached;
  let definition: WorkflowDefinition | undefined;
  if (item.workflowId !== undefined && item.workflowVersion !== undefined) {
    definition = (await getWorkflowVersion(tenantId, String(item.workflowId), Number(item.workflowVersion)))
      ?.definition;
  } else {
    // By its content; a job written before definitions were kept that way has its own copy.
    const places = [
      ...(item.dh === undefined ? [] : [keys.definition(tenantId, String(item.dh))]),
      keys.jobDefinition(tenantId, jobId),
    ];
    for (const Key of places) {
      const { Item } = await dynamo().send(
        new GetCommand({ TableName: tableName(), Key, ConsistentRead: true }),
      );
      definition = Item?.definition as WorkflowDefinition | undefined;
      if (definition !== undefined) break;
    }
  }
  if (definition !== undefined) remember(cacheKey, definition);
  return definition;
}

async function readJobItem(tenantId: string, jobId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.job(tenantId, jobId), ConsistentRead: true }),
  );
  return Item === undefined || Item.type !== "job" ? undefined : Item;
}

/** The job with its steps, read consistently from its one item; values offloaded to S3 are hydrated. */
export async function loadJob(tenantId: string, jobId: string): Promise<LoadedJob | undefined> {
  const item = await readJobItem(tenantId, jobId);
  return item === undefined ? undefined : loadedFromItem(item);
}

/**
 * The job as `item` (a job item as stored) has it: a step message carries the item its commit wrote, and the
 * worker decides on that instead of reading it again. It may be stale by the time it is used; every commit
 * is conditioned on the version, so a stale copy only loses the race and is read afresh.
 */
export async function loadedFromItem(item: Record<string, unknown>): Promise<LoadedJob> {
  const jobId = String(item.id);
  const tenantId = String(item.tenantId);
  const definition = await definitionOf(item);
  if (definition === undefined) throw new Error(`Job ${jobId} has no definition`);
  const steps: Record<string, StepState> = {};
  await Promise.all(
    Object.entries((item.steps ?? {}) as Record<string, StoredStep>).map(async ([key, stored]) => {
      const step = decodeStep(key, stored);
      if (step.input !== undefined) step.input = await hydrate(step.input);
      if (step.output !== undefined) step.output = await hydrate(step.output);
      steps[key] = step;
    }),
  );
  const state: JobState = {
    jobId,
    tenantId,
    status: item.status as JobStatus,
    definition,
    input: await hydrate(item.input),
    steps,
    createdAt: String(item.createdAt),
    ...(item.output === undefined ? {} : { output: await hydrate(item.output) }),
    ...(item.error === undefined ? {} : { error: item.error as JobState["error"] }),
    ...(item.startedAt === undefined ? {} : { startedAt: String(item.startedAt) }),
    ...(item.endedAt === undefined ? {} : { endedAt: String(item.endedAt) }),
    ...(item.priority === undefined ? {} : { priority: item.priority as JobPriority }),
  };
  return { state, meta: metaOf(item), item };
}

const JOB_FIELDS = [
  "workflowId",
  "workflowVersion",
  "input",
  "output",
  "error",
  "startedAt",
  "endedAt",
  "scheduleId",
] as const;

function toStep(state: JobState, step: StepState): Step {
  const {
    leaseUntil: _lease,
    notBefore: _notBefore,
    taskArn: _task,
    runFrom: _run,
    requeues: _rq,
    logs,
    window: _window,
    started: _started,
    ended: _ended,
    pick: _pick,
    reported: _reported,
    ...rest
  } = step;
  const type = state.definition.nodes.find((n) => n.id === step.nodeId)?.type ?? "unknown";
  return { ...rest, ...(Array.isArray(logs) ? { logs: logs as string[] } : {}), type };
}

export async function getJobWithSteps(
  tenantId: string,
  jobId: string,
): Promise<(JobWithSteps & { definition: WorkflowDefinition }) | undefined> {
  const found = await loadJob(tenantId, jobId);
  if (found === undefined) return undefined;
  // forEach items come from their chunks.
  const loaded = await withAllItems(found, { present: true });
  const steps = await Promise.all(
    Object.values(loaded.state.steps)
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId) || (a.itemIndex ?? -1) - (b.itemIndex ?? -1))
      .map(async (step) =>
        // Logs are only read here, so loading a job for a transition never fetches them from S3.
        toStep(loaded.state, step.logs === undefined ? step : { ...step, logs: await hydrate(step.logs) }),
      ),
  );
  const { input, output } = loaded.state;
  return {
    ...toJob(loaded.item, JOB_FIELDS),
    input,
    ...(output === undefined ? {} : { output }),
    steps,
    definition: loaded.state.definition,
  };
}

export { type ListJobsOptions, listJobs } from "./summary.ts";

export async function jobExists(tenantId: string, jobId: string): Promise<{ seq: number } | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: keys.job(tenantId, jobId),
      ProjectionExpression: "seq",
      ConsistentRead: true,
    }),
  );
  return Item === undefined ? undefined : { seq: Number(Item.seq ?? 0) };
}
