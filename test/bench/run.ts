/**
 * `npm run bench` (`-- --quick` for a one-minute run): measures the platform on the local twin, prints a
 * table and writes `test/bench/results.json`. Figures, not assertions.
 *
 *   baseline         raw DynamoDB PutItem + SQS SendMessage on the same twin, the yardstick for overhead
 *   overhead         a 5-step chain of no-op code steps: (job time − Σ step run times) / 5
 *   throughput       one-step jobs submitted by concurrent clients (a process of their own) until all have
 *                    succeeded, none lost
 *   calls            every AWS request the platform makes for a 1-step and a 5-step job, no subscriber
 *   cost             the 5-step run priced by AWS's billing rules from those requests, with no subscriber
 *                    and with one WebSocket subscriber, next to Step Functions Standard and Express
 *   forEach          one job fanning out over N trivial code steps: wall time and price
 *   capacity         the hottest partition's WCU/s and RCU/s for one tenant at 1,000 5-step jobs/s
 *   cold init        each function bundled as the stack bundles it, imported in a fresh process
 *
 * A job's start runs its first code steps itself (SWITCHBOARD_START_CHAIN_MS), so the code jobs here finish
 * in the request that starts them; overhead, throughput and cost are also measured with that turned off,
 * "through the workers", the path of every job whose steps are not code.
 *
 * The timing phases run with the meter off; the counting phases run one job at a time with it on, so
 * every request in a window belongs to that window's job (see `meter.ts`).
 */
import { execFileSync, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import WebSocket from "ws";
import { TERMINAL_JOB_STATUSES } from "#events/jobs";
import { manifest } from "#infra/manifest";
import { POOL_SIZE, runCode, warmSandbox } from "#shared/engine/sandbox";
import { AUDIT_SHARDS } from "#shared/stores/audit";
import { SWEEP_SHARDS } from "#shared/stores/jobs/items";
import { SUMMARY_SHARDS } from "#shared/stores/jobs/summary";
import { SwitchboardClient } from "../../cli/client.ts";
import { type Platform, startPlatform } from "../support/platform.ts";
import { measureColdInit } from "./cold-init.ts";
import { Follower } from "./follower.ts";
import { FIXED_SOURCES, Meter, type MeterSnapshot, PROBE_HEADER, totalCalls, usageOf } from "./meter.ts";
import {
  byService,
  type CostLine,
  PRICES,
  perMillion,
  perRun,
  priceStepFunctions,
  priceSwitchboardRun,
  stateTransitions,
} from "./prices.ts";
import { type SubmitterPlan, type SubmitterResult, submit } from "./submitters.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const option = (name: string, env: string, full: number, quick: number) => {
  const flag = argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  return Number(flag ?? process.env[env] ?? (QUICK ? quick : full));
};
const JOBS = option("jobs", "BENCH_JOBS", 50, 5);
const THROUGHPUT_JOBS = option("throughput-jobs", "BENCH_THROUGHPUT_JOBS", 1_000, 30);
const CONCURRENCY = option("concurrency", "BENCH_CONCURRENCY", 8, 8);
const CALL_RUNS = option("runs", "BENCH_RUNS", 5, 2);
const FOREACH_ITEMS = option("foreach-items", "BENCH_FOREACH_ITEMS", 10_000, 50);
const FOREACH_BUDGET_S = option("foreach-seconds", "BENCH_FOREACH_SECONDS", 600, 20);
const BASELINE_ITERATIONS = QUICK ? 30 : 100;
/** `--only=cost,foreach`: run only these of cost, timing, health, foreach, cold-init. */
const ONLY = argv
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
const wanted = (name: "cost" | "timing" | "health" | "foreach" | "cold-init") =>
  ONLY === undefined || ONLY.includes(name);
const STEPS = 5;
/** The load the capacity figure is worked out for. */
const CAPACITY_JOBS_PER_SECOND = 1_000;
/** A Task state's wait on a warm synchronous Lambda invoke, beyond the work itself (Express bills it). */
const TASK_INVOKE_MS = 20;
/** Inline Map runs at most 40 iterations at once. */
const MAP_CONCURRENCY = 40;

const chain = {
  name: "bench-chain",
  nodes: Array.from({ length: STEPS }, (_, i) => ({
    id: `s${i + 1}`,
    type: "code" as const,
    code: "return 1",
    ...(i === 0 ? {} : { dependsOn: [`s${i}`] }),
  })),
};
const single = { name: "bench-single", nodes: [{ id: "only", type: "code" as const, code: "return 1" }] };
const fanOut = {
  name: "bench-foreach",
  nodes: [{ id: "each", type: "code" as const, code: "return item", forEach: "{% [0..($input.n - 1)] %}" }],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const began = performance.now();
const log = (text: string) =>
  process.stderr.write(`[bench ${Math.round((performance.now() - began) / 1000)}s] ${text}\n`);

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const stats = (values: number[]) => ({
  p50: round(percentile(values, 50)),
  p99: round(percentile(values, 99)),
  n: values.length,
});

function commit(): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: ROOT }).toString().trim() !== "";
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return "unknown";
  }
}

type JobView = {
  id: string;
  status: string;
  createdAt: string;
  endedAt?: string;
  output?: unknown;
  error?: { code?: string; message?: string };
  steps: {
    error?: { code?: string; message?: string };
    nodeId: string;
    itemIndex?: number;
    status: string;
    output?: unknown;
    startedAt?: string;
    endedAt?: string;
  }[];
};

/**
 * Submits a job, and on a dropped connection submits it again under the same idempotency key, so a busy
 * twin resetting a socket neither loses the job nor makes a second one. Only the timed phases use it: the
 * key costs a write, and the metered runs price a submission as a user makes it, without one.
 */
/**
 * Runs `work` with SWITCHBOARD_START_CHAIN_MS=0, so every step goes through the queue to the workers: the path
 * of any job whose first steps are not code (agents, tools, approvals), measured on the same code steps.
 */
async function throughWorkers<T>(work: () => Promise<T>): Promise<T> {
  process.env.SWITCHBOARD_START_CHAIN_MS = "0";
  try {
    return await work();
  } finally {
    delete process.env.SWITCHBOARD_START_CHAIN_MS;
  }
}

/** Reads the job as the bench's own probe: the meter leaves these requests out. */
async function probe(platform: Platform, jobId: string): Promise<JobView> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await platform.api<JobView>("GET", `/v1/jobs/${jobId}`, undefined, {
        [PROBE_HEADER]: "1",
      });
      if (result.status !== 200)
        throw new Error(`GET job ${jobId}: ${result.status} ${JSON.stringify(result.body)}`);
      return result.body;
    } catch (error) {
      if (!(error instanceof TypeError) || attempt >= 5) throw error;
      await sleep(200 * attempt);
    }
  }
}

async function untilEnded(platform: Platform, jobId: string, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await probe(platform, jobId);
    if (TERMINAL_JOB_STATUSES.includes(job.status as never)) return job;
    if (Date.now() > deadline) return job;
    await sleep(everyMs);
  }
}

/** The tail of a run (stream records, fan-out, deletes) lands after the job ends; wait for it to stop. */
async function quiet(meter: Meter, quietMs = 500, maxMs = 5_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until && Date.now() - meter.lastCallAt < quietMs) await sleep(50);
}

const seconds = (job: JobView) =>
  job.endedAt === undefined ? Number.NaN : (Date.parse(job.endedAt) - Date.parse(job.createdAt)) / 1000;

async function baseline(iterations: number) {
  const dynamo = new DynamoDBClient({});
  const sqs = new SQSClient({});
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "bench-baseline" }));
  const put: number[] = [];
  const send: number[] = [];
  const both: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await dynamo.send(
      new PutItemCommand({
        TableName: process.env.TABLE_NAME,
        Item: { pk: { S: `BENCH#${i}` }, sk: { S: "BASELINE" }, n: { N: String(i) } },
      }),
    );
    const between = performance.now();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify({ i }) }));
    const ended = performance.now();
    put.push(between - started);
    send.push(ended - between);
    both.push(ended - started);
  }
  dynamo.destroy();
  sqs.destroy();
  return { putItemMs: stats(put), sendMessageMs: stats(send), putThenSendMs: stats(both) };
}

async function perStepOverhead(client: SwitchboardClient, follower: Follower) {
  const overheads: number[] = [];
  const jobTimes: number[] = [];
  const budgetEnds = Date.now() + (QUICK ? 20_000 : 150_000);
  follower.recordLatency = true;
  for (let i = 0; i < JOBS && Date.now() < budgetEnds; i++) {
    const { jobId } = await submit(client, { workflow: chain, input: { i } });
    const status = await follower.until(jobId, 30_000);
    if (status !== "succeeded") throw new Error(`chain job ${jobId} ${status}`);
    const job = await client.jobs.get(jobId);
    const jobMs = Date.parse(job.endedAt as string) - Date.parse(job.createdAt);
    const stepMs = job.steps.reduce(
      (sum, s) => sum + (Date.parse(s.endedAt as string) - Date.parse(s.startedAt as string)),
      0,
    );
    jobTimes.push(jobMs);
    overheads.push((jobMs - stepMs) / STEPS);
  }
  follower.recordLatency = false;
  return {
    perStepOverheadMs: stats(overheads),
    chainJobMs: stats(jobTimes),
    wsLatencyMs: stats(follower.latencies),
  };
}

/**
 * Starts the submitters' process (`submitters.ts`); `run` hands it a plan once it is loaded and resolves
 * with what it reports, so its start stays outside the measured window.
 */
async function submittersProcess(): Promise<{ run(plan: SubmitterPlan): Promise<SubmitterResult> }> {
  // execArgv carries tsx's loader, so the child runs TypeScript as this process does.
  const child = spawn(
    process.execPath,
    [...process.execArgv, resolve(import.meta.dirname, "submitters.ts")],
    {
      stdio: ["pipe", "pipe", "inherit"],
      env: process.env,
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_ok, fail) => {
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`the submitters exited with ${code}`)));
  });
  exited.catch(() => undefined);
  const next = async () => {
    const line = await Promise.race([lines.next(), exited]);
    if (line.done) throw new Error("the submitters ended without a word");
    return line.value as string;
  };
  if ((await next()) !== "ready") throw new Error("the submitters did not say they were ready");
  return {
    run: async (plan) => {
      child.stdin.end(`${JSON.stringify(plan)}\n`);
      return JSON.parse(await next()) as SubmitterResult;
    },
  };
}

/** CPU milliseconds a process has used so far, from /proc (Linux); undefined elsewhere or once it is gone. */
async function processCpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in 1/100 s.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

const cpuMsOfThisProcess = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

async function throughput(platform: Platform, client: SwitchboardClient, follower: Follower) {
  const submitters = await submittersProcess();
  const javaPid = platform.twin.dynamoPid();
  const [twinCpu0, javaCpu0, loop0] = [
    cpuMsOfThisProcess(),
    await processCpuMs(javaPid),
    performance.eventLoopUtilization(),
  ];
  const started = performance.now();
  const startedAt = Date.now();
  const {
    ids,
    submitMs: submittedMs,
    cpuMs: clientCpuMs,
  } = await submitters.run({
    url: platform.url,
    token: platform.token,
    count: THROUGHPUT_JOBS,
    concurrency: CONCURRENCY,
    body: { workflow: single, input: {} },
  });
  const deadline = Date.now() + (QUICK ? 60_000 : 240_000);
  // The event loop's share is sampled as the socket shows jobs ending, and read at the last job's end: the
  // fanout's batching window delays the last frames by up to a second, and that idle tail is no load.
  const loopSamples: { at: number; utilization: number }[] = [];
  let pending = ids.filter((id) => follower.endedOf(id) === undefined);
  while (pending.length > 0 && Date.now() < deadline) {
    await sleep(100);
    loopSamples.push({ at: Date.now(), utilization: performance.eventLoopUtilization(loop0).utilization });
    pending = pending.filter((id) => follower.endedOf(id) === undefined);
  }
  const seenMs = performance.now() - started;
  const twinCpuMs = cpuMsOfThisProcess() - twinCpu0;
  const javaCpu1 = await processCpuMs(javaPid);
  const dynamodbCpuMs = javaCpu0 === undefined || javaCpu1 === undefined ? undefined : javaCpu1 - javaCpu0;
  // The rate is the platform's: from the first submit to the last job's end, by the time its status change
  // carries. The socket shows that end up to the batching window later; `seenSeconds` includes it.
  const lastEnd = Math.max(...ids.map((id) => follower.endedAtOf(id) ?? Number.NaN));
  const elapsedMs = Number.isFinite(lastEnd) ? Math.max(1, lastEnd - startedAt) : seenMs;
  const eventLoop = (
    loopSamples.find((s) => s.at >= startedAt + elapsedMs) ?? {
      utilization: performance.eventLoopUtilization(loop0).utilization,
    }
  ).utilization;
  // The socket is the clock; the REST listing is the proof: every submitted job, succeeded, exactly once.
  const seen = new Map<string, string>();
  for await (const job of client.paginate((cursor) =>
    client.jobs.list({ limit: 100, ...(cursor ? { cursor } : {}) }),
  )) {
    seen.set(job.id, job.status);
  }
  const succeeded = ids.filter((id) => seen.get(id) === "succeeded").length;
  const unfinished = ids.filter((id) => {
    const status = seen.get(id);
    return status !== undefined && !TERMINAL_JOB_STATUSES.includes(status as never);
  }).length;
  return {
    jobs: ids.length,
    unique: new Set(ids).size,
    succeeded,
    /** Still running when the phase's budget ran out: slow, not lost. */
    unfinished,
    /** Missing from the listing, or ended other than succeeded. */
    lost: ids.length - succeeded - unfinished,
    submitSeconds: round(submittedMs / 1000, 2),
    /** From the first submit to the last job's end. */
    seconds: round(elapsedMs / 1000, 2),
    /** From the first submit until the socket had shown every job's end. */
    seenSeconds: round(seenMs / 1000, 2),
    jobsPerSecond: round(succeeded / (elapsedMs / 1000), 2),
    concurrency: CONCURRENCY,
    /**
     * Where the machine's time went, per job: the twin's process (every function, the gateway, the pollers,
     * the sandbox threads, and this bench's follower), DynamoDB Local's JVM, and the clients' process.
     * `ceilingJobsPerSecond` is what all the cores would carry at that CPU per job; `eventLoop` is the share
     * of the phase the twin's one JavaScript thread was busy, which bounds it sooner when it nears 1.
     */
    cpu: {
      twinMsPerJob: round(twinCpuMs / ids.length, 1),
      dynamodbLocalMsPerJob: dynamodbCpuMs === undefined ? undefined : round(dynamodbCpuMs / ids.length, 1),
      clientsMsPerJob: round(clientCpuMs / ids.length, 1),
      eventLoop: round(eventLoop, 2),
      cores: availableParallelism(),
      ceilingJobsPerSecond: round(
        (availableParallelism() * 1000 * ids.length) / (twinCpuMs + (dynamodbCpuMs ?? 0) + clientCpuMs),
        1,
      ),
    },
  };
}

/** /health must answer within this at p99 while code steps spin (issue 14). */
const HEALTH_P99_TARGET_MS = 100;
const SPIN_SECONDS = QUICK ? 4 : 10;

/** /health round trips, one after another, until `stop` settles. */
async function healthSamples(platform: Platform, stop: Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  let done = false;
  void stop.finally(() => {
    done = true;
  });
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${platform.url}/health`);
    await response.text();
    samples.push(performance.now() - started);
    await sleep(20);
  }
  return samples;
}

/**
 * /health latency while one code step spins (`while (true) {}`) until its timeout, next to the same
 * twin's /health latency with nothing running, measured just before.
 */
async function healthWhileSpinning(platform: Platform, client: SwitchboardClient) {
  const idle = await healthSamples(platform, sleep(QUICK ? 2_000 : 5_000));
  const { jobId } = await submit(client, {
    workflow: {
      name: "bench-spin",
      nodes: [{ id: "spin", type: "code", timeoutSeconds: SPIN_SECONDS, code: "while (true) {}" }],
    },
  });
  const runningBy = Date.now() + 15_000;
  while ((await probe(platform, jobId)).status !== "running" && Date.now() < runningBy) await sleep(50);
  const ended = untilEnded(platform, jobId, 60_000, 250);
  const spinning = await healthSamples(platform, ended);
  const job = await ended;
  const base = stats(idle);
  const during = stats(spinning);
  return {
    targetP99Ms: HEALTH_P99_TARGET_MS,
    idleMs: base,
    spinningMs: during,
    p99Ratio: round(during.p99 / base.p99, 2),
    maxMs: round(Math.max(...spinning), 1),
    spinSeconds: SPIN_SECONDS,
    sandboxWorkers: POOL_SIZE,
    spinner: `${job.status}${job.steps[0]?.error?.code ? ` (${job.steps[0].error.code})` : ""}`,
  };
}

/** The step's own work, timed in the sandbox the worker runs code in, outside any orchestration. */
async function stepWork(code: string, runs = QUICK ? 50 : 200) {
  await warmSandbox();
  for (let i = 0; i < 10; i++) await runCode(code, { item: i });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runCode(code, { item: i });
    times.push(performance.now() - started);
  }
  return stats(times);
}

interface Window {
  snapshot: MeterSnapshot;
  jobs: { id: string; status: string; seconds: number }[];
  connectionMinutes: number;
}

/** Runs jobs one at a time with nobody subscribed; each window holds only its jobs' requests. */
async function meteredRuns(
  platform: Platform,
  client: SwitchboardClient,
  meter: Meter,
  workflow: typeof chain,
  runs: number,
): Promise<Window> {
  await sleep(1_000);
  meter.reset();
  meter.active = true;
  const jobs: Window["jobs"] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { jobId } = await client.jobs.create({ workflow, input: { i } });
      const job = await untilEnded(platform, jobId, 60_000);
      await quiet(meter);
      jobs.push({ id: jobId, status: job.status, seconds: seconds(job) });
    }
  } finally {
    meter.active = false;
  }
  return { snapshot: meter.snapshot(), jobs, connectionMinutes: 0 };
}

/**
 * Runs followed by one subscriber that was already connected, as the dashboard is: one socket subscribed to
 * every job of the tenant (`all`, with batch frames), opened before the window, so its connect and subscribe
 * are not the runs'. Each run ends when its terminal event reaches that socket.
 */
async function followedRuns(platform: Platform, client: SwitchboardClient, meter: Meter, runs: number) {
  const socket = new WebSocket(`${platform.wsUrl}?token=${encodeURIComponent(platform.token)}`);
  await new Promise<void>((ok, fail) => {
    socket.once("open", () => ok());
    socket.once("error", fail);
  });
  const ended = new Map<string, string>();
  const waiters = new Map<string, (status: string) => void>();
  const subscribed = new Promise<void>((ok) => {
    socket.on("message", (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === "subscribed") ok();
      for (const e of m.type === "batch" ? m.events : [m]) {
        if (e.type !== "job.status_changed" || !TERMINAL_JOB_STATUSES.includes(e.status)) continue;
        ended.set(e.jobId, e.status);
        waiters.get(e.jobId)?.(e.status);
      }
    });
  });
  socket.send(JSON.stringify({ action: "subscribe", all: true, batch: true }));
  await subscribed;
  await sleep(1_000);
  meter.reset();
  meter.active = true;
  const opened = performance.now();
  const jobs: Window["jobs"] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { jobId } = await client.jobs.create({ workflow: chain, input: { i } });
      const status = await Promise.race([
        new Promise<string>((ok) => {
          const known = ended.get(jobId);
          if (known !== undefined) ok(known);
          else waiters.set(jobId, ok);
        }),
        sleep(60_000).then(() => "unfinished"),
      ]);
      await quiet(meter);
      const job = await probe(platform, jobId);
      jobs.push({ id: jobId, status, seconds: seconds(job) });
    }
  } finally {
    meter.active = false;
  }
  const minutes = (performance.now() - opened) / 60_000;
  await new Promise<void>((ok) => {
    socket.once("close", () => ok());
    socket.close();
  });
  return { snapshot: meter.snapshot(), jobs, connectionMinutes: minutes };
}

/** A run as a CLI user makes it: submit over REST, follow over the WebSocket until it ends. */
async function subscribedRuns(platform: Platform, client: SwitchboardClient, meter: Meter, runs: number) {
  await sleep(1_000);
  meter.reset();
  meter.active = true;
  let minutes = 0;
  const jobs: Window["jobs"] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { jobId } = await client.jobs.create({ workflow: chain, input: { i } });
      const opened = performance.now();
      const socket = new WebSocket(`${platform.wsUrl}?token=${encodeURIComponent(platform.token)}`);
      await new Promise<void>((ok, fail) => {
        socket.once("open", () => ok());
        socket.once("error", fail);
      });
      const done = new Promise<string>((ok) => {
        socket.on("message", (data) => {
          const m = JSON.parse(data.toString());
          for (const e of m.type === "batch" ? m.events : [m])
            if (e.type === "job.status_changed" && TERMINAL_JOB_STATUSES.includes(e.status)) ok(e.status);
        });
      });
      // As `switchboard watch` and the dashboard subscribe: with batch frames.
      socket.send(JSON.stringify({ action: "subscribe", jobId, since: 0, batch: true }));
      const status = await Promise.race([done, sleep(60_000).then(() => "unfinished")]);
      await new Promise<void>((ok) => {
        socket.once("close", () => ok());
        socket.close();
      });
      minutes += (performance.now() - opened) / 60_000;
      await quiet(meter);
      const job = await probe(platform, jobId);
      jobs.push({ id: jobId, status, seconds: seconds(job) });
    }
  } finally {
    meter.active = false;
  }
  return { snapshot: meter.snapshot(), jobs, connectionMinutes: minutes };
}

function callsPerJob(window: Window) {
  const runs = window.jobs.length;
  const byCall: Record<string, number> = {};
  for (const [key, n] of Object.entries(window.snapshot.calls)) {
    const [source, call] = key.split(" ") as [string, string];
    if (FIXED_SOURCES.has(source)) continue;
    byCall[key] = round(n / runs, 2);
    void call;
  }
  const idle = Object.fromEntries(
    Object.entries(window.snapshot.idlePolls).map(([key, n]) => [key, round(n / runs, 2)]),
  );
  // Lambda's event-source pollers read the table's stream for the stream functions: requests of the
  // Lambda service, not billed, shown on their own line next to the platform's own requests.
  const streamReads = Object.entries(window.snapshot.calls)
    .filter(([key]) => key.startsWith("event-source DynamoDBStreams."))
    .reduce((n, [, count]) => n + count, 0);
  const perJob = totalCalls(window.snapshot) / runs;
  return {
    perJob: round(perJob, 2),
    withoutStreamPollers: round(perJob - streamReads / runs, 2),
    streamPollerReads: round(streamReads / runs, 2),
    byCall,
    idlePollsPerJob: idle,
  };
}

function perMillionLines(lines: CostLine[]) {
  return lines
    .filter((line) => line.quantity > 0)
    .map((line) => ({
      service: line.service,
      item: line.item,
      perRun: round(line.quantity, 4),
      unit: line.unit,
      usdPerMillionRuns: round(line.usdPerRun * 1e6, 2),
    }));
}

function dynamoDetail(snapshot: MeterSnapshot, runs: number) {
  const byCommand: Record<string, { calls: number; wru: number; rru: number; items: number }> = {};
  const byItem: Record<string, { writes: number; tableWru: number; indexWru: number }> = {};
  for (const [source, entry] of Object.entries(snapshot.dynamodb)) {
    if (FIXED_SOURCES.has(source)) continue;
    for (const [command, c] of Object.entries(entry.byCommand)) {
      byCommand[`${source}.${command}`] = {
        calls: round(c.calls / runs, 2),
        wru: round(c.wru / runs, 2),
        rru: round(c.rru / runs, 2),
        items: round(c.items / runs, 2),
      };
    }
    for (const [shape, c] of Object.entries(entry.byItem)) {
      const into = byItem[shape] ?? { writes: 0, tableWru: 0, indexWru: 0 };
      byItem[shape] = into;
      into.writes += c.writes / runs;
      into.tableWru += c.tableWru / runs;
      into.indexWru += c.indexWru / runs;
    }
  }
  for (const c of Object.values(byItem)) {
    c.writes = round(c.writes, 2);
    c.tableWru = round(c.tableWru, 2);
    c.indexWru = round(c.indexWru, 2);
  }
  return { byCommand, byItem };
}

function price(window: Window) {
  const runs = window.jobs.length;
  const usage = usageOf(window.snapshot, runs, window.connectionMinutes);
  const lines = priceSwitchboardRun(usage);
  return {
    usdPerMillionRuns: round(perMillion(lines), 2),
    byService: Object.fromEntries(Object.entries(byService(lines)).map(([k, v]) => [k, round(v, 2)])),
    lines: perMillionLines(lines),
    dynamodb: {
      tableWru: round(usage.dynamodb.tableWru, 2),
      indexWru: round(usage.dynamodb.indexWru, 2),
      rru: round(usage.dynamodb.rru, 2),
      ...dynamoDetail(window.snapshot, runs),
    },
    sqsRequests: round(usage.sqsRequests, 2),
    websocketMessages: round(usage.websocketMessages, 2),
    statuses: window.jobs.map((j) => j.status),
  };
}

/** How many shards a write-sharded partition family has, by its key (the job lists and the sweep index). */
function knownShards(family: string): number {
  if (/#JL#<n>$|#JOBS#[SW]#.+#<n>$/.test(family)) return SUMMARY_SHARDS;
  if (/SWEEP#<n>$/.test(family)) return SWEEP_SHARDS;
  if (/#AUDIT#<n>$|#AUDIT#A#.+#<n>$/.test(family)) return AUDIT_SHARDS;
  return 1;
}

/**
 * At `CAPACITY_JOBS_PER_SECOND` jobs a second of one tenant. A partition of one job (its key holds the job
 * id) sees that job's units over the job's life, whatever the rate. A partition the jobs share sees every
 * job's units, so its rate is the units per job times the job rate; where keys differ only by a trailing
 * number (write sharding), the family's units are spread over its shards: the keys hash job ids, so
 * evenly over all of them at that rate, however few of them the metered runs happened to touch.
 */
function capacity(window: Window) {
  const runs = Math.max(1, window.jobs.length);
  const ids = window.jobs.map((j) => j.id);
  const finite = window.jobs.filter((j) => Number.isFinite(j.seconds));
  const meanSeconds = finite.reduce((n, j) => n + j.seconds, 0) / Math.max(1, finite.length);
  const rows: {
    partition: string;
    kind: string;
    shardsSeen: number;
    shards?: number;
    wcuPerSecond: number;
    rcuPerSecond: number;
  }[] = [];
  const families = new Map<string, { wru: number; rru: number; shards: Set<string> }>();
  for (const [partition, units] of Object.entries(window.snapshot.partitions)) {
    if (ids.some((id) => partition.includes(id))) {
      const scale = 1 / runs / Math.max(meanSeconds, 0.001);
      rows.push({
        partition: partition.replace(
          new RegExp(ids.map((id) => id.replace(/[^\w]/g, "\\$&")).join("|"), "g"),
          "<job>",
        ),
        kind: "per job",
        shardsSeen: 1,
        wcuPerSecond: units.wru * scale,
        rcuPerSecond: units.rru * scale,
      });
      continue;
    }
    const family = partition.replace(/#\d+$/, "#<n>");
    const entry = families.get(family) ?? { wru: 0, rru: 0, shards: new Set<string>() };
    entry.wru += units.wru;
    entry.rru += units.rru;
    entry.shards.add(partition);
    families.set(family, entry);
  }
  for (const [family, entry] of families) {
    // A few runs see only some shards; the keys hash job ids evenly over all of them.
    const shards = Math.max(entry.shards.size, knownShards(family));
    const scale = CAPACITY_JOBS_PER_SECOND / runs / shards;
    rows.push({
      partition: family,
      kind: "shared",
      shardsSeen: entry.shards.size,
      shards,
      wcuPerSecond: entry.wru * scale,
      rcuPerSecond: entry.rru * scale,
    });
  }
  // Per-job partitions of different jobs have the same shape; keep the hottest of each.
  const merged = new Map<string, (typeof rows)[number]>();
  for (const row of rows) {
    const key = `${row.kind} ${row.partition}`;
    const seen = merged.get(key);
    if (seen === undefined || seen.wcuPerSecond + seen.rcuPerSecond < row.wcuPerSecond + row.rcuPerSecond) {
      merged.set(key, row);
    }
  }
  const all = [...merged.values()].map((row) => ({
    ...row,
    wcuPerSecond: round(row.wcuPerSecond, 1),
    rcuPerSecond: round(row.rcuPerSecond, 1),
  }));
  const hottestWrite = [...all].sort((a, b) => b.wcuPerSecond - a.wcuPerSecond)[0];
  const hottestRead = [...all].sort((a, b) => b.rcuPerSecond - a.rcuPerSecond)[0];
  return {
    jobsPerSecond: CAPACITY_JOBS_PER_SECOND,
    limits: { wcuPerPartition: 1000, rcuPerPartition: 3000 },
    hottestWrite,
    hottestRead,
    top: [...all]
      .sort((a, b) => b.wcuPerSecond + b.rcuPerSecond - (a.wcuPerSecond + a.rcuPerSecond))
      .slice(0, 10),
    meanJobSeconds: round(meanSeconds, 3),
    from: "the 5-step runs with no subscriber",
  };
}

async function forEachRun(platform: Platform, client: SwitchboardClient, meter: Meter, items: number) {
  await sleep(1_000);
  meter.reset();
  meter.active = true;
  const started = performance.now();
  let job: JobView | undefined;
  let error: string | undefined;
  let createSeconds = Number.NaN;
  const probeErrors: string[] = [];
  try {
    const posted = performance.now();
    const { jobId } = await client.jobs.create({ workflow: fanOut, input: { n: items } });
    createSeconds = (performance.now() - posted) / 1000;
    // A read of every item's step is heavy on the twin: a failed read is counted and tried again, not fatal.
    const deadline = Date.now() + FOREACH_BUDGET_S * 1000;
    for (;;) {
      try {
        job = await probe(platform, jobId);
      } catch (thrown) {
        probeErrors.push((thrown as Error).message.slice(0, 200));
        if (probeErrors.length > 20) throw thrown;
      }
      if ((job && TERMINAL_JOB_STATUSES.includes(job.status as never)) || Date.now() > deadline) break;
      await sleep(items > 1000 ? 2_000 : 250);
    }
    await quiet(meter, 500, 10_000);
  } catch (thrown) {
    error = (thrown as Error).message;
  } finally {
    meter.active = false;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const snapshot = meter.snapshot();
  const parent = job?.steps.find((s) => s.nodeId === "each" && s.itemIndex === undefined);
  const output = parent?.output;
  const ordered = Array.isArray(output) && output.length === items && output.every((v, i) => v === i);
  const itemSteps = job?.steps.filter((s) => s.itemIndex !== undefined) ?? [];
  const window: Window = {
    snapshot,
    jobs: job ? [{ id: job.id, status: job.status, seconds: seconds(job) }] : [],
    connectionMinutes: 0,
  };
  return {
    items,
    status: job?.status ?? "not created",
    error: error ?? job?.error?.message ?? job?.steps.find((st) => st.status === "failed")?.error?.message,
    finishedWithinBudget: job !== undefined && TERMINAL_JOB_STATUSES.includes(job.status as never),
    budgetSeconds: FOREACH_BUDGET_S,
    wallSeconds: round(wallSeconds, 2),
    /** POST /v1/jobs alone: the fan-out's chunks and its first messages are written inside it. */
    createSeconds: round(createSeconds, 2),
    probeErrors,
    jobSeconds: job ? round(seconds(job), 2) : Number.NaN,
    itemStepsSucceeded: itemSteps.filter((s) => s.status === "succeeded").length,
    outputsInOrder: ordered,
    calls: job ? round(totalCalls(snapshot), 0) : 0,
    cost: job ? price(window) : undefined,
    note: "measured with the meter on (it reads each written item before and after), so the wall time is a ceiling",
  };
}

function sfn(shape: Parameters<typeof stateTransitions>[0], stepWorkMs: number) {
  const priced = priceStepFunctions({
    shape,
    stepWorkMs,
    taskMemoryMb: manifest.functions.worker.memoryMb,
    taskInvokeMs: TASK_INVOKE_MS,
  });
  return {
    transitions: stateTransitions(shape),
    standardUsdPerMillionRuns: round(perMillion(priced.standard), 2),
    expressUsdPerMillionRuns: round(perMillion(priced.express), 2),
    standard: perMillionLines(priced.standard),
    express: perMillionLines(priced.express),
    standardUsdPerRun: perRun(priced.standard),
    expressUsdPerRun: perRun(priced.express),
  };
}

function printTable(r: Record<string, any>): void {
  const rows: [string, string, string][] = [];
  const add = (metric: string, value: string, note = "") => rows.push([metric, value, note]);
  const pp = (s: { p50: number; p99: number }) => `p50 ${s.p50}  p99 ${s.p99}`;
  const usd = (n: number) => `$${n}`;
  const section = (name: string, body: () => void) => {
    try {
      body();
    } catch {
      add(name, "not measured", "see `errors` in results.json");
    }
  };
  section("cost", () => {
    const c = r.cost;
    add(
      "cost / 1M 5-step runs, no subscriber",
      usd(c.noSubscriber.usdPerMillionRuns),
      `target ≤ $10; ${round(c.noSubscriber.usdPerMillionRuns / c.stepFunctions.standardUsdPerMillionRuns, 2)}x SFN Standard, ${round(c.noSubscriber.usdPerMillionRuns / c.stepFunctions.expressUsdPerMillionRuns, 2)}x Express`,
    );
    add(
      "cost / 1M 5-step runs, 1 subscriber",
      usd(c.connectedSubscriber.usdPerMillionRuns),
      `target ≤ $10; one connected socket following the tenant's jobs, as the dashboard does; ${round(c.connectedSubscriber.usdPerMillionRuns / c.stepFunctions.standardUsdPerMillionRuns, 2)}x SFN Standard`,
    );
    add(
      "  a watcher per run",
      usd(c.oneSubscriber.usdPerMillionRuns),
      "each run's own socket: connect, subscribe with since 0, follow to the end, disconnect (switchboard watch)",
    );
    add(
      "cost / 1M 5-step runs, through workers",
      usd(c.throughTheWorkers.usdPerMillionRuns),
      "no subscriber; the path of a job whose steps are not code (SWITCHBOARD_START_CHAIN_MS=0)",
    );
    add(
      "  Step Functions Standard / Express",
      `${usd(c.stepFunctions.standardUsdPerMillionRuns)} / ${usd(c.stepFunctions.expressUsdPerMillionRuns)}`,
      `${c.stepFunctions.transitions} transitions; same step work (${c.stepWorkMs.p50} ms/task) on both sides`,
    );
    for (const [service, value] of Object.entries(c.noSubscriber.byService as Record<string, number>)) {
      if (value > 0)
        add(
          `  ${service} (no subscriber)`,
          usd(value),
          `1 subscriber: ${usd(c.connectedSubscriber.byService[service] ?? 0)}; a watcher per run: ${usd(c.oneSubscriber.byService[service] ?? 0)}`,
        );
    }
    const d = c.noSubscriber.dynamodb;
    add(
      "  DynamoDB units per run",
      `${d.tableWru} + ${d.indexWru} WRU`,
      `table + index writes; ${d.rru} RRU`,
    );
    add(
      "  WebSocket messages per run",
      String(c.oneSubscriber.websocketMessages),
      "1 subscriber, 32 KB chunks",
    );
  });
  section("per-step overhead", () => {
    const w = r.overheadThroughWorkers;
    const ratio = round(w.perStepOverheadMs.p50 / r.baseline.putThenSendMs.p50, 1);
    add(
      "per-step overhead, workers (ms)",
      pp(w.perStepOverheadMs),
      `target p50 ≤ 15; ${ratio}x the baseline p50; steps through the queue`,
    );
    add("  baseline PutItem+SendMessage (ms)", pp(r.baseline.putThenSendMs), "same twin, same run");
    add("  5-step job, end to end (ms)", pp(w.chainJobMs), "created → ended, through the workers");
    add(
      "  at the job's start (ms)",
      pp(r.overhead.perStepOverheadMs),
      `code steps run by POST /v1/jobs; 5-step job ${pp(r.overhead.chainJobMs)} ms`,
    );
    add("WebSocket latency (ms)", pp(r.overhead.wsLatencyMs), "status write → client");
  });
  section("throughput", () => {
    for (const [label, t] of [
      ["1-step throughput (jobs/s)", r.throughput],
      ["  through the workers (jobs/s)", r.throughputThroughWorkers],
    ] as const) {
      add(
        label,
        String(t.jobsPerSecond),
        `target ≥ 60; ${t.succeeded}/${t.jobs} succeeded, ${t.lost} lost, ${t.unfinished} unfinished; the last ended at ${t.seconds} s, all seen on the socket at ${t.seenSeconds ?? "?"} s`,
      );
      if (t.cpu)
        add(
          `${label.startsWith(" ") ? "    " : "  "}CPU per job (ms)`,
          `${round(t.cpu.twinMsPerJob + (t.cpu.dynamodbLocalMsPerJob ?? 0) + t.cpu.clientsMsPerJob)}`,
          `twin ${t.cpu.twinMsPerJob} (event loop ${Math.round(t.cpu.eventLoop * 100)}% busy), DynamoDB Local ${t.cpu.dynamodbLocalMsPerJob ?? "?"}, clients ${t.cpu.clientsMsPerJob}: ${t.cpu.cores} cores carry ${t.cpu.ceilingJobsPerSecond} jobs/s`,
        );
    }
  });
  section("AWS calls", () => {
    const one = r.calls.oneStep;
    add(
      "AWS calls per 1-step job",
      String(one.perJob),
      "target ≤ 8; every request, Lambda's stream pollers included; idle polls apart",
    );
    add(
      "  without the stream pollers",
      String(one.withoutStreamPollers ?? one.perJob),
      "the platform's own requests (and the SQS pollers' receives and deletes)",
    );
    add(
      "  Streams GetRecords by Lambda pollers",
      String(one.streamPollerReads ?? 0),
      "made by the Lambda service for the stream functions; not billed",
    );
    add(
      "AWS calls per extra step",
      String(r.calls.perExtraStep),
      `target ≤ 3; ${r.calls.perExtraStepWithoutStreamPollers ?? r.calls.perExtraStep} without the stream pollers`,
    );
  });
  section("health", () => {
    const h = r.health;
    add(
      "/health p99 while a code step spins (ms)",
      pp(h.spinningMs),
      `target p99 < ${h.targetP99Ms}; idle p99 ${h.idleMs.p99} (same run), ${h.p99Ratio}x; max ${h.maxMs}; ${h.sandboxWorkers} sandbox workers; spinner ${h.spinner}`,
    );
  });
  section("forEach", () => {
    const f = r.forEach;
    add(
      `forEach ${f.items} items`,
      f.finishedWithinBudget ? `${f.wallSeconds} s` : `unfinished after ${f.wallSeconds} s`,
      `${f.status}${f.error ? ` (${String(f.error).slice(0, 60)})` : ""}; in order: ${f.outputsInOrder}; POST ${f.createSeconds} s; $${f.cost ? round(f.cost.usdPerMillionRuns / 1e6, 4) : "?"}/run; SFN Standard $${round(f.stepFunctions.standardUsdPerRun, 4)}`,
    );
  });
  section("capacity", () => {
    const cap = r.capacity;
    add(
      "hottest partition WCU/s @1k jobs/s",
      String(cap.hottestWrite?.wcuPerSecond ?? 0),
      `limit 1000; ${cap.hottestWrite?.kind} ${cap.hottestWrite?.partition ?? ""}`,
    );
    add(
      "hottest partition RCU/s @1k jobs/s",
      String(cap.hottestRead?.rcuPerSecond ?? 0),
      `limit 3000; ${cap.hottestRead?.kind} ${cap.hottestRead?.partition ?? ""}`,
    );
  });
  for (const name of Object.keys(r.coldInitMs ?? {})) {
    add(`cold init ${name} (ms)`, String(r.coldInitMs[name]), `bundle ${r.bundleKb[name]} KB`);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] as string).length), 6));
  const line = (row: [string, string, string]) =>
    `${row[0].padEnd(widths[0] as number)}  ${row[1].padEnd(widths[1] as number)}  ${row[2]}`;
  process.stdout.write(
    `\nSwitchboard bench${QUICK ? " (quick)" : ""} — ${r.commit}, ${r.measuredAt}, node ${process.version}, ${availableParallelism()} CPUs (twin); prices of ${PRICES.checkedOn}, ${PRICES.region}\n\n`,
  );
  process.stdout.write(`${line(["figure", "value", "notes"])}\n${rows.map(line).join("\n")}\n\n`);
}

async function main(): Promise<void> {
  // The handlers are imported by the twin after this point; their EMF metrics and info logs would bury the
  // table. Lambda writes them too, asynchronously, so leaving them out changes little of what is measured.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
  const measuredAt = new Date().toISOString();
  const meter = new Meter().install();
  const results: Record<string, any> = { commit: commit(), measuredAt, quick: QUICK, errors: {} };
  const save = () =>
    writeFile(resolve(import.meta.dirname, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  /** One phase failing (a busy machine resets a socket) leaves the others' figures standing. */
  async function phase<T>(name: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      log(`${name} failed: ${(error as Error).stack ?? error}`);
      results.errors[name] = String((error as Error).message ?? error);
      return undefined;
    } finally {
      await save();
    }
  }
  log(`starting the twin${QUICK ? " (quick run)" : ""}`);
  // Tables in memory: the same DynamoDB Local, without its SQLite files on disk (README, "The bench").
  const platform = await startPlatform({ dynamodbInMemory: true });
  const client = new SwitchboardClient({ url: platform.url, token: platform.token, wsUrl: platform.wsUrl });
  results.twinStartupMs = platform.twin.startupMs;
  let exitCode = 0;
  try {
    await phase("warm-up", async () => {
      log("warming up");
      for (let i = 0; i < 3; i++) {
        const { jobId } = await submit(client, { workflow: chain, input: {} });
        await untilEnded(platform, jobId, 60_000);
      }
    });
    const work = (await phase("step work", async () => {
      log("step work in the sandbox");
      return { chain: await stepWork("return 1"), item: await stepWork("return item") };
    })) ?? { chain: { p50: 1, p99: 1, n: 0 }, item: { p50: 1, p99: 1, n: 0 } };
    if (wanted("cost")) {
      log(`AWS calls and cost: 1-step and 5-step jobs, ${CALL_RUNS} each, one at a time, metered`);
      const one = await phase("calls 1-step", () => meteredRuns(platform, client, meter, single, CALL_RUNS));
      const five = await phase("calls 5-step", () => meteredRuns(platform, client, meter, chain, CALL_RUNS));
      const fiveByWorkers = await phase("calls 5-step through the workers", () =>
        throughWorkers(() => meteredRuns(platform, client, meter, chain, CALL_RUNS)),
      );
      log(`cost with one WebSocket subscriber (${CALL_RUNS} runs)`);
      const subscribed = await phase("cost subscribed", () =>
        subscribedRuns(platform, client, meter, CALL_RUNS),
      );
      log(`cost with one connected subscriber following the tenant (${CALL_RUNS} runs)`);
      const followed = await phase("cost followed", () => followedRuns(platform, client, meter, CALL_RUNS));
      const stepFunctions = sfn({ kind: "chain", tasks: STEPS }, work.chain.p50);
      if (one && five) {
        const oneCalls = callsPerJob(one);
        const fiveCalls = callsPerJob(five);
        results.calls = {
          oneStep: oneCalls,
          fiveStep: fiveCalls,
          perExtraStep: round((fiveCalls.perJob - oneCalls.perJob) / (STEPS - 1), 2),
          perExtraStepWithoutStreamPollers: round(
            (fiveCalls.withoutStreamPollers - oneCalls.withoutStreamPollers) / (STEPS - 1),
            2,
          ),
          how: "every SDK request (DynamoDB, SQS, S3, Streams, @connections) seen while one job ran alone, from its submission until its tail went quiet; the pollers' receives and deletes are counted; empty receives, empty GetRecords and shard discovery are idle polls, listed apart; the bench's own status probes are left out",
        };
        results.capacity = capacity(five);
      }
      const noSubscriber = five ? price(five) : undefined;
      const oneSubscriber = subscribed ? price(subscribed) : undefined;
      const throughTheWorkers = fiveByWorkers ? price(fiveByWorkers) : undefined;
      const connectedSubscriber = followed ? price(followed) : undefined;
      results.cost = {
        noSubscriber,
        oneSubscriber,
        connectedSubscriber,
        throughTheWorkers,
        stepFunctions,
        stepWorkMs: work.chain,
        ratios: {
          noSubscriberToStandard: noSubscriber
            ? round(noSubscriber.usdPerMillionRuns / stepFunctions.standardUsdPerMillionRuns, 3)
            : undefined,
          noSubscriberToExpress: noSubscriber
            ? round(noSubscriber.usdPerMillionRuns / stepFunctions.expressUsdPerMillionRuns, 3)
            : undefined,
          oneSubscriberToStandard: oneSubscriber
            ? round(oneSubscriber.usdPerMillionRuns / stepFunctions.standardUsdPerMillionRuns, 3)
            : undefined,
        },
        fixedMonthly: {
          note: "the sweeper runs once a minute whatever the load; it is left out of the per-run figures",
          sweeperInvocations: 30 * 24 * 60,
        },
        assumptions: [
          "every AWS request the platform made in a run's window is that run's: runs go one at a time",
          "DynamoDB: WRU = ceil(KB) of the larger of the item before and after (delete: the deleted item), x2 in TransactWriteItems, plus ceil(KB) per index entry put/deleted/rewritten (a key change is 2); a failed condition bills the item's size, no index; RRU per 4 KB: 0.5 eventual, 1 strong, 2 transactional; Query/Scan by the page's total size before filter and projection; items read and sized by the meter's own uncounted GetItem/Query",
          "index projections are DescribeTable's; index writes are not doubled inside a transaction",
          "SQS: every request billed per started 64 KB of payload (body + attributes), empty receives included",
          "stream reads by the fanout's Lambda trigger are free; authorizer results are not cached on the twin",
          "Lambda: invocations and durations as the twin ran them in-process, less the meter's own reads, billed per 1 ms at the manifest's memory, arm64",
          `Step Functions: Start + one Task state per step + Succeed; each Task invokes a Lambda sized as the worker (${manifest.functions.worker.memoryMb} MB) for the step's own work timed in the sandbox (${work.chain.p50} ms p50), the same work Switchboard's worker does; Express duration adds ${TASK_INVOKE_MS} ms per Task for the invoke, in 100 ms steps at 64 MB`,
        ],
        prices: PRICES,
      };
      await save();
    }
    if (wanted("timing")) {
      const follower = await phase("subscribe", () => Follower.open(platform));
      results.baseline = await phase("baseline", () => {
        log("baseline: PutItem + SendMessage");
        return baseline(BASELINE_ITERATIONS);
      });
      if (follower) {
        results.overhead = await phase("overhead", () => {
          log(`per-step overhead and WebSocket latency (${JOBS} jobs)`);
          return perStepOverhead(client, follower);
        });
        results.overheadThroughWorkers = await phase("overhead through the workers", () => {
          log(`per-step overhead through the workers (${JOBS} jobs)`);
          return throughWorkers(() => perStepOverhead(client, follower));
        });
        results.throughput = await phase("throughput", () => {
          log(`throughput (${THROUGHPUT_JOBS} jobs, ${CONCURRENCY} submitters)`);
          return throughput(platform, client, follower);
        });
        results.throughputThroughWorkers = await phase("throughput through the workers", () => {
          log(`throughput through the workers (${THROUGHPUT_JOBS} jobs, ${CONCURRENCY} submitters)`);
          return throughWorkers(() => throughput(platform, client, follower));
        });
        if (
          [results.throughput, results.throughputThroughWorkers].some(
            (t) => t !== undefined && (t.lost > 0 || t.unique !== t.jobs),
          )
        )
          exitCode = 1;
        await follower.close();
      }
    }
    if (wanted("health")) {
      results.health = await phase("health", () => {
        log(`/health while a code step spins for ${SPIN_SECONDS} s`);
        return healthWhileSpinning(platform, client);
      });
    }
    if (wanted("foreach")) {
      const fan = await phase("forEach", () => {
        log(`forEach of ${FOREACH_ITEMS} items (budget ${FOREACH_BUDGET_S} s)`);
        return forEachRun(platform, client, meter, FOREACH_ITEMS);
      });
      results.forEach = {
        ...(fan ?? {}),
        stepWorkMs: work.item,
        stepFunctions: sfn(
          { kind: "map", items: FOREACH_ITEMS, maxConcurrency: MAP_CONCURRENCY },
          work.item.p50,
        ),
        stepFunctionsNote:
          "Standard inline Map: Start + Map entry + one Task per item + Map exit + Succeed; 10,000 items exceed one Standard execution's 25,000-event history, so AWS would need a Distributed Map (same transitions, child executions)",
      };
    }
  } finally {
    await platform.stop();
    meter.uninstall();
  }
  if (!QUICK && wanted("cold-init")) {
    await phase("cold init", async () => {
      log("cold init: bundling and importing each function");
      const cold = await measureColdInit();
      Object.assign(results, {
        coldInitMs: cold.coldInitMs,
        bundleKb: cold.bundleKb,
        coldInitRuns: cold.runs,
        coldInitErrors: cold.errors,
      });
    });
  }
  await save();
  printTable(results);
  if (Object.keys(results.errors).length > 0)
    log(`phases that failed: ${Object.keys(results.errors).join(", ")}`);
  if (exitCode !== 0) log("FAILED: jobs were lost or duplicated in the throughput phase");
  process.exitCode = exitCode;
}

await main();
