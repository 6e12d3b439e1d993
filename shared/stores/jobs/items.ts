import type { JobStatus, StepError } from "#events/jobs";
import type { NewTimelineEvent } from "#events/timeline";
import type { WorkflowDefinition } from "#events/workflow";
import { numberEnv } from "../../config.ts";
import type { JobState, StepState } from "../../engine/types.ts";
import { newId } from "../../ids.ts";
import type { JobImage } from "../../jobs/timeline.ts";
import { keys } from "../../keys.ts";
import { offload } from "../../payloads.ts";

/**
 * The job item carries the whole state of the job: its fields, and every step in a compact map, so a
 * transition is one conditional write of one item. Values above a threshold live in S3 behind a pointer;
 * the thresholds keep the item far below DynamoDB's 400 KB (a workflow has at most 200 nodes). forEach items
 * are not in it: they live in chunk items (chunks.ts), and the node's step keeps only counters.
 */
export const STEP_INLINE_BYTES = numberEnv("JOB_STEP_INLINE_BYTES", 2048);
export const ITEM_INLINE_BYTES = numberEnv("JOB_ITEM_INLINE_BYTES", 128);

/** Shards of the sweep index, so the sweeper's queries do not all land on one partition. */
export const SWEEP_SHARDS = 8;

/** A step as the job item stores it: short names, since every byte is paid on every write of the job. */
export interface StoredStep {
  s: StepState["status"];
  a: number;
  rf?: number;
  in?: unknown;
  o?: unknown;
  er?: StepError;
  n?: number;
  lg?: unknown;
  q?: string;
  st?: string;
  e?: string;
  nb?: string;
  lu?: string;
  ta?: string;
  rq?: number;
  /** forEach node: window, started, ended per chunk, and the items a retry re-runs. */
  w?: number;
  sn?: number;
  en?: number[];
  pi?: number[];
  rp?: number[];
}

export interface JobMeta {
  tenantId: string;
  jobId: string;
  workflowId?: string;
  workflowVersion?: number;
  workflowName: string;
  createdBy: string;
  scheduleId?: string;
  idempotencyKey?: string;
  /**
   * A hash of an inline workflow's definition (`dh`): jobs of the same definition share a worker's cached
   * copy, so only the first of them reads its `A#DEF`.
   */
  definitionHash?: string;
  updatedAt: string;
  /** Sequence number of the job's latest timeline event. */
  seq: number;
  /** Optimistic-concurrency version: every commit is conditioned on it. */
  version: number;
}

/** One chunk of a forEach node's items, as read (see chunks.ts). */
export interface LoadedChunk {
  nodeId: string;
  chunk: number;
  /** 0 when the chunk item does not exist. */
  version: number;
  run: number;
  /** Keyed by `stepKey(nodeId, itemIndex)`, as stored. */
  steps: Record<string, StoredStep>;
}

export interface LoadedJob {
  state: JobState;
  meta: JobMeta;
  /** The job item as stored. */
  item: Record<string, unknown>;
  /** forEach chunks the decision was given (their items are in `state.steps`), by `chunkId`. */
  chunks?: Map<string, LoadedChunk>;
}

export function stepFromKey(key: string): { nodeId: string; itemIndex?: number } {
  const match = /^(.+)#(\d+)$/.exec(key);
  return match ? { nodeId: match[1] as string, itemIndex: Number(match[2]) } : { nodeId: key };
}

export function decodeStep(key: string, stored: StoredStep): StepState {
  const step: StepState = { ...stepFromKey(key), status: stored.s, attempt: stored.a };
  if (stored.rf !== undefined) step.runFrom = stored.rf;
  if (stored.in !== undefined) step.input = stored.in;
  if (stored.o !== undefined) step.output = stored.o;
  if (stored.er !== undefined) step.error = stored.er;
  if (stored.n !== undefined) step.items = stored.n;
  if (stored.lg !== undefined) step.logs = stored.lg;
  if (stored.q !== undefined) step.queuedAt = stored.q;
  if (stored.st !== undefined) step.startedAt = stored.st;
  if (stored.e !== undefined) step.endedAt = stored.e;
  if (stored.nb !== undefined) step.notBefore = stored.nb;
  if (stored.lu !== undefined) step.leaseUntil = stored.lu;
  if (stored.ta !== undefined) step.taskArn = stored.ta;
  if (stored.rq !== undefined) step.requeues = stored.rq;
  if (stored.w !== undefined) step.window = stored.w;
  if (stored.sn !== undefined) step.started = stored.sn;
  if (stored.en !== undefined) step.ended = stored.en;
  if (stored.pi !== undefined) step.pick = stored.pi;
  if (stored.rp !== undefined) step.reported = stored.rp;
  return step;
}

function payloadKey(tenantId: string, jobId: string, name: string): string {
  // A fresh name per write: a re-run step writes a new object rather than changing one a reader cached.
  return `${tenantId}/${jobId}/${name}-${newId("")}.json`;
}

/** The step as stored, its large values offloaded to S3. */
export async function encodeStep(tenantId: string, jobId: string, step: StepState): Promise<StoredStep> {
  const limit = step.itemIndex === undefined ? STEP_INLINE_BYTES : ITEM_INLINE_BYTES;
  const name = `${step.itemIndex === undefined ? step.nodeId : `${step.nodeId}#${step.itemIndex}`}/${step.attempt}`;
  const stored: StoredStep = { s: step.status, a: step.attempt };
  if (step.runFrom !== undefined) stored.rf = step.runFrom;
  if (step.input !== undefined)
    stored.in = await offload(step.input, payloadKey(tenantId, jobId, `${name}/input`), limit);
  if (step.output !== undefined)
    stored.o = await offload(step.output, payloadKey(tenantId, jobId, `${name}/output`), limit);
  if (step.error !== undefined) stored.er = step.error;
  if (step.items !== undefined) stored.n = step.items;
  if (step.logs !== undefined)
    stored.lg = await offload(step.logs, payloadKey(tenantId, jobId, `${name}/logs`), limit);
  if (step.queuedAt !== undefined) stored.q = step.queuedAt;
  if (step.startedAt !== undefined) stored.st = step.startedAt;
  if (step.endedAt !== undefined) stored.e = step.endedAt;
  if (step.notBefore !== undefined) stored.nb = step.notBefore;
  if (step.leaseUntil !== undefined) stored.lu = step.leaseUntil;
  if (step.taskArn !== undefined) stored.ta = step.taskArn;
  if (step.requeues !== undefined) stored.rq = step.requeues;
  if (step.window !== undefined) stored.w = step.window;
  if (step.started !== undefined) stored.sn = step.started;
  if (step.ended !== undefined) stored.en = step.ended;
  if (step.pick !== undefined) stored.pi = step.pick;
  if (step.reported !== undefined) stored.rp = step.reported;
  return stored;
}

export async function offloadJobValue(
  tenantId: string,
  jobId: string,
  name: string,
  value: unknown,
): Promise<unknown> {
  return offload(value, payloadKey(tenantId, jobId, name), STEP_INLINE_BYTES);
}

export function sweepShard(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % SWEEP_SHARDS;
}

/**
 * A queued step whose message was lost is sent again this long after it was due. Short, because sending again
 * is safe: the claim takes only a queued attempt, so a second message for it is dropped.
 */
export const LOST_MESSAGE_SECONDS = 30;

/** When the sweeper should look at a step again, if it is not done by then. */
export function stepDueAt(step: StepState, now: Date): string | undefined {
  const plus = (iso: string | undefined, seconds: number) =>
    new Date((iso === undefined ? now.getTime() : Date.parse(iso)) + seconds * 1000).toISOString();
  // Each time a message was sent again the sweeper waits twice as long, so a deep backlog (messages that are
  // slow, not lost) is not flooded with copies.
  const lost = Math.min(300, LOST_MESSAGE_SECONDS * 2 ** (step.requeues ?? 0));
  switch (step.status) {
    case "queued":
      return plus(step.notBefore ?? step.queuedAt, lost);
    case "running":
      return step.leaseUntil ?? plus(step.startedAt, 900);
    case "waiting":
      return plus(step.notBefore, lost);
    default:
      return undefined;
  }
}

export function jobDeadline(state: JobState): string | undefined {
  const timeout = state.definition.timeoutSeconds;
  if (timeout === undefined) return undefined;
  return new Date(Date.parse(state.startedAt ?? state.createdAt) + timeout * 1000).toISOString();
}

const TERMINAL_JOB: readonly JobStatus[] = ["succeeded", "failed", "cancelled", "timed_out"];

/**
 * Steps' due times go on the sweep index rounded up to this, so the transitions of a busy job keep its
 * entry where it is instead of moving it (a delete and a put on the index) on every write. The sweeper
 * runs once a minute, so a heal comes at most one more sweep later.
 */
export const SWEEP_BUCKET_SECONDS = 60;

function bucketed(iso: string): string {
  const size = SWEEP_BUCKET_SECONDS * 1000;
  return new Date(Math.ceil(Date.parse(iso) / size) * size).toISOString();
}

/**
 * The job's one entry on the sweep index: the earliest of its steps' due times (bucketed) and its own
 * deadline (exact; it does not move while the job runs).
 */
export function sweepKeys(state: JobState, now: Date): Record<string, string> {
  if (TERMINAL_JOB.includes(state.status)) return {};
  let due = jobDeadline(state);
  for (const step of Object.values(state.steps)) {
    // Items are on the index through their chunks; a fan-out's own step runs nothing to heal.
    if (step.itemIndex !== undefined || step.items !== undefined) continue;
    const raw = stepDueAt(step, now);
    const at = raw === undefined ? undefined : bucketed(raw);
    if (at !== undefined && (due === undefined || at < due)) due = at;
  }
  return due === undefined ? {} : { gsi4pk: `SWEEP#${sweepShard(state.jobId)}`, gsi4sk: `${due}#J` };
}

export interface JobItemInput {
  meta: JobMeta;
  state: JobState;
  /** Every step as stored. */
  steps: Record<string, StoredStep>;
  /** The job's input and output as stored (offloaded when large). */
  input: unknown;
  output: unknown;
  /** Definition inline, for a job that did not come from a stored workflow and has no definition item. */
  definition?: WorkflowDefinition;
  notes: NewTimelineEvent[];
  extras: NewTimelineEvent[];
  /** Attempts this commit claimed and ran itself, `[step key, attempt]` (see JobImage's `ran`). */
  ran?: [string, number][];
  now: Date;
}

export function jobItem(input: JobItemInput): Record<string, unknown> {
  const { meta, state, now } = input;
  const item: Record<string, unknown> = {
    ...keys.job(meta.tenantId, meta.jobId),
    type: "job",
    id: meta.jobId,
    tenantId: meta.tenantId,
    status: state.status,
    workflowName: meta.workflowName,
    createdAt: state.createdAt,
    updatedAt: now.toISOString(),
    createdBy: meta.createdBy,
    seq: meta.seq,
    version: meta.version,
    nodes: state.definition.nodes.map((node) => node.id),
    steps: input.steps,
    input: input.input,
    ...sweepKeys(state, now),
  };
  const optional: Record<string, unknown> = {
    workflowId: meta.workflowId,
    workflowVersion: meta.workflowVersion,
    scheduleId: meta.scheduleId,
    idempotencyKey: meta.idempotencyKey,
    dh: meta.definitionHash,
    startedAt: state.startedAt,
    endedAt: state.endedAt,
    priority: state.priority,
    error: state.error,
    output: input.output,
    definition: input.definition,
  };
  for (const [name, value] of Object.entries(optional)) if (value !== undefined) item[name] = value;
  const ran = input.ran ?? [];
  if (input.notes.length > 0 || input.extras.length > 0 || ran.length > 0) {
    item.tlv = meta.version;
    if (input.notes.length > 0) item.tl = input.notes;
    if (input.extras.length > 0) item.tx = input.extras;
    if (ran.length > 0) item.tr = ran;
  }
  return item;
}

/** The parts of a stored job item the timeline is derived from. */
export function imageOf(item: Record<string, unknown>): JobImage {
  const steps: JobImage["steps"] = {};
  for (const [key, stored] of Object.entries((item.steps ?? {}) as Record<string, StoredStep>)) {
    steps[key] = {
      ...stepFromKey(key),
      status: stored.s,
      attempt: stored.a,
      ...(stored.o === undefined ? {} : { output: stored.o }),
      ...(stored.er === undefined ? {} : { error: stored.er }),
      ...(stored.n === undefined ? {} : { items: stored.n }),
    };
  }
  return {
    status: item.status as JobStatus,
    ...(item.error === undefined ? {} : { error: item.error as StepError }),
    ...(item.output === undefined ? {} : { output: item.output }),
    nodes: (item.nodes ?? []) as string[],
    steps,
    ...(item.tl === undefined ? {} : { tl: item.tl as NewTimelineEvent[] }),
    ...(item.tx === undefined ? {} : { tx: item.tx as NewTimelineEvent[] }),
    ...(item.tlv === undefined ? {} : { tlv: Number(item.tlv) }),
    ...(item.tr === undefined
      ? {}
      : { ran: (item.tr as [string, number][]).map(([key, attempt]) => [String(key), Number(attempt)]) }),
    version: Number(item.version ?? 0),
    seq: Number(item.seq ?? 0),
  };
}

export function metaOf(item: Record<string, unknown>): JobMeta {
  return {
    tenantId: String(item.tenantId),
    jobId: String(item.id),
    workflowName: String(item.workflowName),
    createdBy: String(item.createdBy),
    updatedAt: String(item.updatedAt),
    seq: Number(item.seq ?? 0),
    version: Number(item.version ?? 0),
    ...(item.workflowId === undefined ? {} : { workflowId: String(item.workflowId) }),
    ...(item.workflowVersion === undefined ? {} : { workflowVersion: Number(item.workflowVersion) }),
    ...(item.scheduleId === undefined ? {} : { scheduleId: String(item.scheduleId) }),
    ...(item.idempotencyKey === undefined ? {} : { idempotencyKey: String(item.idempotencyKey) }),
    ...(item.dh === undefined ? {} : { definitionHash: String(item.dh) }),
  };
}
