import {
  type JobStatus,
  type StepError,
  type StepStatus,
  TERMINAL_JOB_STATUSES,
  TERMINAL_STEP_STATUSES,
} from "#events/jobs";
import type { RetryPolicy, WorkflowNode } from "#events/workflow";
import { type ExpressionContext, isTruthy, resolveTemplate } from "#shared/engine/expressions";
import { nodeKind, type StepStart } from "#shared/engine/nodes/index";
import {
  type Command,
  chunkCount,
  chunkOf,
  type Decision,
  type EngineEvent,
  FOREACH_CHUNK_SIZE,
  type JobState,
  type StepState,
  stepKey,
} from "#shared/engine/types";
import { graphProblems } from "#shared/engine/validate";

/** SQS caps a message's delay at 15 minutes; longer waits are re-sent by the worker until notBefore. */
export const MAX_DELAY_SECONDS = 900;
/**
 * Without maxIntervalSeconds, backoff grows without bound (10^19 × a day is a valid policy); no retry
 * waits longer than the largest maxIntervalSeconds the schema allows.
 */
export const MAX_RETRY_DELAY_SECONDS = 86_400;
/** A fan-out larger than this is almost surely a mistake; its items live in chunk items of the table. */
export const MAX_FOREACH_ITEMS = 10_000;

export interface DecideOptions {
  /** Source of randomness for retry jitter, in [0, 1). Defaults to Math.random. */
  random?: () => number;
  /**
   * A fan-out over more than one chunk of items queues its node's own step instead of fanning out, and a
   * worker fans it out with `fanOut`: the API that starts a job then writes no chunk items.
   */
  deferWideFanOut?: boolean;
}

type Note = Decision["notes"][number];

/** Everything one call of `decide` works on: the state being changed and what it has to say. */
interface Turn {
  state: JobState;
  now: Date;
  at: string;
  random: () => number;
  commands: Command[];
  notes: Note[];
  nodes: Map<string, WorkflowNode>;
  deferWideFanOut?: boolean;
}

export function isTerminalJob(status: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.includes(status);
}

export function isTerminalStep(status: StepStatus): boolean {
  return TERMINAL_STEP_STATUSES.includes(status);
}

export function getNode(state: JobState, nodeId: string): WorkflowNode | undefined {
  return state.definition.nodes.find((n) => n.id === nodeId);
}

/**
 * Seconds to wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
 * `min(intervalSeconds × backoffRate^(attempt-1), maxIntervalSeconds, 1 day)`, then "equal jitter": half of that
 * is kept and the other half is random, so the wait is in [capped / 2, capped] and never above the cap.
 * Equal rather than full jitter, so a retry never fires almost at once after a failure.
 */
export function retryDelaySeconds(
  policy: Partial<RetryPolicy> | undefined,
  attempt: number,
  random: () => number = Math.random,
): number {
  const interval = policy?.intervalSeconds ?? 1;
  const rate = policy?.backoffRate ?? 2;
  const base = interval * rate ** Math.max(0, attempt - 1);
  const capped = Math.min(
    base,
    policy?.maxIntervalSeconds ?? MAX_RETRY_DELAY_SECONDS,
    MAX_RETRY_DELAY_SECONDS,
  );
  const delay = policy?.jitter === false ? capped : capped / 2 + random() * (capped / 2);
  // Whole milliseconds, rounded down so the cap holds.
  return Math.min(capped, Math.floor(delay * 1000) / 1000);
}

/**
 * The expression context for a node: `$input`, `$steps` (node-level steps only; a forEach node's output is
 * its array of item outputs), `$item` and `$index` for an item step (the item comes from the array the
 * forEach parent fanned out over, kept in the parent's `input`), `$job` and `$attempt`.
 */
export function buildContext(
  state: JobState,
  where: { nodeId?: string; itemIndex?: number; attempt?: number } = {},
  now?: Date,
): ExpressionContext {
  const steps: NonNullable<ExpressionContext["steps"]> = {};
  for (const node of state.definition.nodes) {
    const step = state.steps[node.id];
    if (!step) continue;
    steps[node.id] = {
      status: step.status,
      output: step.output,
      ...(step.error ? { error: step.error } : {}),
    };
  }
  const ctx: ExpressionContext = {
    input: state.input,
    steps,
    job: {
      id: state.jobId,
      tenantId: state.tenantId,
      createdAt: state.createdAt,
      workflowName: state.definition.name,
    },
  };
  if (where.nodeId !== undefined && where.itemIndex !== undefined) {
    const items = state.steps[where.nodeId]?.input;
    ctx.item = Array.isArray(items) ? items[where.itemIndex] : undefined;
    ctx.index = where.itemIndex;
  }
  if (where.attempt !== undefined) ctx.attempt = where.attempt;
  if (now) ctx.now = now;
  return ctx;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A job takes step events until it ends. "queued" counts too: the stores may keep a started job queued
 * until a worker first claims one of its steps, and a job that never started has no steps to match.
 */
function isActive(t: Turn): boolean {
  return !isTerminalJob(t.state.status);
}

function isSatisfied(t: Turn, step: StepState): boolean {
  if (step.status === "succeeded") return true;
  return step.status === "failed" && t.nodes.get(step.nodeId)?.onError === "continue";
}

/** A forEach node's own step, once it has fanned out. */
function isAggregate(step: StepState): boolean {
  return step.itemIndex === undefined && step.items !== undefined;
}

function withItem<T extends object>(value: T, itemIndex: number | undefined): T & { itemIndex?: number } {
  return itemIndex === undefined ? value : { ...value, itemIndex };
}

function label(step: StepState): string {
  return step.itemIndex === undefined ? `"${step.nodeId}"` : `"${step.nodeId}" item ${step.itemIndex}`;
}

function note(t: Turn, nodeId: string | undefined, message: string): void {
  t.notes.push(nodeId === undefined ? { message } : { nodeId, message });
}

function addSeconds(t: Turn, seconds: number): string {
  return new Date(t.now.getTime() + seconds * 1000).toISOString();
}

function clearRun(step: StepState): void {
  delete step.startedAt;
  delete step.endedAt;
  delete step.notBefore;
  delete step.leaseUntil;
  delete step.taskArn;
  delete step.requeues;
}

function queueStep(t: Turn, step: StepState, attempt: number, delaySeconds: number): void {
  clearRun(step);
  step.status = "queued";
  step.attempt = attempt;
  step.queuedAt = t.at;
  if (delaySeconds > 0) step.notBefore = addSeconds(t, delaySeconds);
  const delay = Math.min(MAX_DELAY_SECONDS, Math.ceil(delaySeconds));
  t.commands.push(
    withItem({ type: "run", nodeId: step.nodeId, attempt, delaySeconds: delay }, step.itemIndex) as Command,
  );
}

function succeedStep(t: Turn, step: StepState, output: unknown): void {
  step.status = "succeeded";
  step.output = output;
  step.endedAt = t.at;
  delete step.error;
  delete step.notBefore;
  delete step.leaseUntil;
}

function skipStep(t: Turn, step: StepState, why: string): void {
  step.status = "skipped";
  step.endedAt = t.at;
  note(t, step.nodeId, `${label(step)} skipped: ${why}`);
}

/**
 * The job fails because of one node. Steps that have not started are cancelled; running ones are left to
 * finish (their results are ignored now), except that fargate tasks are stopped and a forEach node's own
 * step, which runs nothing itself, is cancelled.
 */
function failJob(t: Turn, nodeId: string, error: StepError): void {
  const s = t.state;
  s.status = "failed";
  s.error = { code: error.code, message: `node "${nodeId}" failed: ${error.message}` };
  s.endedAt = t.at;
  for (const step of Object.values(s.steps)) {
    if (step.status === "running") {
      if (isAggregate(step)) cancelStep(t, step);
      else if (step.taskArn) stopTask(t, step);
    } else if (!isTerminalStep(step.status)) cancelStep(t, step);
  }
  note(t, nodeId, s.error.message);
}

function cancelStep(t: Turn, step: StepState): void {
  step.status = "cancelled";
  step.endedAt = t.at;
  delete step.notBefore;
}

function stopTask(t: Turn, step: StepState): void {
  if (!step.taskArn) return;
  t.commands.push(
    withItem({ type: "stopTask", nodeId: step.nodeId, taskArn: step.taskArn }, step.itemIndex) as Command,
  );
}

/** Cancel and timeout end everything that has not ended, and stop the fargate tasks among them. */
function endJob(t: Turn, status: "cancelled" | "timed_out", error: StepError): void {
  const s = t.state;
  s.status = status;
  s.error = error;
  s.endedAt = t.at;
  for (const step of Object.values(s.steps)) {
    if (isTerminalStep(step.status)) continue;
    stopTask(t, step);
    cancelStep(t, step);
  }
  note(t, undefined, error.message);
}

/**
 * An attempt failed. Retry when the error allows it and attempts remain; otherwise the step fails, and
 * with it the forEach node (for an item) and the job, unless the node says `onError: "continue"`.
 */
function failStep(t: Turn, node: WorkflowNode, step: StepState, error: StepError, retryable: boolean): void {
  const maxAttempts = node.retry?.maxAttempts ?? 1;
  const made = step.attempt - (step.runFrom ?? 0);
  if (retryable && nodeKind(node.type)?.retryable === true && made >= 1 && made < maxAttempts) {
    const delay = retryDelaySeconds(node.retry, step.attempt, t.random);
    step.error = error;
    note(
      t,
      node.id,
      `${label(step)} attempt ${step.attempt} failed (${error.code}: ${error.message}); retrying in ${delay}s`,
    );
    queueStep(t, step, step.attempt + 1, delay);
    return;
  }
  const proceed = node.onError === "continue";
  step.status = "failed";
  step.error = error;
  step.endedAt = t.at;
  delete step.notBefore;
  delete step.leaseUntil;
  if (proceed) {
    step.output = { error };
    note(
      t,
      node.id,
      `${label(step)} failed (${error.code}: ${error.message}); continuing (onError: continue)`,
    );
    return;
  }
  // An item that failed for good fails its node and the job through `itemsEnded`, decided on the job item:
  // a decision on an item sees and writes only that item's chunk.
  if (step.itemIndex !== undefined) return;
  failJob(t, node.id, error);
}

/** Starts one runnable step (a plain node's step or one forEach item) as its node's kind says. */
async function startStep(t: Turn, node: WorkflowNode, step: StepState): Promise<void> {
  const attempt = step.attempt + 1;
  const kind = nodeKind(node.type);
  const context = () => buildContext(t.state, { nodeId: node.id, itemIndex: step.itemIndex, attempt }, t.now);
  let how: StepStart = { type: "queue" };
  if (kind === undefined)
    how = {
      type: "fail",
      error: { code: "UNKNOWN_NODE_TYPE", message: `there is no node type "${node.type}"` },
    };
  else if (kind.start) how = await kind.start(node, { context, now: t.now });
  switch (how.type) {
    case "queue":
      queueStep(t, step, attempt, 0);
      return;
    case "fail":
      step.attempt = attempt;
      failStep(t, node, step, how.error, false);
      return;
    case "wait": {
      clearRun(step);
      step.status = "waiting";
      step.attempt = attempt;
      step.queuedAt = t.at;
      step.startedAt = t.at;
      step.notBefore = new Date(how.until).toISOString();
      const remaining = Math.max(0, Math.ceil((how.until - t.now.getTime()) / 1000));
      t.commands.push(
        withItem(
          { type: "run", nodeId: node.id, attempt, delaySeconds: Math.min(remaining, MAX_DELAY_SECONDS) },
          step.itemIndex,
        ) as Command,
      );
      return;
    }
    case "approval":
      clearRun(step);
      step.status = "waiting_approval";
      step.attempt = attempt;
      step.queuedAt = t.at;
      step.startedAt = t.at;
      t.commands.push(
        withItem(
          { type: "requestApproval", nodeId: node.id, message: how.message },
          step.itemIndex,
        ) as Command,
      );
      return;
  }
}

/** A node whose parents are all done: check `if`, fan out on `forEach`, or start its single step. */
async function startNode(t: Turn, node: WorkflowNode, step: StepState, checkIf = true): Promise<void> {
  const ctx = () => buildContext(t.state, { nodeId: node.id }, t.now);
  if (checkIf && node.if !== undefined) {
    let pass: boolean;
    try {
      pass = isTruthy(await resolveTemplate(node.if, ctx()));
    } catch (err) {
      failStep(t, node, step, { code: "EXPRESSION_ERROR", message: `if: ${errorMessage(err)}` }, false);
      return;
    }
    if (!pass) {
      skipStep(t, step, "condition was false");
      return;
    }
  }
  if (node.forEach === undefined) {
    await startStep(t, node, step);
    return;
  }
  let items: unknown;
  try {
    items = await resolveTemplate(node.forEach, ctx());
  } catch (err) {
    failStep(t, node, step, { code: "EXPRESSION_ERROR", message: `forEach: ${errorMessage(err)}` }, false);
    return;
  }
  if (!Array.isArray(items)) {
    const got =
      items === undefined
        ? "nothing (the expression matched no value)"
        : items === null
          ? "null"
          : `a ${typeof items}`;
    failStep(
      t,
      node,
      step,
      { code: "FOREACH_NOT_ARRAY", message: `forEach must give an array, got ${got}` },
      false,
    );
    return;
  }
  if (items.length > MAX_FOREACH_ITEMS) {
    const message = `forEach gave ${items.length} items; the limit is ${MAX_FOREACH_ITEMS}`;
    failStep(t, node, step, { code: "FOREACH_TOO_LARGE", message }, false);
    return;
  }
  if (t.deferWideFanOut && items.length > FOREACH_CHUNK_SIZE) {
    // Its chunks are many writes: a worker makes them, on the node step's own message (see onFanOut).
    queueStep(t, step, step.attempt + 1, 0);
    return;
  }
  clearRun(step);
  step.status = "running";
  step.attempt += 1;
  step.items = items.length;
  step.input = items;
  step.window = Math.min(items.length, node.maxConcurrency ?? items.length);
  step.started = 0;
  step.ended = new Array(chunkCount(items.length)).fill(0);
  delete step.pick;
  step.queuedAt = t.at;
  step.startedAt = t.at;
  // The items themselves start in progressForEach, which also completes an empty fan-out.
  await progressForEach(t, node, step);
}

/** Items of a fan-out that ended, by the counts the job item keeps per chunk. */
export function endedItems(parent: StepState): number {
  return (parent.ended ?? []).reduce((sum, n) => sum + n, 0);
}

/** Whether recording `ended` items for `chunk` would end the whole fan-out (so the join needs the outputs). */
export function endsFanOut(parent: StepState, chunk: number, ended: number): boolean {
  const counts = [...(parent.ended ?? [])];
  counts[chunk] = Math.max(counts[chunk] ?? 0, ended);
  return counts.reduce((sum, n) => sum + n, 0) >= (parent.items ?? 0);
}

/** The index of the `n`-th item to start: in item order, or in `pick` order after a job retry. */
function nthItem(parent: StepState, n: number): number {
  return parent.pick === undefined ? n : (parent.pick[n] as number);
}

function toStart(parent: StepState): number {
  return parent.pick === undefined ? (parent.items ?? 0) : parent.pick.length;
}

/**
 * Starts a forEach node's next items while fewer than its window run, and, once every item has ended, joins
 * their outputs (handed in by the `itemsEnded` event that ended the last chunk) into the node's output. It
 * reads only the node's counters: the items themselves live in chunk items and are not in the state.
 */
async function progressForEach(
  t: Turn,
  node: WorkflowNode,
  parent: StepState,
  outputs?: unknown[],
): Promise<boolean> {
  const count = parent.items ?? 0;
  const ended = parent.ended ?? [];
  let changed = false;
  const window = parent.window ?? count;
  const started = () => parent.started ?? 0;
  const endedNow = () => ended.reduce((sum, n) => sum + n, 0);
  const kept = count - toStart(parent);
  while (started() < toStart(parent) && started() - (endedNow() - kept) < window) {
    const index = nthItem(parent, started());
    parent.started = started() + 1;
    const key = stepKey(node.id, index);
    const before = t.state.steps[key];
    const item: StepState = before ?? { nodeId: node.id, itemIndex: index, status: "pending", attempt: 0 };
    t.state.steps[key] = item;
    await startStep(t, node, item);
    changed = true;
    if (isTerminalStep(item.status)) {
      const chunk = chunkOf(index);
      ended[chunk] = (ended[chunk] ?? 0) + 1;
      parent.ended = ended;
      if (item.status === "failed" && node.onError !== "continue") {
        failForEach(t, node, parent, index, item.error ?? { code: "ITEM_FAILED", message: "failed" });
        return true;
      }
    }
  }
  if (endedNow() < count) return changed;
  const joined = count === 0 ? [] : outputs;
  if (joined === undefined) return changed;
  succeedStep(t, parent, joined);
  return true;
}

function failForEach(t: Turn, node: WorkflowNode, parent: StepState, index: number, error: StepError): void {
  const parentError = { code: error.code, message: `item ${index} failed: ${error.message}` };
  parent.status = "failed";
  parent.error = parentError;
  parent.endedAt = t.at;
  failJob(t, node.id, parentError);
}

/**
 * Items of one chunk ended. The count merges by maximum, so a repeated or late event changes nothing. A
 * failure fails the node and the job (unless the node continues on error); the event that ends the last
 * chunk carries the outputs the join needs.
 */
async function onItemsEnded(t: Turn, e: StepEvent<"itemsEnded">): Promise<boolean> {
  const found = isActive(t) ? findStep(t, e.nodeId, undefined) : undefined;
  if (!found) return false;
  const [node, parent] = found;
  if (!isAggregate(parent) || parent.status !== "running" || parent.attempt !== e.run) return false;
  if (e.failure !== undefined && node.onError !== "continue") {
    failForEach(t, node, parent, e.failure.itemIndex, e.failure.error);
    return true;
  }
  const ended = [...(parent.ended ?? [])];
  const before = ended[e.chunk] ?? 0;
  if (e.ended > before) {
    ended[e.chunk] = e.ended;
    parent.ended = ended;
  }
  const fresh = (e.endedItems ?? []).filter((i) => !(parent.reported ?? []).includes(i));
  if (fresh.length > 0) parent.reported = [...(parent.reported ?? []), ...fresh].sort((a, b) => a - b);
  const moved = await progressForEach(t, node, parent, e.outputs);
  return e.ended > before || fresh.length > 0 || moved;
}

/** Moves every node whose parents are done, until nothing moves, then settles the job's status. */
async function advance(t: Turn): Promise<void> {
  let progressed = true;
  while (progressed && isActive(t)) {
    progressed = false;
    for (const node of t.state.definition.nodes) {
      if (!isActive(t)) break;
      const step = t.state.steps[node.id];
      if (!step) continue;
      if (step.status === "running" && isAggregate(step)) {
        if (await progressForEach(t, node, step)) progressed = true;
        continue;
      }
      if (step.status !== "pending") continue;
      const parents = (node.dependsOn ?? []).map((id) => t.state.steps[id]);
      if (parents.some((p) => !p || !isTerminalStep(p.status))) continue;
      progressed = true;
      const present = parents as StepState[];
      if (present.length > 0 && !present.some((p) => isSatisfied(t, p))) {
        const states = present.map((p) => `${p.nodeId}: ${p.status}`).join(", ");
        skipStep(t, step, `no parent succeeded (${states})`);
        continue;
      }
      await startNode(t, node, step);
    }
  }
  await settleJob(t);
}

/** Outputs of the nodes nothing depends on, keyed by node id: the job's output when none is declared. */
function leafOutputs(t: Turn): Record<string, unknown> {
  const parents = new Set(t.state.definition.nodes.flatMap((n) => n.dependsOn ?? []));
  const out: Record<string, unknown> = {};
  for (const node of t.state.definition.nodes) {
    const output = t.state.steps[node.id]?.output;
    if (!parents.has(node.id) && output !== undefined) out[node.id] = output;
  }
  return out;
}

async function settleJob(t: Turn): Promise<void> {
  if (!isActive(t)) return;
  const s = t.state;
  const steps = Object.values(s.steps);
  if (steps.every((step) => isTerminalStep(step.status))) {
    const failed = steps.find((step) => step.status === "failed" && !isSatisfied(t, step));
    if (failed) {
      failJob(t, failed.nodeId, failed.error ?? { code: "FAILED", message: "failed" });
      return;
    }
    try {
      s.output =
        s.definition.output === undefined
          ? leafOutputs(t)
          : await resolveTemplate(s.definition.output, buildContext(s, {}, t.now));
    } catch (err) {
      s.status = "failed";
      s.error = { code: "OUTPUT_ERROR", message: `output: ${errorMessage(err)}` };
      s.endedAt = t.at;
      note(t, undefined, s.error.message);
      return;
    }
    s.status = "succeeded";
    s.endedAt = t.at;
    return;
  }
  // A running fan-out is working: its items are in chunk items, not in this state.
  const working = steps.some((step) => step.status === "queued" || step.status === "running");
  if (working) {
    s.status = "running";
    return;
  }
  if (steps.some((step) => step.status === "waiting" || step.status === "waiting_approval")) {
    s.status = "waiting";
    return;
  }
  // Unreachable for a valid graph: something is pending, yet nothing runs or waits to unblock it.
  s.status = "failed";
  s.error = {
    code: "ENGINE_STUCK",
    message: "no step can run: the workflow graph is inconsistent with the job's steps",
  };
  s.endedAt = t.at;
  note(t, undefined, s.error.message);
}

function onStart(t: Turn): boolean {
  const s = t.state;
  // A re-run starts with the steps it keeps, already succeeded or skipped; any other step means it started.
  const seeded = (step: StepState) => step.status === "succeeded" || step.status === "skipped";
  if (s.status !== "queued" || !Object.values(s.steps).every(seeded)) return false;
  s.startedAt = t.at;
  const problems = graphProblems(s.definition);
  if (problems.length > 0) {
    s.status = "failed";
    s.error = { code: "INVALID_WORKFLOW", message: problems.map((p) => p.message).join("; ") };
    s.endedAt = t.at;
    note(t, undefined, s.error.message);
    return false;
  }
  s.status = "running";
  for (const node of s.definition.nodes) {
    s.steps[node.id] ??= { nodeId: node.id, status: "pending", attempt: 0 };
  }
  return true;
}

function findStep(
  t: Turn,
  nodeId: string,
  itemIndex: number | undefined,
): [WorkflowNode, StepState] | undefined {
  const node = t.nodes.get(nodeId);
  const step = t.state.steps[stepKey(nodeId, itemIndex)];
  return node && step ? [node, step] : undefined;
}

function onStepSucceeded(t: Turn, e: Extract<EngineEvent, { type: "stepSucceeded" }>): boolean {
  const found = isActive(t) ? findStep(t, e.nodeId, e.itemIndex) : undefined;
  if (!found) return false;
  const [node, step] = found;
  // Anything else is a duplicate delivery, the late result of a superseded attempt, or aimed at a
  // forEach node's own step, which only its items complete.
  const live = step.status === "queued" || step.status === "running";
  if (!live || isAggregate(step) || step.attempt !== e.attempt) return false;

  const verdict = nodeKind(node.type)?.review?.(node, e.output, label(step)) ?? { type: "accept" };
  if (verdict.type === "review") {
    step.status = "waiting_approval";
    step.output = e.output;
    delete step.error;
    delete step.leaseUntil;
    t.commands.push(
      withItem(
        {
          type: "requestApproval",
          nodeId: node.id,
          message: verdict.message,
          ...(verdict.confidence === undefined ? {} : { confidence: verdict.confidence }),
          preview: verdict.preview,
        },
        step.itemIndex,
      ) as Command,
    );
    note(t, node.id, verdict.note);
    return true;
  }
  if (verdict.note !== undefined) note(t, node.id, verdict.note);
  succeedStep(t, step, e.output);
  return true;
}

function onStepFailed(t: Turn, e: Extract<EngineEvent, { type: "stepFailed" }>): boolean {
  const found = isActive(t) ? findStep(t, e.nodeId, e.itemIndex) : undefined;
  if (!found) return false;
  const [node, step] = found;
  const live = step.status === "queued" || step.status === "running" || step.status === "waiting";
  if (!live || isAggregate(step) || step.attempt !== e.attempt) return false;
  failStep(t, node, step, e.error, e.retryable);
  return true;
}

function onWaitElapsed(t: Turn, e: Extract<EngineEvent, { type: "waitElapsed" }>): boolean {
  const found = isActive(t) ? findStep(t, e.nodeId, e.itemIndex) : undefined;
  if (!found) return false;
  const [, step] = found;
  if (step.status !== "waiting") return false;
  const due = step.notBefore ? Date.parse(step.notBefore) : t.now.getTime();
  if (t.now.getTime() >= due) {
    succeedStep(t, step, { waitedUntil: step.notBefore ?? t.at });
    return true;
  }
  const remaining = Math.ceil((due - t.now.getTime()) / 1000);
  t.commands.push(
    withItem(
      {
        type: "run",
        nodeId: step.nodeId,
        attempt: step.attempt,
        delaySeconds: Math.min(remaining, MAX_DELAY_SECONDS),
      },
      step.itemIndex,
    ) as Command,
  );
  return false;
}

function onApprovalDecided(t: Turn, e: Extract<EngineEvent, { type: "approvalDecided" }>): boolean {
  const found = isActive(t) ? findStep(t, e.nodeId, e.itemIndex) : undefined;
  if (!found) return false;
  const [node, step] = found;
  if (step.status !== "waiting_approval") return false;
  // Without a hook of its own, a kind keeps the output held for review (a reviewed agent's) when approved.
  const outcome =
    nodeKind(node.type)?.decided?.(node, e.decision, step.output) ??
    (e.decision === "approve"
      ? { type: "succeed" as const, output: step.output }
      : { type: "fail" as const, error: { code: "REJECTED", message: "the approval was rejected" } });
  switch (outcome.type) {
    case "succeed":
      succeedStep(t, step, outcome.output);
      note(t, node.id, `${label(step)} approved`);
      return true;
    case "skip":
      step.output = outcome.output;
      skipStep(t, step, outcome.why);
      return true;
    case "fail":
      failStep(t, node, step, outcome.error, false);
      return true;
  }
}

/**
 * Re-run a failed or timed-out job (a cancelled one stays cancelled: someone chose to stop it). Kept as they are: succeeded steps, skipped steps (a false
 * `if` or a rejected approval, and skips that follow from them, which would be decided the same way again)
 * and failed steps whose node continues on error, since the workflow already accepted that outcome.
 * Everything else goes back to pending and is re-planned by `advance`. Attempt numbers go on from where they
 * were (the retry budget starts afresh), so a step's idempotency key never repeats.
 * A forEach node that had fanned out keeps its items list and its kept items, and re-runs only the rest.
 */
function onRetry(t: Turn): boolean {
  const s = t.state;
  if (s.status !== "failed" && s.status !== "timed_out") return false;
  if (graphProblems(s.definition).length > 0) return false;
  const kept = (step: StepState) =>
    step.status === "succeeded" ||
    step.status === "skipped" ||
    (step.status === "failed" && isSatisfied(t, step));
  let reset = 0;
  for (const node of s.definition.nodes) {
    const step = s.steps[node.id];
    if (!step) {
      s.steps[node.id] = { nodeId: node.id, status: "pending", attempt: 0 };
      continue;
    }
    if (kept(step)) continue;
    reset++;
    if (step.items !== undefined) {
      // The decision of a retry sees every item (the stores load all chunks for it).
      const pick: number[] = [];
      const ended: number[] = new Array(chunkCount(step.items)).fill(0);
      for (let i = 0; i < step.items; i++) {
        const key = stepKey(node.id, i);
        const item = s.steps[key];
        if (item && kept(item)) {
          const chunk = chunkOf(i);
          ended[chunk] = (ended[chunk] ?? 0) + 1;
        } else {
          s.steps[key] = rerun(node.id, item, i);
          pick.push(i);
        }
      }
      s.steps[node.id] = {
        nodeId: node.id,
        status: "running",
        // A new run of the fan-out: counts reported for the old one no longer apply.
        attempt: step.attempt + 1,
        runFrom: step.attempt,
        items: step.items,
        input: step.input,
        window: step.window ?? step.items,
        started: 0,
        ended,
        pick,
        ...(step.queuedAt ? { queuedAt: step.queuedAt } : {}),
        startedAt: t.at,
      };
    } else {
      s.steps[node.id] = rerun(node.id, step);
    }
  }
  s.status = "running";
  // A new run: the job's timeout counts from here.
  s.startedAt = t.at;
  delete s.error;
  delete s.output;
  delete s.endedAt;
  note(t, undefined, `retry: ${reset} node(s) re-run, the rest kept`);
  return true;
}

type StepEvent<T extends EngineEvent["type"]> = Extract<EngineEvent, { type: T }>;

/** The live step an attempt-level event is about, when it is in one of `statuses` with that very attempt. */
function liveStep(
  t: Turn,
  e: { nodeId: string; itemIndex?: number; attempt: number },
  statuses: StepStatus[],
): [WorkflowNode, StepState] | undefined {
  const found = isActive(t) ? findStep(t, e.nodeId, e.itemIndex) : undefined;
  if (!found) return undefined;
  const [, step] = found;
  if (isAggregate(step) || step.attempt !== e.attempt || !statuses.includes(step.status)) return undefined;
  return found;
}

/**
 * queued → running for exactly this attempt. The job counts as running from its first claim. A running
 * attempt whose lease ran out may be taken again: whoever held it is gone without a recorded result, and
 * running the same attempt again keeps its idempotency key.
 */
function onClaim(t: Turn, e: StepEvent<"claim">): boolean {
  const found = liveStep(t, e, ["queued", "running"]);
  if (!found) return false;
  const [node, step] = found;
  // A forEach node's own step runs nothing: queued, it waits to fan out (onFanOut).
  if (node.forEach !== undefined && step.itemIndex === undefined) return false;
  if (
    step.status === "running" &&
    !(step.leaseUntil !== undefined && Date.parse(step.leaseUntil) <= t.now.getTime())
  )
    return false;
  step.status = "running";
  step.startedAt = t.at;
  step.leaseUntil = addSeconds(t, e.leaseSeconds);
  delete step.notBefore;
  if (t.state.status === "queued") {
    t.state.status = "running";
    t.state.startedAt ??= t.at;
  }
  return true;
}

/**
 * A forEach node whose fan-out was deferred (its own step queued, see DecideOptions.deferWideFanOut) fans
 * out now, as the same run. The job is running from here: its items' claims write only their chunks.
 */
async function onFanOut(t: Turn, e: Extract<EngineEvent, { type: "fanOut" }>): Promise<boolean> {
  const node = t.nodes.get(e.nodeId);
  const step = t.state.steps[e.nodeId];
  if (!isActive(t) || node?.forEach === undefined || step === undefined) return false;
  if (step.status !== "queued" || step.attempt !== e.attempt || step.items !== undefined) return false;
  // The fan-out counts its run again.
  step.attempt -= 1;
  await startNode(t, node, step, false);
  if (t.state.status === "queued" && step.items !== undefined) {
    t.state.status = "running";
    t.state.startedAt ??= t.at;
  }
  return true;
}

function onRenewLease(t: Turn, e: StepEvent<"renewLease">): boolean {
  const found = liveStep(t, e, ["running"]);
  if (!found) return false;
  found[1].leaseUntil = addSeconds(t, e.leaseSeconds);
  return true;
}

function onTaskStarted(t: Turn, e: StepEvent<"taskStarted">): boolean {
  const found = liveStep(t, e, ["running"]);
  if (!found) return false;
  found[1].taskArn = e.taskArn;
  return true;
}

/** running → queued, the same attempt, not before `delaySeconds` from now: a wait for room, not a failure. */
function onStepDeferred(t: Turn, e: StepEvent<"stepDeferred">): boolean {
  const found = liveStep(t, e, ["running"]);
  if (!found) return false;
  const [, step] = found;
  clearRun(step);
  step.status = "queued";
  step.queuedAt = t.at;
  const delay = Math.max(0, e.delaySeconds);
  if (delay > 0) step.notBefore = addSeconds(t, delay);
  t.commands.push(
    withItem(
      {
        type: "run",
        nodeId: step.nodeId,
        attempt: step.attempt,
        delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.ceil(delay)),
      },
      step.itemIndex,
    ) as Command,
  );
  note(t, step.nodeId, `${label(step)} waits ${Math.ceil(delay)}s: ${e.reason}`);
  return true;
}

/** The attempt's message went missing: send it again (a wait only for the time it has left). */
function onRequeue(t: Turn, e: StepEvent<"requeue">): boolean {
  const found = liveStep(t, e, e.workerLost ? ["queued", "waiting", "running"] : ["queued", "waiting"]);
  if (!found) return false;
  const [, step] = found;
  if (step.status === "running") {
    if (step.taskArn !== undefined) return false;
    step.status = "queued";
    delete step.startedAt;
    delete step.leaseUntil;
  }
  let delaySeconds = 0;
  step.requeues = (step.requeues ?? 0) + 1;
  if (step.status === "queued") {
    step.queuedAt = t.at;
    delete step.notBefore;
  } else if (step.notBefore !== undefined) {
    delaySeconds = Math.max(0, Math.ceil((Date.parse(step.notBefore) - t.now.getTime()) / 1000));
  }
  t.commands.push(
    withItem(
      {
        type: "run",
        nodeId: step.nodeId,
        attempt: step.attempt,
        delaySeconds: Math.min(delaySeconds, MAX_DELAY_SECONDS),
      },
      step.itemIndex,
    ) as Command,
  );
  return true;
}

function onDeadLettered(t: Turn, e: StepEvent<"deadLettered">): boolean {
  const found = liveStep(t, e, ["queued", "running", "waiting"]);
  if (!found) return false;
  const [node, step] = found;
  failStep(t, node, step, { code: "DEAD_LETTERED", message: e.reason }, false);
  return true;
}

/** A step back to pending for a new run, keeping its attempt count. */
function rerun(nodeId: string, before: StepState | undefined, itemIndex?: number): StepState {
  const attempt = before?.attempt ?? 0;
  return {
    nodeId,
    ...(itemIndex === undefined ? {} : { itemIndex }),
    status: "pending",
    attempt,
    ...(attempt > 0 ? { runFrom: attempt } : {}),
  };
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Drops commands that the rest of the same decision overtook, such as a run for an item that was
 * cancelled when a sibling failed the job a moment later.
 */
function liveCommands(t: Turn): Command[] {
  const active = isActive(t);
  return t.commands.filter((c) => {
    if (c.type === "stopTask") return true;
    const step = t.state.steps[stepKey(c.nodeId, c.itemIndex)];
    if (!active || !step) return false;
    if (c.type === "requestApproval") return step.status === "waiting_approval";
    return step.attempt === c.attempt && (step.status === "queued" || step.status === "waiting");
  });
}

/**
 * The engine: given a job's state, one event and the time, returns the next state and what to do.
 * Pure apart from `opts.random`; async only because JSONata evaluates asynchronously. The input state is
 * not modified. Events that do not apply (duplicates, stale attempts, events for a finished job) give a
 * decision with no changes and no commands.
 */
export async function decide(
  state: JobState,
  event: EngineEvent,
  now: Date,
  opts: DecideOptions = {},
): Promise<Decision> {
  const t: Turn = {
    state: structuredClone(state),
    now,
    at: now.toISOString(),
    random: opts.random ?? Math.random,
    commands: [],
    notes: [],
    nodes: new Map(state.definition.nodes.map((n) => [n.id, n])),
    ...(opts.deferWideFanOut ? { deferWideFanOut: true } : {}),
  };

  let accepted: boolean;
  // Bookkeeping of one attempt (claim, lease, task) moves no other step.
  let plan = true;
  switch (event.type) {
    case "start":
      accepted = onStart(t);
      break;
    case "stepSucceeded":
      accepted = onStepSucceeded(t, event);
      break;
    case "stepFailed":
      accepted = onStepFailed(t, event);
      break;
    case "waitElapsed":
      accepted = onWaitElapsed(t, event);
      break;
    case "approvalDecided":
      accepted = onApprovalDecided(t, event);
      break;
    case "cancel":
      accepted = !isTerminalJob(t.state.status);
      if (accepted)
        endJob(t, "cancelled", { code: "CANCELLED", message: event.reason ?? "the job was cancelled" });
      break;
    case "jobTimedOut":
      accepted = !isTerminalJob(t.state.status);
      if (accepted) {
        const limit = t.state.definition.timeoutSeconds;
        const message = limit ? `the job ran longer than its timeout of ${limit}s` : "the job timed out";
        endJob(t, "timed_out", { code: "JOB_TIMEOUT", message });
      }
      break;
    case "retry":
      accepted = onRetry(t);
      break;
    case "claim":
      accepted = onClaim(t, event);
      plan = false;
      break;
    case "renewLease":
      accepted = onRenewLease(t, event);
      plan = false;
      break;
    case "taskStarted":
      accepted = onTaskStarted(t, event);
      plan = false;
      break;
    case "requeue":
      accepted = onRequeue(t, event);
      plan = false;
      break;
    case "stepDeferred":
      accepted = onStepDeferred(t, event);
      plan = false;
      break;
    case "deadLettered":
      accepted = onDeadLettered(t, event);
      break;
    case "itemsEnded":
      accepted = await onItemsEnded(t, event);
      break;
    case "fanOut":
      accepted = await onFanOut(t, event);
      break;
  }
  // A forEach item's own transition writes only its chunk: the node and the job move by `itemsEnded`.
  if ("itemIndex" in event && event.itemIndex !== undefined) plan = false;
  if (accepted && plan && isActive(t)) await advance(t);
  // A new job counts as queued, not running, until a worker claims one of its steps (see onClaim). One that
  // fans out at once is running: the claims of its items write only their chunks.
  const fannedOut = Object.values(t.state.steps).some((step) => step.items !== undefined);
  if (event.type === "start" && t.state.status === "running" && !fannedOut) t.state.status = "queued";

  const changedSteps = Object.entries(t.state.steps)
    .filter(([key, step]) => !deepEqual(state.steps[key], step))
    .map(([, step]) => step);
  const before = state;
  const after = t.state;
  const jobChanged =
    before.status !== after.status ||
    !deepEqual(before.output, after.output) ||
    !deepEqual(before.error, after.error) ||
    before.startedAt !== after.startedAt ||
    before.endedAt !== after.endedAt;
  return { state: after, changedSteps, jobChanged, commands: liveCommands(t), notes: t.notes };
}
