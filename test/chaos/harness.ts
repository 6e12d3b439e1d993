/**
 * Fault injection on the twin. The platform runs with two thin function overrides (the worker and the
 * WebSocket function delegate to the real handlers unless a fault is armed) and with SDK hooks on every
 * client in the process (`test/bench/sdk-hooks.ts`). Helpers submit jobs, heal with the sweeper, and
 * judge the outcome: lost, duplicated and stuck jobs, and the time it took to heal.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { Context } from "aws-lambda";
import { handler as realWorker } from "#functions/queues/steps";
import { handler as realWs } from "#functions/ws/ws";
import { sweep } from "#shared/jobs/sweeper";
import { SwitchboardClient, SwitchboardError } from "../../cli/client.ts";
import { addSdkHook, scopeInvocations } from "../bench/sdk-hooks.ts";
import { type Platform, startPlatform } from "../support/platform.ts";

export interface Faults {
  /** Nodes whose first attempt's worker "dies" after claiming and running the step, before recording it. */
  killNodes: Set<string>;
  /** Kills done so far, with when they happened. */
  kills: { key: string; at: number }[];
  /** `$disconnect` events are swallowed, as when API Gateway never delivers one. */
  dropDisconnect: boolean;
  /** Connection ids, in the order their `$connect` arrived. */
  connections: string[];
  /** Connection ids whose `$disconnect` was swallowed. */
  droppedDisconnects: string[];
}

export interface ChaosPlatform {
  platform: Platform;
  client: SwitchboardClient;
  faults: Faults;
  stop(): Promise<void>;
}

/**
 * The steps a write of a job item records, as `{jobId, nodeId, status, attempt}`, whether or not the item is
 * marshalled yet. A job item carries every step, so these are the steps in an ended state.
 */
function stepPuts(input: Record<string, unknown>) {
  const raw = input.Item as Record<string, unknown> | undefined;
  if (raw === undefined) return [];
  const item = (raw.pk as { S?: string } | undefined)?.S === undefined ? raw : unmarshall(raw as never);
  if (item.type !== "job") return [];
  const steps = (item.steps ?? {}) as Record<string, { s: string; a: number }>;
  return Object.entries(steps).map(([key, step]) => ({
    jobId: String(item.id),
    nodeId: key.replace(/#\d+$/, ""),
    status: String(step.s),
    attempt: Number(step.a),
  }));
}

export class WorkerDied extends Error {
  override name = "Runtime.ExitError";
}

export async function startChaosPlatform(): Promise<ChaosPlatform> {
  scopeInvocations();
  const faults: Faults = {
    killNodes: new Set(),
    kills: [],
    dropDisconnect: false,
    connections: [],
    droppedDisconnects: [],
  };
  const inWorker = new AsyncLocalStorage<true>();
  const removeKillHook = addSdkHook("chaos-kill", async (call, next) => {
    if (inWorker.getStore() === true && call.commandName === "PutItemCommand") {
      for (const step of stepPuts(call.input)) {
        const key = `${step.jobId}:${step.nodeId}`;
        const recording = !["pending", "queued", "running"].includes(step.status);
        if (recording && step.attempt === 1 && faults.killNodes.has(step.nodeId)) {
          faults.kills.push({ key, at: Date.now() });
          // The process is gone before the result is written: the claim stands, the outcome is lost.
          throw new WorkerDied(`worker died while running ${key}`);
        }
      }
    }
    return next();
  });
  // The faults are the worker's: every step goes through the queue to it.
  const platform = await startPlatform({
    startChainMs: 0,
    functions: {
      worker: (event: unknown, context: Context) =>
        inWorker.run(true, () => realWorker(event as never, context)),
      ws: async (
        event: { requestContext: { routeKey?: string; connectionId?: string } },
        context: Context,
      ) => {
        const { routeKey, connectionId } = event.requestContext;
        if (routeKey === "$disconnect" && faults.dropDisconnect) {
          faults.droppedDisconnects.push(connectionId ?? "");
          return { statusCode: 200, body: "" };
        }
        const result = await realWs(event as never, context);
        if (routeKey === "$connect" && connectionId !== undefined) faults.connections.push(connectionId);
        return result;
      },
    },
  });
  const client = new SwitchboardClient({
    url: platform.url,
    token: platform.token,
    wsUrl: platform.wsUrl,
    retries: 4,
  });
  return {
    platform,
    client,
    faults,
    stop: async () => {
      removeKillHook();
      await platform.stop();
    },
  };
}

/** Submits a job, sending the same request again (same idempotency key) while the API answers 5xx or not at all. */
export async function submit(
  client: SwitchboardClient,
  body: Parameters<SwitchboardClient["jobs"]["create"]>[0],
  key: string,
) {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await client.jobs.create({ ...body, idempotencyKey: key })).jobId;
    } catch (error) {
      const retryable = error instanceof SwitchboardError && (error.status === 0 || error.status >= 500);
      if (!retryable || attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface Verdict {
  scenario: string;
  jobs: number;
  succeeded: number;
  /** Accepted jobs the API does not know. */
  lost: number;
  /** Jobs with more than one terminal status event, or a node that succeeded more than once. */
  duplicate: number;
  /** Jobs not ended by the deadline. */
  stuck: number;
  failed: number;
  /** From the end of the fault to the last job ending. */
  healSeconds: number;
  sweeps: number;
  /** Attempts beyond the first, across all steps: what the healing cost. */
  extraAttempts: number;
  notes: string;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/**
 * Waits for every job to end. Whenever nothing has moved for `quietMs` (a lost message or a dead worker
 * leaves a job still), runs the sweeper with the clock ten minutes ahead, past every lease and due time,
 * as its schedule would in time.
 */
export async function healAll(
  client: SwitchboardClient,
  jobIds: string[],
  /** Without `sweepWhenQuiet`, returns once nothing has moved for twice `quietMs`: the jobs need healing. */
  options: {
    deadlineMs?: number;
    quietMs?: number;
    sweepWhenQuiet?: boolean;
    /** The sweeper's clock at the n-th sweep, from 0 (default ten minutes ahead, past every lease). */
    sweepAt?: (n: number) => Date;
  } = {},
): Promise<{ statuses: Map<string, string>; sweeps: number; endedAt: number }> {
  const { deadlineMs = 60_000, quietMs = 3_000, sweepWhenQuiet = true } = options;
  const deadline = Date.now() + deadlineMs;
  const statuses = new Map<string, string>();
  const seqs = new Map<string, number>();
  let lastChange = Date.now();
  let sweeps = 0;
  for (;;) {
    const open = jobIds.filter((id) => !TERMINAL.has(statuses.get(id) ?? ""));
    if (open.length === 0 || Date.now() > deadline) break;
    for (const id of open) {
      try {
        const job = await client.jobs.get(id);
        if (seqs.get(id) !== job.seq) lastChange = Date.now();
        seqs.set(id, job.seq);
        statuses.set(id, job.status);
      } catch (error) {
        if (!(error instanceof SwitchboardError) || error.status !== 404) throw error;
        statuses.set(id, "missing");
      }
    }
    if (!sweepWhenQuiet && Date.now() - lastChange > 2 * quietMs) break;
    if (sweepWhenQuiet && Date.now() - lastChange > quietMs) {
      await sweep(options.sweepAt?.(sweeps) ?? new Date(Date.now() + 10 * 60_000));
      sweeps++;
      lastChange = Date.now();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { statuses, sweeps, endedAt: Date.now() };
}

/** Reads every job's timeline and judges it. */
export async function judge(
  client: SwitchboardClient,
  scenario: string,
  jobIds: string[],
  healed: { statuses: Map<string, string>; sweeps: number; endedAt: number },
  faultEndedAt: number,
  notes = "",
): Promise<Verdict> {
  let duplicate = 0;
  let extraAttempts = 0;
  let lost = 0;
  for (const id of jobIds) {
    if (healed.statuses.get(id) === "missing") {
      lost++;
      continue;
    }
    const events = [];
    let since = 0;
    for (;;) {
      const page = await client.jobs.events(id, since);
      events.push(...page.items);
      const last = page.items.at(-1);
      if (last === undefined || page.cursor === undefined) break;
      since = last.seq;
    }
    const terminal = events.filter((e) => e.type === "job.status_changed" && TERMINAL.has(e.status));
    const succeededNodes = events
      .filter((e) => e.type === "step.status_changed" && e.status === "succeeded")
      .map((e) => (e.type === "step.status_changed" ? `${e.nodeId}#${e.itemIndex ?? ""}` : ""));
    const seqs = events.map((e) => e.seq);
    const gapless = seqs.every((seq, i) => seq === i + 1);
    if (terminal.length !== 1 || new Set(succeededNodes).size !== succeededNodes.length || !gapless)
      duplicate++;
    const job = await client.jobs.get(id);
    extraAttempts += job.steps.reduce((n, s) => n + Math.max(0, s.attempt - 1), 0);
  }
  const count = (status: string) => jobIds.filter((id) => healed.statuses.get(id) === status).length;
  const stuck = jobIds.filter(
    (id) => !TERMINAL.has(healed.statuses.get(id) ?? "") && healed.statuses.get(id) !== "missing",
  ).length;
  return {
    scenario,
    jobs: jobIds.length,
    succeeded: count("succeeded"),
    lost,
    duplicate,
    stuck,
    failed: count("failed") + count("timed_out") + count("cancelled"),
    healSeconds: Math.round(Math.max(0, healed.endedAt - faultEndedAt) / 100) / 10,
    sweeps: healed.sweeps,
    extraAttempts,
    notes,
  };
}

export function report(verdicts: Verdict[]): void {
  const header = [
    "scenario",
    "jobs",
    "ok",
    "lost",
    "dup",
    "stuck",
    "failed",
    "heal s",
    "sweeps",
    "retries",
    "notes",
  ];
  const rows = verdicts.map((v) => [
    v.scenario,
    v.jobs,
    v.succeeded,
    v.lost,
    v.duplicate,
    v.stuck,
    v.failed,
    v.healSeconds,
    v.sweeps,
    v.extraAttempts,
    v.notes,
  ]);
  const all = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const text = all
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
  process.stdout.write(`\nchaos results\n${text}\n\n`);
}

/** A chain of no-op code steps, each allowed a few attempts so a lost attempt can be retried. */
export function chain(name: string, length: number, extra: Record<string, unknown> = {}) {
  return {
    name,
    nodes: Array.from({ length }, (_, i) => ({
      id: `s${i + 1}`,
      type: "code" as const,
      code: "return (input?.n ?? 0) + 1",
      retry: { maxAttempts: 3, intervalSeconds: 0, jitter: false },
      timeoutSeconds: 5,
      ...(i === 0 ? {} : { dependsOn: [`s${i}`] }),
      ...extra,
    })),
  };
}
