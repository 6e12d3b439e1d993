import { createHash } from "node:crypto";
import { BatchWriteCommand, GetCommand, PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { NewTimelineEvent } from "#events/timeline";
import type { WorkflowDefinition } from "#events/workflow";
import { dynamo } from "../../aws.ts";
import { epochSeconds, nowIso, tableName } from "../../db.ts";
import type { Decision, JobState } from "../../engine/types.ts";
import { AppError, isConditionalCheckFailed, isTransactionConflict } from "../../errors.ts";
import { timelineOf } from "../../jobs/timeline.ts";
import { keys } from "../../keys.ts";
import { type AuditEntry, auditItem } from "../audit.ts";
import { ChunkConflictError, writeChunks } from "./chunks.ts";
import {
  encodeStep,
  imageOf,
  type JobMeta,
  jobItem,
  type LoadedJob,
  offloadJobValue,
  type StoredStep,
} from "./items.ts";
import { definitionStored, rememberDefinition } from "./reads.ts";
import { summaryItem } from "./summary.ts";

export class ConcurrentUpdateError extends Error {
  override name = "ConcurrentUpdateError";
}

/** Idempotency keys are kept this long, then DynamoDB's TTL removes them. */
const IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;

export interface CreateJobInput {
  tenantId: string;
  jobId: string;
  createdBy: string;
  definition: WorkflowDefinition;
  workflowId?: string;
  workflowVersion?: number;
  input: unknown;
  idempotencyKey?: string;
  /** What the key stands for: a hash of the request, so a reuse with another body is told apart. */
  requestHash?: string;
  scheduleId?: string;
  /** Written in the same request as the job, when the job is created. */
  audit?: AuditEntry;
}

/** A stable hash of a request body: the same JSON with keys in any order gives the same hash. */
export function requestHash(body: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.keys(value as object)
          .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return createHash("sha256")
    .update(JSON.stringify(canonical(body)))
    .digest("hex");
}

export { SUMMARY_FIELDS, summaryItem } from "./summary.ts";

/** Names an inline definition by its content (96 bits are plenty within one tenant's cache). */
export function definitionHash(definition: WorkflowDefinition): string {
  return requestHash(definition).slice(0, 24);
}

/** The job item's steps: node-level only, since forEach items live in their chunks. */
async function encodeSteps(state: JobState, only?: Set<string>, reuse: Record<string, StoredStep> = {}) {
  const steps: Record<string, StoredStep> = {};
  await Promise.all(
    Object.entries(state.steps).map(async ([key, step]) => {
      if (step.itemIndex !== undefined) return;
      const kept = reuse[key];
      steps[key] =
        only !== undefined && !only.has(key) && kept !== undefined
          ? kept
          : await encodeStep(state.tenantId, state.jobId, step);
    }),
  );
  return steps;
}

/**
 * Writes a new job: its item, its list summary, and its definition when it did not come from a stored
 * workflow (a job from a workflow references that immutable version instead of copying it). With an
 * idempotency key the write is one transaction that also claims the key; when the key is taken by the same
 * request, the existing job's id is returned, and by another request it is a 409.
 */
export async function insertJob(
  input: CreateJobInput,
  decision: Decision,
  notes: NewTimelineEvent[],
  now: Date,
  /** Attempts the start ran itself before this first write (see runAtStart). */
  ran: [string, number][] = [],
): Promise<{ created: true; item: Record<string, unknown> } | { created: false; jobId: string }> {
  const state = decision.state;
  const steps = await encodeSteps(state);
  const storedInput = await offloadJobValue(input.tenantId, input.jobId, "input", state.input);
  const output =
    state.output === undefined
      ? undefined
      : await offloadJobValue(input.tenantId, input.jobId, "output", state.output);
  const meta: JobMeta = {
    tenantId: input.tenantId,
    jobId: input.jobId,
    workflowName: input.definition.name,
    createdBy: input.createdBy,
    updatedAt: nowIso(now),
    seq: 0,
    version: 1,
    ...(input.workflowId === undefined ? {} : { workflowId: input.workflowId }),
    ...(input.workflowVersion === undefined ? {} : { workflowVersion: input.workflowVersion }),
    ...(input.scheduleId === undefined ? {} : { scheduleId: input.scheduleId }),
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    ...(input.workflowId === undefined ? { definitionHash: definitionHash(input.definition) } : {}),
  };
  const item = jobItem({ meta, state, steps, input: storedInput, output, notes, extras: [], ran, now });
  item.seq = timelineOf(undefined, imageOf(item)).length;
  // A job that fans out at once: its chunks first, so no item message can name a chunk that is not there.
  const blank: LoadedJob = {
    state: { ...state, steps: {} },
    meta,
    item: {},
  };
  await writeChunks(blank, state, decision.changedSteps, now).catch((error: unknown) => {
    // A new job id's chunks exist only if this very write ran before: a conflict means nothing.
    if (!(error instanceof ChunkConflictError)) throw error;
  });
  const puts: Record<string, unknown>[] = [item, summaryItem(item)];
  const hash = meta.definitionHash;
  // An inline definition is stored once per content; the jobs after the first only name it (`dh`).
  const definitionItem =
    hash === undefined || definitionStored(input.tenantId, hash)
      ? undefined
      : { ...keys.definition(input.tenantId, hash), type: "jobDefinition", definition: input.definition };
  const stored = () => {
    if (hash !== undefined && definitionItem !== undefined)
      rememberDefinition(input.tenantId, hash, input.definition);
  };
  if (definitionItem !== undefined && input.idempotencyKey === undefined) puts.push(definitionItem);
  else if (definitionItem !== undefined) {
    // Not in the transaction: concurrent starts of one definition would conflict on it. Written first,
    // and the same whoever writes it, so a transaction that then fails leaves nothing wrong behind.
    await dynamo().send(new PutCommand({ TableName: tableName(), Item: definitionItem }));
    stored();
  }
  if (input.audit !== undefined) puts.push(auditItem(input.audit));
  if (input.idempotencyKey === undefined) {
    await dynamo()
      .send(
        new BatchWriteCommand({
          RequestItems: { [tableName()]: puts.map((Item) => ({ PutRequest: { Item } })) },
        }),
      )
      .then(async (result) => {
        const left = result.UnprocessedItems?.[tableName()] ?? [];
        // Rare (throttling); one item at a time is enough to finish.
        for (const request of left) {
          const Item = request.PutRequest?.Item;
          if (Item !== undefined) await dynamo().send(new PutCommand({ TableName: tableName(), Item }));
        }
      });
    stored();
    return { created: true, item };
  }
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: {
                ...keys.idempotency(input.tenantId, input.idempotencyKey),
                type: "idempotency",
                jobId: input.jobId,
                ...(input.requestHash === undefined ? {} : { requestHash: input.requestHash }),
                ttl: epochSeconds(now) + IDEMPOTENCY_TTL_SECONDS,
              },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          ...puts.map((Item) => ({ Put: { TableName: tableName(), Item } })),
        ],
      }),
    );
  } catch (error) {
    if (!isTransactionConflict(error)) throw error;
    const existing = await findIdempotencyKey(input.tenantId, input.idempotencyKey);
    if (existing === undefined) throw error;
    if (input.requestHash !== undefined && existing.requestHash !== input.requestHash) {
      throw new AppError(
        409,
        "IDEMPOTENCY_CONFLICT",
        `idempotencyKey "${input.idempotencyKey}" was already used for job ${existing.jobId} with a different request body`,
        { jobId: existing.jobId },
      );
    }
    return { created: false, jobId: existing.jobId };
  }
  return { created: true, item };
}

export async function findIdempotencyKey(
  tenantId: string,
  key: string,
): Promise<{ jobId: string; requestHash?: string } | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.idempotency(tenantId, key), ConsistentRead: true }),
  );
  if (Item === undefined) return undefined;
  return {
    jobId: String(Item.jobId),
    ...(Item.requestHash === undefined ? {} : { requestHash: String(Item.requestHash) }),
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Writes a decision taken on `loaded` as ONE conditional write of the job item, conditioned on the version it
 * was loaded at, so two workers deciding on the same job cannot both win: the loser gets
 * ConcurrentUpdateError, reloads and decides again. Unchanged steps keep their stored form (no re-upload);
 * the timeline of the commit is derived from the item later, by the stream consumer.
 */
export async function commitDecision(
  loaded: LoadedJob,
  decision: Decision,
  now: Date,
  extras: NewTimelineEvent[] = [],
  ran: [string, number][] = [],
): Promise<void> {
  const { meta, item: before } = loaded;
  const after = decision.state;
  const items = decision.changedSteps.filter((step) => step.itemIndex !== undefined);
  if (items.length > 0) {
    try {
      await writeChunks(loaded, after, items, now);
    } catch (error) {
      if (error instanceof ChunkConflictError)
        throw new ConcurrentUpdateError(`A chunk of job ${meta.jobId} changed concurrently`);
      throw error;
    }
  }
  const jobLevel = decision.changedSteps.some((step) => step.itemIndex === undefined);
  if (
    !jobLevel &&
    !decision.jobChanged &&
    decision.notes.length === 0 &&
    extras.length === 0 &&
    ran.length === 0
  ) {
    // An item's transition: its chunk is the whole commit.
    loaded.state = after;
    return;
  }
  const changed = new Set(
    decision.changedSteps.map((s) => (s.itemIndex === undefined ? s.nodeId : `${s.nodeId}#${s.itemIndex}`)),
  );
  const steps = await encodeSteps(after, changed, (before.steps ?? {}) as Record<string, StoredStep>);
  const output =
    after.output === undefined
      ? undefined
      : sameValue(after.output, loaded.state.output) && before.output !== undefined
        ? before.output
        : await offloadJobValue(meta.tenantId, meta.jobId, "output", after.output);
  const next: JobMeta = { ...meta, version: meta.version + 1, updatedAt: nowIso(now) };
  const notes: NewTimelineEvent[] = decision.notes.map((note) => ({
    type: "job.note",
    message: note.message,
    ...(note.nodeId === undefined ? {} : { nodeId: note.nodeId }),
  }));
  const item = jobItem({
    meta: next,
    state: after,
    steps,
    input: before.input,
    output,
    ...(before.definition === undefined ? {} : { definition: before.definition as WorkflowDefinition }),
    notes,
    extras,
    ran,
    now,
  });
  item.seq = meta.seq + timelineOf(imageOf(before), imageOf(item)).length;
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: item,
        ConditionExpression: "#version = :version",
        ExpressionAttributeNames: { "#version": "version" },
        ExpressionAttributeValues: { ":version": meta.version },
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error))
      throw new ConcurrentUpdateError(`Job ${meta.jobId} changed concurrently`);
    throw error;
  }
  loaded.meta = { ...next, seq: Number(item.seq) };
  loaded.state = after;
  loaded.item = item;
}
