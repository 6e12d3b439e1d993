import { BatchWriteCommand, GetCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { Job, JobStatus, JobWithSteps, Step } from "#events/jobs";
import type { NewTimelineEvent, TimelineEvent } from "#events/timeline";
import type { WorkflowDefinition } from "#events/workflow";
import { dynamo } from "../aws.ts";
import { epochSeconds, nowIso, tableName } from "../db.ts";
import { type Decision, type JobState, type StepState, stepKey } from "../engine/types.ts";
import { isTransactionConflict } from "../errors.ts";
import { newId } from "../ids.ts";
import { keys } from "../keys.ts";
import { hydrate, offload } from "../payloads.ts";
import { allOf, createdByFilter, newestFirst } from "./page.ts";

/** Timeline events are kept this long, then DynamoDB's TTL removes them. */
export const EVENT_TTL_SECONDS = 30 * 24 * 3600;
/** DynamoDB's cap on items in one transaction. */
const MAX_TRANSACTION_ITEMS = 100;
/** Shards of the sweep index, so the sweeper's queries do not all land on one partition. */
export const SWEEP_SHARDS = 8;

export interface JobMeta {
  tenantId: string;
  jobId: string;
  workflowId?: string;
  workflowVersion?: number;
  workflowName: string;
  createdBy: string;
  scheduleId?: string;
  idempotencyKey?: string;
  updatedAt: string;
  /** Latest timeline sequence number. */
  seq: number;
  /** Optimistic-concurrency version: every commit is conditioned on it. */
  version: number;
}

export interface LoadedJob {
  state: JobState;
  meta: JobMeta;
  /** The job item as stored, read in the same consistent query as the steps. */
  item: Record<string, unknown>;
}

export class ConcurrentUpdateError extends Error {
  override name = "ConcurrentUpdateError";
}

function sweepShard(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % SWEEP_SHARDS;
}

/** When the sweeper should look at a step again, if it is not done by then. */
export function stepDueAt(step: StepState, now: Date): string | undefined {
  const plus = (iso: string | undefined, seconds: number) =>
    new Date((iso === undefined ? now.getTime() : Date.parse(iso)) + seconds * 1000).toISOString();
  switch (step.status) {
    case "queued":
      // A queued step whose message was lost: give SQS and a busy worker five minutes past its due time.
      return plus(step.notBefore ?? step.queuedAt, 300);
    case "running":
      return step.leaseUntil ?? plus(step.startedAt, 900);
    case "waiting":
      return plus(step.notBefore, 60);
    case "waiting_approval":
      // Once, shortly after: the sweeper makes sure the approval was requested, then clears this entry.
      return plus(undefined, 120);
    default:
      return undefined;
  }
}

function jobDeadline(state: JobState): string | undefined {
  const timeout = state.definition.timeoutSeconds;
  if (timeout === undefined) return undefined;
  return new Date(Date.parse(state.startedAt ?? state.createdAt) + timeout * 1000).toISOString();
}

const TERMINAL_JOB: readonly JobStatus[] = ["succeeded", "failed", "cancelled", "timed_out"];

function nodeType(state: JobState, nodeId: string): string {
  return state.definition.nodes.find((n) => n.id === nodeId)?.type ?? "unknown";
}

function stepItem(state: JobState, step: StepState, now: Date): Record<string, unknown> {
  const due = stepDueAt(step, now);
  const key = keys.step(state.tenantId, state.jobId, step.nodeId, step.itemIndex);
  return {
    ...key,
    type: "step",
    tenantId: state.tenantId,
    jobId: state.jobId,
    nodeType: nodeType(state, step.nodeId),
    ...step,
    updatedAt: nowIso(now),
    ...(due === undefined ? {} : { gsi4pk: `SWEEP#${sweepShard(key.pk + key.sk)}`, gsi4sk: `${due}#S` }),
  };
}

function eventItem(tenantId: string, event: TimelineEvent): Record<string, unknown> {
  return {
    ...keys.event(tenantId, event.jobId, event.seq),
    type: "event",
    tenantId,
    jobId: event.jobId,
    seq: event.seq,
    event,
    ttl: epochSeconds(new Date(event.at)) + EVENT_TTL_SECONDS,
  };
}

function fromStepItem(item: Record<string, unknown>): StepState {
  const step: StepState = {
    nodeId: String(item.nodeId),
    status: item.status as StepState["status"],
    attempt: Number(item.attempt ?? 0),
  };
  const optional = [
    "itemIndex",
    "input",
    "output",
    "error",
    "items",
    "queuedAt",
    "startedAt",
    "endedAt",
    "notBefore",
    "leaseUntil",
    "taskArn",
  ] as const;
  for (const field of optional) {
    if (item[field] !== undefined) (step as unknown as Record<string, unknown>)[field] = item[field];
  }
  return step;
}

function payloadKey(tenantId: string, jobId: string, name: string): string {
  // A fresh name per write: a re-run step writes a new object rather than changing one a reader cached.
  return `${tenantId}/${jobId}/${name}-${newId("")}.json`;
}

/** The decision as it is stored: large inputs and outputs replaced by pointers to S3 (claim check). */
async function storedDecision(tenantId: string, jobId: string, decision: Decision): Promise<Decision> {
  const changedSteps = await Promise.all(
    decision.changedSteps.map(async (step) => {
      const name = `${stepKey(step.nodeId, step.itemIndex)}/${step.attempt}`;
      const copy = { ...step };
      if (step.input !== undefined)
        copy.input = await offload(step.input, payloadKey(tenantId, jobId, `${name}/input`));
      if (step.output !== undefined) {
        copy.output = await offload(step.output, payloadKey(tenantId, jobId, `${name}/output`));
      }
      return copy;
    }),
  );
  const output =
    decision.state.output === undefined
      ? undefined
      : await offload(decision.state.output, payloadKey(tenantId, jobId, "output"));
  return {
    ...decision,
    changedSteps,
    state: { ...decision.state, ...(output === undefined ? {} : { output }) },
  };
}

/** Timeline events that describe what a decision changed, in a stable order. */
export function eventsFor(before: JobState | undefined, decision: Decision): NewTimelineEvent[] {
  const events: NewTimelineEvent[] = [];
  const after = decision.state;
  for (const step of decision.changedSteps) {
    const previous = before?.steps[stepKey(step.nodeId, step.itemIndex)];
    if (previous !== undefined && previous.status === step.status && previous.attempt === step.attempt)
      continue;
    events.push({
      type: "step.status_changed",
      nodeId: step.nodeId,
      ...(step.itemIndex === undefined ? {} : { itemIndex: step.itemIndex }),
      status: step.status,
      ...(previous === undefined ? {} : { previousStatus: previous.status }),
      attempt: step.attempt,
      ...(step.status === "succeeded" && step.output !== undefined ? { output: step.output } : {}),
      ...(step.error === undefined || step.status === "succeeded" ? {} : { error: step.error }),
    });
  }
  for (const note of decision.notes) {
    events.push({
      type: "job.note",
      message: note.message,
      ...(note.nodeId === undefined ? {} : { nodeId: note.nodeId }),
    });
  }
  if (before === undefined || before.status !== after.status) {
    events.push({
      type: "job.status_changed",
      status: after.status,
      ...(before === undefined ? {} : { previousStatus: before.status }),
      ...(after.error === undefined ? {} : { error: after.error }),
      ...(after.status === "succeeded" && after.output !== undefined ? { output: after.output } : {}),
    });
  }
  return events;
}

function number(events: NewTimelineEvent[], jobId: string, fromSeq: number, now: Date): TimelineEvent[] {
  const at = nowIso(now);
  return events.map((event, index) => ({ ...event, jobId, seq: fromSeq + index + 1, at }) as TimelineEvent);
}

async function writeChunks(items: Record<string, unknown>[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let tries = 0; requests.length > 0; tries++) {
      if (tries > 8) throw new Error("DynamoDB left items unprocessed after 8 retries");
      const result = await dynamo().send(
        new BatchWriteCommand({ RequestItems: { [tableName()]: requests } }),
      );
      requests = (result.UnprocessedItems?.[tableName()] ?? []) as typeof requests;
      if (requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** tries));
    }
  }
}

export interface CreateJobInput {
  tenantId: string;
  jobId: string;
  createdBy: string;
  definition: WorkflowDefinition;
  workflowId?: string;
  workflowVersion?: number;
  input: unknown;
  idempotencyKey?: string;
  scheduleId?: string;
}

/**
 * Writes a new job, its steps and its first events in one transaction. With an idempotency key the
 * transaction also claims the key; when the key is taken, the existing job's id is returned instead.
 */
export async function insertJob(
  input: CreateJobInput,
  initial: JobState,
  decision: Decision,
  now: Date,
): Promise<{ created: true } | { created: false; jobId: string }> {
  const stored = await storedDecision(input.tenantId, input.jobId, decision);
  const state = stored.state;
  const events = number(eventsFor(undefined, stored), input.jobId, 0, now);
  const createdAt = state.createdAt;
  const sortKey = keys.jobSortKey(createdAt, input.jobId);
  const deadline = jobDeadline(state);
  const storedInput = await offload(initial.input, payloadKey(input.tenantId, input.jobId, "input"));
  // Three items, so the one that changes on every transition stays small: each transactional write is
  // billed by the item's whole size, twice. The job item (status, counters) changes every time; the
  // definition item never changes; the summary item, the only one the list indexes see, changes with the
  // status alone.
  const shown = {
    id: input.jobId,
    tenantId: input.tenantId,
    status: state.status,
    workflowName: input.definition.name,
    workflowId: input.workflowId,
    workflowVersion: input.workflowVersion,
    createdAt,
    updatedAt: nowIso(now),
    startedAt: state.startedAt,
    createdBy: input.createdBy,
    scheduleId: input.scheduleId,
    seq: events.length,
  };
  const jobItem: Record<string, unknown> = {
    ...keys.job(input.tenantId, input.jobId),
    type: "job",
    ...shown,
    idempotencyKey: input.idempotencyKey,
    version: 1,
    ...(deadline === undefined
      ? {}
      : { gsi4pk: `SWEEP#${sweepShard(input.jobId)}`, gsi4sk: `${deadline}#J` }),
  };
  const definitionItem: Record<string, unknown> = {
    ...keys.jobDefinition(input.tenantId, input.jobId),
    type: "jobDefinition",
    definition: input.definition,
    input: storedInput,
  };
  const summaryItem: Record<string, unknown> = {
    ...keys.jobSummary(input.tenantId, input.jobId),
    type: "jobSummary",
    ...shown,
    gsi1pk: keys.jobsIndex(input.tenantId),
    gsi1sk: sortKey,
    gsi2pk: keys.jobsByStatusIndex(input.tenantId, state.status),
    gsi2sk: sortKey,
    ...(input.workflowId === undefined
      ? {}
      : { gsi3pk: keys.jobsByWorkflowIndex(input.tenantId, input.workflowId), gsi3sk: sortKey }),
  };
  const head: Record<string, unknown>[] = [];
  if (input.idempotencyKey !== undefined) {
    head.push({
      Put: {
        TableName: tableName(),
        Item: {
          ...keys.idempotency(input.tenantId, input.idempotencyKey),
          type: "idempotency",
          jobId: input.jobId,
          ttl: epochSeconds(now) + 7 * 24 * 3600,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    });
  }
  head.push(
    { Put: { TableName: tableName(), Item: jobItem, ConditionExpression: "attribute_not_exists(pk)" } },
    { Put: { TableName: tableName(), Item: definitionItem } },
    { Put: { TableName: tableName(), Item: summaryItem } },
  );
  const rest = [
    ...stored.changedSteps.map((step) => stepItem(state, step, now)),
    ...events.map((event) => eventItem(input.tenantId, event)),
  ];
  const inline = rest.slice(0, MAX_TRANSACTION_ITEMS - head.length);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          ...head,
          ...inline.map((Item) => ({ Put: { TableName: tableName(), Item } })),
        ] as never,
      }),
    );
  } catch (error) {
    if (input.idempotencyKey !== undefined && isTransactionConflict(error)) {
      const existing = await findJobByIdempotencyKey(input.tenantId, input.idempotencyKey);
      if (existing !== undefined) return { created: false, jobId: existing };
    }
    throw error;
  }
  await writeChunks(rest.slice(inline.length));
  return { created: true };
}

export async function findJobByIdempotencyKey(tenantId: string, key: string): Promise<string | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.idempotency(tenantId, key), ConsistentRead: true }),
  );
  return Item === undefined ? undefined : String(Item.jobId);
}

/** The job and its steps (not its events), read consistently. */
export async function loadJob(tenantId: string, jobId: string): Promise<LoadedJob | undefined> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND sk < :events",
        ExpressionAttributeValues: { ":pk": keys.jobPk(tenantId, jobId), ":events": "E#" },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  const job = items.find((item) => item.sk === keys.job(tenantId, jobId).sk);
  // Jobs written before the definition had an item of its own carry it on the job item.
  const definitionItem = items.find((item) => item.sk === keys.jobDefinition(tenantId, jobId).sk) ?? job;
  if (job === undefined) return undefined;
  const steps: Record<string, StepState> = {};
  for (const item of items) {
    if (item.type !== "step") continue;
    const step = fromStepItem(item);
    steps[stepKey(step.nodeId, step.itemIndex)] = step;
  }
  await Promise.all(
    Object.values(steps).map(async (step) => {
      if (step.input !== undefined) step.input = await hydrate(step.input);
      if (step.output !== undefined) step.output = await hydrate(step.output);
    }),
  );
  const state: JobState = {
    jobId,
    tenantId,
    status: job.status as JobStatus,
    definition: definitionItem?.definition as WorkflowDefinition,
    input: await hydrate(definitionItem?.input),
    steps,
    createdAt: String(job.createdAt),
    ...(job.output === undefined ? {} : { output: await hydrate(job.output) }),
    ...(job.error === undefined ? {} : { error: job.error as JobState["error"] }),
    ...(job.startedAt === undefined ? {} : { startedAt: String(job.startedAt) }),
    ...(job.endedAt === undefined ? {} : { endedAt: String(job.endedAt) }),
  };
  const meta: JobMeta = {
    tenantId,
    jobId,
    workflowName: String(job.workflowName),
    createdBy: String(job.createdBy),
    updatedAt: String(job.updatedAt),
    seq: Number(job.seq ?? 0),
    version: Number(job.version ?? 0),
    ...(job.workflowId === undefined ? {} : { workflowId: String(job.workflowId) }),
    ...(job.workflowVersion === undefined ? {} : { workflowVersion: Number(job.workflowVersion) }),
    ...(job.scheduleId === undefined ? {} : { scheduleId: String(job.scheduleId) }),
    ...(job.idempotencyKey === undefined ? {} : { idempotencyKey: String(job.idempotencyKey) }),
  };
  return { state, meta, item: job };
}

/**
 * Writes a decision taken on `loaded` as one transaction conditioned on the job's version, so two workers
 * deciding on the same job cannot both win: the loser gets ConcurrentUpdateError, reloads and decides again.
 * Returns the events written, with their sequence numbers.
 */
export async function commitDecision(
  loaded: LoadedJob,
  decision: Decision,
  now: Date,
  extraEvents: NewTimelineEvent[] = [],
): Promise<TimelineEvent[]> {
  const { state: before, meta } = loaded;
  const stored = await storedDecision(meta.tenantId, meta.jobId, decision);
  const after = stored.state;
  const events = number([...eventsFor(before, stored), ...extraEvents], meta.jobId, meta.seq, now);
  const newSeq = meta.seq + events.length;
  const terminal = TERMINAL_JOB.includes(after.status);
  const deadline = terminal ? undefined : jobDeadline(after);
  const sortKey = keys.jobSortKey(after.createdAt, meta.jobId);

  const names: Record<string, string> = { "#status": "status", "#version": "version" };
  const values: Record<string, unknown> = {
    ":status": after.status,
    ":updatedAt": nowIso(now),
    ":seq": newSeq,
    ":next": meta.version + 1,
    ":version": meta.version,
  };
  const sets = ["#status = :status", "updatedAt = :updatedAt", "seq = :seq", "#version = :next"];
  const removes: string[] = [];
  const field = (name: string, value: unknown) => {
    names[`#${name}`] = name;
    if (value === undefined) removes.push(`#${name}`);
    else {
      values[`:${name}`] = value;
      sets.push(`#${name} = :${name}`);
    }
  };
  field("output", after.output);
  field("error", after.error);
  field("startedAt", after.startedAt);
  field("endedAt", after.endedAt);
  if (deadline === undefined) removes.push("gsi4pk", "gsi4sk");
  else {
    values[":gsi4pk"] = `SWEEP#${sweepShard(meta.jobId)}`;
    values[":gsi4sk"] = `${deadline}#J`;
    sets.push("gsi4pk = :gsi4pk", "gsi4sk = :gsi4sk");
  }
  const jobUpdate = {
    Update: {
      TableName: tableName(),
      Key: keys.job(meta.tenantId, meta.jobId),
      UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
      ConditionExpression: "#version = :version",
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
  const stepItems = stored.changedSteps.map((step) => stepItem(after, step, now));
  const eventItems = events.map((event) => eventItem(meta.tenantId, event));
  const puts = [...stepItems, ...eventItems];
  const head: Record<string, unknown>[] = [jobUpdate];
  const summaryChanged =
    before.status !== after.status ||
    before.startedAt !== after.startedAt ||
    before.endedAt !== after.endedAt ||
    JSON.stringify(before.error) !== JSON.stringify(after.error) ||
    JSON.stringify(before.output) !== JSON.stringify(decision.state.output);
  if (summaryChanged) {
    const summary: Record<string, unknown> = {
      ":status": after.status,
      ":updatedAt": nowIso(now),
      ":seq": newSeq,
      ":gsi2pk": keys.jobsByStatusIndex(meta.tenantId, after.status),
      ":gsi2sk": sortKey,
    };
    const summarySets = [
      "#status = :status",
      "updatedAt = :updatedAt",
      "seq = :seq",
      "gsi2pk = :gsi2pk",
      "gsi2sk = :gsi2sk",
    ];
    const summaryRemoves: string[] = [];
    const summaryNames: Record<string, string> = { "#status": "status" };
    for (const [name, value] of Object.entries({
      output: after.output,
      error: after.error,
      startedAt: after.startedAt,
      endedAt: after.endedAt,
    })) {
      summaryNames[`#${name}`] = name;
      if (value === undefined) summaryRemoves.push(`#${name}`);
      else {
        summary[`:${name}`] = value;
        summarySets.push(`#${name} = :${name}`);
      }
    }
    head.push({
      Update: {
        TableName: tableName(),
        Key: keys.jobSummary(meta.tenantId, meta.jobId),
        UpdateExpression: `SET ${summarySets.join(", ")}${summaryRemoves.length > 0 ? ` REMOVE ${summaryRemoves.join(", ")}` : ""}`,
        ExpressionAttributeNames: summaryNames,
        ExpressionAttributeValues: summary,
      },
    });
  }
  // Everything fits in one transaction in the common case. A large fan-out writes its overflow after the
  // job's version moved, so a lost race never leaves orphan events behind.
  const inline = puts.slice(0, MAX_TRANSACTION_ITEMS - head.length);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          ...head,
          ...inline.map((Item) => ({ Put: { TableName: tableName(), Item } })),
        ] as never,
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error))
      throw new ConcurrentUpdateError(`Job ${meta.jobId} changed concurrently`);
    throw error;
  }
  await writeChunks(puts.slice(inline.length));
  loaded.meta = { ...meta, seq: newSeq, version: meta.version + 1, updatedAt: nowIso(now) };
  loaded.state = decision.state;
  return events;
}

function toJob(item: Record<string, unknown>): Job {
  const job: Job = {
    id: String(item.id),
    tenantId: String(item.tenantId),
    status: item.status as JobStatus,
    workflowName: String(item.workflowName),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    createdBy: String(item.createdBy),
    seq: Number(item.seq ?? 0),
  };
  for (const field of [
    "workflowId",
    "workflowVersion",
    "input",
    "output",
    "error",
    "startedAt",
    "endedAt",
    "scheduleId",
  ]) {
    if (item[field] !== undefined) (job as Record<string, unknown>)[field] = item[field];
  }
  return job;
}

function toStep(state: JobState, step: StepState): Step {
  const { leaseUntil: _lease, notBefore: _notBefore, taskArn: _task, ...rest } = step;
  return { ...rest, type: nodeType(state, step.nodeId) };
}

export async function getJobWithSteps(
  tenantId: string,
  jobId: string,
): Promise<(JobWithSteps & { definition: WorkflowDefinition }) | undefined> {
  // One read for the job and its steps, so the job's status never runs ahead of the steps shown with it.
  const loaded = await loadJob(tenantId, jobId);
  if (loaded === undefined) return undefined;
  const steps = Object.values(loaded.state.steps)
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId) || (a.itemIndex ?? -1) - (b.itemIndex ?? -1))
    .map((step) => toStep(loaded.state, step));
  const { input, output } = loaded.state;
  return {
    ...toJob(loaded.item),
    input,
    ...(output === undefined ? {} : { output }),
    steps,
    definition: loaded.state.definition,
  };
}

export interface ListJobsOptions {
  status?: JobStatus;
  workflowId?: string;
  /** Only the jobs this principal started (owner-only access). */
  createdBy?: string;
  cursor?: string;
  limit: number;
}

/** Newest first, from the index that matches the filter: never a scan. */
export async function listJobs(
  tenantId: string,
  options: ListJobsOptions,
): Promise<{ items: Job[]; cursor?: string }> {
  let index = "gsi1";
  let partition = keys.jobsIndex(tenantId);
  if (options.status !== undefined) {
    index = "gsi2";
    partition = keys.jobsByStatusIndex(tenantId, options.status);
  } else if (options.workflowId !== undefined) {
    index = "gsi3";
    partition = keys.jobsByWorkflowIndex(tenantId, options.workflowId);
  }
  return newestFirst({
    index,
    partition,
    cursor: options.cursor,
    limit: options.limit,
    map: toJob,
    filter: allOf(
      options.status !== undefined && options.workflowId !== undefined
        ? { expression: "workflowId = :workflowId", values: { ":workflowId": options.workflowId } }
        : undefined,
      createdByFilter(options.createdBy),
    ),
  });
}

/** Timeline events with a sequence number above `since`, oldest first. */
export async function listEvents(
  tenantId: string,
  jobId: string,
  since = 0,
  limit = 1000,
): Promise<{ items: TimelineEvent[]; cursor?: string }> {
  const items: TimelineEvent[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
        ExpressionAttributeValues: {
          ":pk": keys.jobPk(tenantId, jobId),
          ":from": keys.eventSk(since + 1),
          ":to": "E#~",
        },
        ConsistentRead: true,
        Limit: Math.min(limit - items.length, 500),
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) items.push(item.event as TimelineEvent);
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined && items.length < limit);
  const last = items.at(-1);
  return {
    items,
    ...(ExclusiveStartKey !== undefined && last !== undefined ? { cursor: String(last.seq) } : {}),
  };
}

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
