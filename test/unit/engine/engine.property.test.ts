import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TERMINAL_STEP_STATUSES } from "#events/jobs";
import type { WorkflowNode } from "#events/workflow";
import { decide, isTerminalJob, MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from "#shared/engine/engine";
import { type Decision, type EngineEvent, type JobState, stepKey } from "#shared/engine/types";
import { newJob, nextItemsEnded, T0 } from "./fixtures.ts";

/**
 * Random DAGs driven by a random, adversarial scheduler: results arrive in any order, attempts fail,
 * messages are delivered twice or late, and the job may be cancelled, time out or be retried.
 */

const nodeSpec = fc.record({
  type: fc.constantFrom("tool", "tool", "code", "agent", "wait", "approval"),
  deps: fc.array(fc.nat(), { maxLength: 3 }),
  condition: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 4 },
    { arbitrary: fc.constantFrom("true", "false", "false", "$error()"), weight: 1 },
  ),
  forEach: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 3 },
    { arbitrary: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }), weight: 1 },
  ),
  retry: fc.option(
    fc.record({
      maxAttempts: fc.integer({ min: 1, max: 3 }),
      intervalSeconds: fc.integer({ min: 0, max: 5 }),
      backoffRate: fc.constantFrom(1, 2, 3),
      maxIntervalSeconds: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
      jitter: fc.boolean(),
    }),
    { nil: undefined },
  ),
  continueOnError: fc.boolean(),
  review: fc.option(
    fc.record({ autoApproveAt: fc.constantFrom(0.5, 0.9), notifyAt: fc.constantFrom(0.3, 0.7) }),
    {
      nil: undefined,
    },
  ),
  waitSeconds: fc.integer({ min: 0, max: 2_000 }),
  skipOnReject: fc.boolean(),
  fargate: fc.boolean(),
});

type NodeSpec = typeof nodeSpec extends fc.Arbitrary<infer T> ? T : never;

function toNode(spec: NodeSpec, i: number): Record<string, unknown> {
  const id = `n${i}`;
  const dependsOn = i === 0 ? [] : [...new Set(spec.deps.map((d) => `n${d % i}`))];
  const node: Record<string, unknown> = { id };
  if (dependsOn.length > 0) node.dependsOn = dependsOn;
  if (spec.condition !== undefined) node.if = `{% ${spec.condition} %}`;
  if (spec.forEach !== undefined) node.forEach = `{% ${JSON.stringify(spec.forEach)} %}`;
  if (spec.continueOnError) node.onError = "continue";
  switch (spec.type) {
    case "wait":
      return { ...node, type: "wait", seconds: spec.waitSeconds };
    case "approval":
      return {
        ...node,
        type: "approval",
        message: "ok?",
        ...(spec.skipOnReject ? { onReject: "skip" } : {}),
      };
    case "agent":
      return {
        ...node,
        type: "agent",
        agent: "a",
        ...(spec.retry ? { retry: spec.retry } : {}),
        ...(spec.review
          ? {
              review: {
                autoApproveAt: spec.review.autoApproveAt,
                notifyAt: Math.min(spec.review.notifyAt, spec.review.autoApproveAt),
              },
            }
          : {}),
        ...(spec.fargate ? { runtime: "fargate" } : {}),
      };
    default:
      return {
        ...node,
        type: spec.type,
        ...(spec.type === "code" ? { code: "return 1" } : { tool: "t" }),
        ...(spec.retry ? { retry: spec.retry } : {}),
        ...(spec.fargate ? { runtime: "fargate" } : {}),
      };
  }
}

/** A small, seedable PRNG so each generated scenario replays exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outstanding {
  kind: "run" | "wait" | "approval";
  nodeId: string;
  itemIndex?: number;
  attempt: number;
}

const MAX_DECISIONS = 3_000;
const TERMINAL_STEP = new Set<string>(TERMINAL_STEP_STATUSES);

function withItem<T extends object>(value: T, itemIndex: number | undefined): T {
  return itemIndex === undefined ? value : { ...value, itemIndex };
}

async function simulate(specs: NodeSpec[], seed: number): Promise<void> {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const job = newJob({ name: "random", nodes: specs.map(toNode) });
  const nodes = new Map(job.definition.nodes.map((n) => [n.id, n]));
  const maxAttempts = (node: WorkflowNode) =>
    node.type === "wait" || node.type === "approval" ? 1 : (node.retry?.maxAttempts ?? 1);

  let now = T0.getTime();
  let state: JobState = job;
  const outstanding = new Map<string, Outstanding>();
  const delivered: EngineEvent[] = [];
  const everSkipped = new Set<string>();
  let retries = 0;

  /** Plain checks: thousands of decisions per run make expect() per step the slowest part of the test. */
  const check = (event: EngineEvent, before: JobState, d: Decision): void => {
    const s = d.state;
    const where = () => `after ${JSON.stringify(event)} in ${JSON.stringify(job.definition.nodes)}`;
    // (e) nothing runs once the job is over.
    if (isTerminalJob(s.status) && d.commands.some((c) => c.type !== "stopTask")) {
      throw new Error(`commands for a ${s.status} job ${where()}`);
    }
    if (
      isTerminalJob(before.status) &&
      event.type !== "retry" &&
      (d.changedSteps.length > 0 || d.commands.length > 0)
    ) {
      throw new Error(`an event changed a ${before.status} job ${where()}`);
    }
    if (s.error?.code === "ENGINE_STUCK") throw new Error(`stuck ${where()}`);
    for (const step of Object.values(s.steps)) {
      if (step.status === "skipped") everSkipped.add(stepKey(step.nodeId, step.itemIndex));
      const node = nodes.get(step.nodeId) as WorkflowNode;
      // (d) attempts stay within the policy, counted from the start of the job's current run, and never go
      // down, not even across a job retry (so an idempotency key is never reused).
      if (step.attempt - (step.runFrom ?? 0) > maxAttempts(node))
        throw new Error(`attempt ${step.attempt} of ${step.nodeId} ${where()}`);
      const earlier = before.steps[stepKey(step.nodeId, step.itemIndex)];
      if (earlier !== undefined && step.attempt < earlier.attempt)
        throw new Error(
          `attempt of ${step.nodeId} went down from ${earlier.attempt} to ${step.attempt} ${where()}`,
        );
      // (b) a node that started has all its parents done.
      // A node that started had at least one parent that succeeded (or failed but continues).
      if (step.itemIndex === undefined && !["pending", "skipped", "cancelled"].includes(step.status)) {
        const parents = node.dependsOn ?? [];
        for (const parent of parents) {
          if (!TERMINAL_STEP.has(s.steps[parent]?.status ?? "")) {
            throw new Error(`${step.nodeId} is ${step.status} before its parent ${parent} ended ${where()}`);
          }
        }
        const satisfied = parents.some((p) => {
          const ps = s.steps[p];
          return (
            ps?.status === "succeeded" || (ps?.status === "failed" && nodes.get(p)?.onError === "continue")
          );
        });
        if (parents.length > 0 && !satisfied)
          throw new Error(`${step.nodeId} ran though no parent succeeded ${where()}`);
      }
    }
    for (const c of d.commands) {
      const key = stepKey(c.nodeId, c.itemIndex);
      // (c) a skipped node never gets a run command.
      if (everSkipped.has(key)) throw new Error(`${c.type} for skipped ${key} ${where()}`);
      const node = nodes.get(c.nodeId) as WorkflowNode;
      for (const parent of node.dependsOn ?? []) {
        if (!TERMINAL_STEP.has(s.steps[parent]?.status ?? "")) {
          throw new Error(`${c.type} for ${key} before its parent ${parent} ended ${where()}`);
        }
      }
      if (c.type === "run") {
        const runFrom = s.steps[key]?.runFrom ?? 0;
        const ok =
          c.attempt > runFrom &&
          c.attempt - runFrom <= maxAttempts(node) &&
          c.delaySeconds >= 0 &&
          c.delaySeconds <= 900;
        if (!ok) throw new Error(`bad run command ${JSON.stringify(c)} ${where()}`);
        outstanding.set(key, {
          kind: node.type === "wait" ? "wait" : "run",
          nodeId: c.nodeId,
          itemIndex: c.itemIndex,
          attempt: c.attempt,
        });
      } else if (c.type === "requestApproval") {
        outstanding.set(key, { kind: "approval", nodeId: c.nodeId, itemIndex: c.itemIndex, attempt: 0 });
      }
    }
  };

  const send = async (event: EngineEvent): Promise<Decision> => {
    const before = JSON.stringify(state);
    const d = await decide(state, event, new Date(now), { random: rand });
    if (JSON.stringify(state) !== before)
      throw new Error(`decide modified its input ${JSON.stringify(event)}`);
    check(event, JSON.parse(before) as JobState, d);
    state = d.state;
    // The job store's side of an item transition: chunks report how many of their items ended.
    if ("itemIndex" in event && event.itemIndex !== undefined) {
      for (let e = nextItemsEnded(state); e !== undefined; e = nextItemsEnded(state)) {
        const snapshot = JSON.stringify(state);
        const synced = await decide(state, e, new Date(now), { random: rand });
        check(e, JSON.parse(snapshot) as JobState, synced);
        state = synced.state;
      }
    }
    return d;
  };

  await send({ type: "start" });
  for (let i = 0; i < MAX_DECISIONS; i++) {
    if (isTerminalJob(state.status)) {
      // A late result after the end changes nothing.
      const late = [...outstanding.values()];
      if (late.length > 0) {
        const o = pick(late);
        await send(
          withItem(
            { type: "stepSucceeded", nodeId: o.nodeId, attempt: o.attempt, output: 1 } as EngineEvent,
            o.itemIndex,
          ),
        );
      }
      if (state.status !== "succeeded" && retries < 1 && rand() < 0.5) {
        retries++;
        delivered.length = 0;
        outstanding.clear();
        await send({ type: "retry" });
        continue;
      }
      return;
    }
    const roll = rand();
    if (roll < 0.01) {
      await send({ type: "cancel" });
      continue;
    }
    if (roll < 0.015) {
      await send({ type: "jobTimedOut" });
      continue;
    }
    if (roll < 0.1 && delivered.length > 0) {
      // A duplicate delivery of something already applied.
      const d = await send(pick(delivered));
      expect(d.changedSteps).toEqual([]);
      expect(d.jobChanged).toBe(false);
      continue;
    }
    if (roll < 0.15) {
      // A result for an attempt that is not the current one.
      const started = Object.values(state.steps).filter((s) => s.attempt > 0 && s.items === undefined);
      if (started.length > 0) {
        const s = pick(started);
        const attempt = rand() < 0.5 ? s.attempt - 1 : s.attempt + 1;
        const d = await send(
          withItem(
            { type: "stepSucceeded", nodeId: s.nodeId, attempt, output: "stale" } as EngineEvent,
            s.itemIndex,
          ),
        );
        expect(d.changedSteps).toEqual([]);
        continue;
      }
    }

    const open = [...outstanding.entries()];
    expect(open.length, `job ${state.status} but nothing is outstanding`).toBeGreaterThan(0);
    const [key, o] = pick(open);
    outstanding.delete(key);
    const step = state.steps[key];
    const node = nodes.get(o.nodeId) as WorkflowNode;
    if (step?.notBefore)
      now = Math.max(now, Date.parse(step.notBefore) - (o.kind === "wait" && rand() < 0.2 ? 1_000 : 0));
    now += 1_000;

    let event: EngineEvent;
    if (o.kind === "wait") {
      event = withItem({ type: "waitElapsed", nodeId: o.nodeId } as EngineEvent, o.itemIndex);
    } else if (o.kind === "approval") {
      event = withItem(
        {
          type: "approvalDecided",
          nodeId: o.nodeId,
          decision: rand() < 0.7 ? "approve" : "reject",
        } as EngineEvent,
        o.itemIndex,
      );
    } else {
      if (step && step.status === "queued" && step.attempt === o.attempt && rand() < 0.5) {
        // The worker claims the step; a Fargate attempt then starts its task.
        const where = withItem({ nodeId: o.nodeId, attempt: o.attempt }, o.itemIndex);
        const claim = await send({ type: "claim", ...where, leaseSeconds: 60 });
        if (claim.changedSteps.length !== 1 || claim.commands.length > 0)
          throw new Error(`a claim moved more than its step: ${JSON.stringify(claim.changedSteps)}`);
        if (node.runtime === "fargate") await send({ type: "taskStarted", ...where, taskArn: `arn:${key}` });
      }
      event =
        rand() < 0.65
          ? withItem(
              {
                type: "stepSucceeded",
                nodeId: o.nodeId,
                attempt: o.attempt,
                output: { text: "x", confidence: rand() },
              } as EngineEvent,
              o.itemIndex,
            )
          : withItem(
              {
                type: "stepFailed",
                nodeId: o.nodeId,
                attempt: o.attempt,
                error: { code: "E", message: "failed" },
                retryable: rand() < 0.7,
              } as EngineEvent,
              o.itemIndex,
            );
    }
    const d = await send(event);
    if (d.changedSteps.length > 0 && event.type !== "waitElapsed") delivered.push(event);
  }
  throw new Error(`the job did not end within ${MAX_DECISIONS} decisions`);
}

describe("engine properties", () => {
  it("ends every job, respects joins, skips, attempts, and stops at the end", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(nodeSpec, { minLength: 1, maxLength: 10 }),
        fc.integer(),
        async (specs, seed) => {
          await simulate(specs, seed);
        },
      ),
      { numRuns: 500 },
    );
  }, 120_000);

  it("keeps jittered retry delays between half the capped delay and the cap", () => {
    fc.assert(
      fc.property(
        fc.record({
          intervalSeconds: fc.integer({ min: 0, max: 86_400 }),
          backoffRate: fc.double({ min: 1, max: 10, noNaN: true }),
          maxIntervalSeconds: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
          jitter: fc.boolean(),
        }),
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (policy, attempt, r) => {
          const base = policy.intervalSeconds * policy.backoffRate ** (attempt - 1);
          const capped = Math.min(
            base,
            policy.maxIntervalSeconds ?? MAX_RETRY_DELAY_SECONDS,
            MAX_RETRY_DELAY_SECONDS,
          );
          const delay = retryDelaySeconds(policy, attempt, () => r);
          expect(delay).toBeLessThanOrEqual(capped);
          expect(delay).toBeGreaterThanOrEqual((policy.jitter ? capped / 2 : capped) - 0.001);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
