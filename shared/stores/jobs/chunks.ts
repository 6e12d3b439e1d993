import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { TERMINAL_STEP_STATUSES } from "#events/jobs";
import { dynamo } from "../../aws.ts";
import { tableName } from "../../db.ts";
import {
  chunkCount,
  chunkOf,
  FOREACH_CHUNK_SIZE,
  type JobState,
  type StepState,
  stepKey,
} from "../../engine/types.ts";
import { isConditionalCheckFailed } from "../../errors.ts";
import { keys } from "../../keys.ts";
import { hydrate } from "../../payloads.ts";
import {
  decodeStep,
  encodeStep,
  type LoadedChunk,
  type LoadedJob,
  type StoredStep,
  stepDueAt,
  sweepShard,
} from "./items.ts";

export type { LoadedChunk } from "./items.ts";

/**
 * A forEach node's items live in chunk items of FOREACH_CHUNK_SIZE (`T#<t>#J#<job>` / `A#FE#<node>#<chunk>`),
 * each with its own `version`, so an item's transition is one conditional write of its chunk and writers of
 * different chunks never contend. A chunk holds its items' compact steps (outputs over 128 bytes and error
 * messages over 1 KB are in S3), so it stays below 400 KB by construction. `run` is the fan-out's run (the
 * node step's attempt) that wrote the chunk, so counts from before a job retry are told apart.
 */
export const CHUNK_SK_PREFIX = "A#FE#";

export function chunkSk(nodeId: string, chunk: number): string {
  return `${CHUNK_SK_PREFIX}${nodeId}#${String(chunk).padStart(4, "0")}`;
}

export function chunkId(nodeId: string, chunk: number): string {
  return `${nodeId}#${chunk}`;
}

function chunkKey(tenantId: string, jobId: string, nodeId: string, chunk: number) {
  return { pk: keys.jobPk(tenantId, jobId), sk: chunkSk(nodeId, chunk) };
}

function fromItem(item: Record<string, unknown>): LoadedChunk {
  const nodeId = String(item.nodeId);
  const steps: Record<string, StoredStep> = {};
  for (const [index, stored] of Object.entries((item.it ?? {}) as Record<string, StoredStep>))
    steps[stepKey(nodeId, Number(index))] = stored;
  return {
    nodeId,
    chunk: Number(item.chunk),
    version: Number(item.version ?? 0),
    run: Number(item.run ?? 0),
    steps,
  };
}

const TERMINAL: readonly string[] = TERMINAL_STEP_STATUSES;

/** How many of the chunk's items have ended, and the first that failed (for a node that does not continue). */
export function chunkProgress(chunk: LoadedChunk): {
  ended: number;
  failed?: { itemIndex: number; error: { code: string; message: string } };
} {
  let ended = 0;
  let failed: { itemIndex: number; error: { code: string; message: string } } | undefined;
  for (const [key, stored] of Object.entries(chunk.steps)) {
    if (!TERMINAL.includes(stored.s)) continue;
    ended++;
    const index = Number(key.slice(key.lastIndexOf("#") + 1));
    if (stored.s === "failed" && (failed === undefined || index < failed.itemIndex))
      failed = { itemIndex: index, error: stored.er ?? { code: "ITEM_FAILED", message: "failed" } };
  }
  return { ended, ...(failed === undefined ? {} : { failed }) };
}

export async function loadChunk(
  tenantId: string,
  jobId: string,
  nodeId: string,
  chunk: number,
): Promise<LoadedChunk> {
  const { Item: item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: chunkKey(tenantId, jobId, nodeId, chunk),
      ConsistentRead: true,
    }),
  );
  return item === undefined ? { nodeId, chunk, version: 0, run: 0, steps: {} } : fromItem(item);
}

/** Every chunk of the job (of every forEach node), in key order: one paged Query. */
export async function loadChunks(tenantId: string, jobId: string): Promise<LoadedChunk[]> {
  const chunks: LoadedChunk[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": keys.jobPk(tenantId, jobId), ":prefix": CHUNK_SK_PREFIX },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) chunks.push(fromItem(item));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return chunks;
}

function decodeInto(state: JobState, chunk: LoadedChunk): void {
  for (const [key, stored] of Object.entries(chunk.steps)) state.steps[key] = decodeStep(key, stored);
}

/** Adds one chunk's items to a loaded job, for a decision about one of them. Outputs stay as stored. */
export async function withChunk(loaded: LoadedJob, nodeId: string, chunk: number): Promise<LoadedJob> {
  const found = await loadChunk(loaded.meta.tenantId, loaded.meta.jobId, nodeId, chunk);
  decodeInto(loaded.state, found);
  loaded.chunks = new Map([[chunkId(nodeId, chunk), found]]);
  return loaded;
}

/**
 * Adds every item to a loaded job: for a decision that needs them all (a job retry) or for a read. With
 * `present`, items not started yet are shown pending and items a finished job left behind are shown cancelled,
 * and outputs are hydrated.
 */
export async function withAllItems(
  loaded: LoadedJob,
  options: { present?: boolean } = {},
): Promise<LoadedJob> {
  const { state } = loaded;
  const chunks = await loadChunks(loaded.meta.tenantId, loaded.meta.jobId);
  loaded.chunks = new Map(chunks.map((c) => [chunkId(c.nodeId, c.chunk), c]));
  for (const chunk of chunks) {
    const parent = state.steps[chunk.nodeId];
    if (parent?.items === undefined) continue;
    decodeInto(state, chunk);
  }
  if (!options.present) return loaded;
  const ended = TERMINAL.includes(state.status);
  await Promise.all(
    Object.values(state.steps).map(async (parent) => {
      if (parent.itemIndex !== undefined || parent.items === undefined) return;
      for (let i = 0; i < parent.items; i++) {
        const key = stepKey(parent.nodeId, i);
        const item = state.steps[key] ?? {
          nodeId: parent.nodeId,
          itemIndex: i,
          status: "pending",
          attempt: 0,
        };
        if (ended && !TERMINAL.includes(item.status)) item.status = "cancelled";
        if (item.output !== undefined) item.output = await hydrate(item.output);
        state.steps[key] = item;
      }
    }),
  );
  return loaded;
}

/** Error messages of items are cut here: a chunk holds up to 100 of them (the full text is in S3 already). */
const ITEM_ERROR_CHARS = 1024;

async function encodeItem(tenantId: string, jobId: string, step: StepState): Promise<StoredStep> {
  const stored = await encodeStep(tenantId, jobId, step);
  if (stored.er !== undefined && stored.er.message.length > ITEM_ERROR_CHARS)
    stored.er = { ...stored.er, message: `${stored.er.message.slice(0, ITEM_ERROR_CHARS)}… (cut)` };
  return stored;
}

function sweepKeysOf(state: JobState, steps: StepState[], now: Date): Record<string, string> {
  let due: string | undefined;
  for (const step of steps) {
    const at = stepDueAt(step, now);
    if (at !== undefined && (due === undefined || at < due)) due = at;
  }
  return due === undefined ? {} : { gsi4pk: `SWEEP#${sweepShard(state.jobId)}`, gsi4sk: `${due}#C` };
}

function chunkItem(
  state: JobState,
  nodeId: string,
  chunk: number,
  run: number,
  version: number,
  steps: Record<string, StoredStep>,
  now: Date,
): Record<string, unknown> {
  const it: Record<string, StoredStep> = {};
  const decoded: StepState[] = [];
  for (const [key, stored] of Object.entries(steps)) {
    it[key.slice(key.lastIndexOf("#") + 1)] = stored;
    decoded.push(decodeStep(key, stored));
  }
  return {
    ...chunkKey(state.tenantId, state.jobId, nodeId, chunk),
    type: "jobChunk",
    tenantId: state.tenantId,
    jobId: state.jobId,
    nodeId,
    chunk,
    run,
    version,
    it,
    ...sweepKeysOf(state, decoded, now),
  };
}

export class ChunkConflictError extends Error {
  override name = "ChunkConflictError";
}

async function putChunk(
  item: Record<string, unknown>,
  condition: { expression: string; values: Record<string, unknown> },
) {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: item,
        ConditionExpression: condition.expression,
        ...(condition.expression.includes("#v")
          ? {
              ExpressionAttributeNames: {
                "#v": "version",
                ...(condition.expression.includes("#run") ? { "#run": "run" } : {}),
              },
            }
          : {}),
        ...(Object.keys(condition.values).length > 0 ? { ExpressionAttributeValues: condition.values } : {}),
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) throw new ChunkConflictError(String(item.sk));
    throw error;
  }
}

/** Runs `work` over `list`, at most `limit` at a time. */
async function inParallel<T>(list: T[], limit: number, work: (value: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, list.length) }, async () => {
    while (next < list.length) await work(list[next++] as T);
  });
  await Promise.all(lanes);
}

/**
 * Writes the item steps a decision changed into their chunks, before the job item is written:
 * - a chunk the decision was taken on: one PutItem conditioned on the version it was read at;
 * - a fan-out that starts now (or a new run of it): every chunk of the node is created, conditioned on not
 *   existing yet or being an untouched copy from a try of the same decision that lost its race;
 * - items a job-level decision started (a window moving on): one UpdateItem per chunk that adds them where
 *   they are not yet, so the writers of the chunk's other items are not overwritten.
 * A chunk whose condition fails throws ChunkConflictError: the caller decides again on fresh state.
 */
export async function writeChunks(
  loaded: LoadedJob,
  state: JobState,
  changed: StepState[],
  now: Date,
): Promise<void> {
  const byChunk = new Map<string, { nodeId: string; chunk: number; steps: StepState[] }>();
  for (const step of changed) {
    if (step.itemIndex === undefined) continue;
    const chunk = chunkOf(step.itemIndex);
    const id = chunkId(step.nodeId, chunk);
    const entry = byChunk.get(id) ?? { nodeId: step.nodeId, chunk, steps: [] };
    entry.steps.push(step);
    byChunk.set(id, entry);
  }
  const fannedOut = new Set<string>();
  for (const [nodeId, parent] of Object.entries(state.steps)) {
    if (parent.itemIndex !== undefined || parent.items === undefined) continue;
    const before = loaded.state.steps[nodeId];
    if (before?.items === undefined || before.attempt !== parent.attempt) fannedOut.add(nodeId);
  }
  const encode = async (steps: StepState[]) => {
    const out: Record<string, StoredStep> = {};
    await Promise.all(
      steps.map(async (step) => {
        out[stepKey(step.nodeId, step.itemIndex)] = await encodeItem(state.tenantId, state.jobId, step);
      }),
    );
    return out;
  };

  const work: (() => Promise<void>)[] = [];
  const rewrite = (id: string, known: LoadedChunk, run: number, mine: StepState[]) =>
    work.push(async () => {
      const steps = { ...known.steps, ...(await encode(mine)) };
      const item = chunkItem(state, known.nodeId, known.chunk, run, known.version + 1, steps, now);
      await putChunk(
        item,
        known.version === 0
          ? { expression: "attribute_not_exists(pk)", values: {} }
          : { expression: "#v = :v", values: { ":v": known.version } },
      );
      known.version += 1;
      known.run = run;
      known.steps = steps;
      loaded.chunks?.set(id, known);
    });
  for (const nodeId of fannedOut) {
    const parent = state.steps[nodeId] as StepState;
    const run = parent.attempt;
    for (let chunk = 0; chunk < chunkCount(parent.items ?? 0); chunk++) {
      const id = chunkId(nodeId, chunk);
      const mine = byChunk.get(id)?.steps ?? [];
      const known = loaded.chunks?.get(id);
      // A new run of a fan-out rewrites every chunk it read, so all of them carry the run.
      if (known !== undefined) {
        rewrite(id, known, run, mine);
        continue;
      }
      work.push(async () => {
        await putChunk(chunkItem(state, nodeId, chunk, run, 1, await encode(mine), now), {
          expression: "attribute_not_exists(pk) OR (#v = :one AND #run = :run)",
          values: { ":one": 1, ":run": run },
        });
      });
    }
  }
  for (const [id, entry] of byChunk) {
    if (fannedOut.has(entry.nodeId)) continue;
    const known = loaded.chunks?.get(id);
    if (known !== undefined) rewrite(id, known, known.run, entry.steps);
    else work.push(() => addItems(state, entry.nodeId, entry.chunk, entry.steps, now));
  }
  await inParallel(work, 8, (task) => task());
}

/** Adds newly started items to a chunk without reading it; an item already there (a lost try's) is kept. */
async function addItems(state: JobState, nodeId: string, chunk: number, steps: StepState[], now: Date) {
  for (const step of steps) {
    const stored = await encodeItem(state.tenantId, state.jobId, step);
    const due = stepDueAt(step, now);
    try {
      await dynamo().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: chunkKey(state.tenantId, state.jobId, nodeId, chunk),
          UpdateExpression: `SET it.#i = :step, #v = #v + :one${due === undefined ? "" : ", gsi4pk = if_not_exists(gsi4pk, :spk), gsi4sk = if_not_exists(gsi4sk, :ssk)"}`,
          ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(it.#i)",
          ExpressionAttributeNames: { "#i": String(step.itemIndex), "#v": "version" },
          ExpressionAttributeValues: {
            ":step": stored,
            ":one": 1,
            ...(due === undefined ? {} : { ":spk": `SWEEP#${sweepShard(state.jobId)}`, ":ssk": `${due}#C` }),
          },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}

/** Takes a chunk off the sweep index (its job has ended). */
export async function unsweepChunk(tenantId: string, jobId: string, nodeId: string, chunk: number) {
  await dynamo()
    .send(
      new UpdateCommand({
        TableName: tableName(),
        Key: chunkKey(tenantId, jobId, nodeId, chunk),
        UpdateExpression: "REMOVE gsi4pk, gsi4sk",
        ConditionExpression: "attribute_exists(pk)",
      }),
    )
    .catch((error: Error) => {
      if (!isConditionalCheckFailed(error)) throw error;
    });
}

export { FOREACH_CHUNK_SIZE };
