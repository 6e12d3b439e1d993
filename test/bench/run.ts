/**
 * `npm run bench`: measures the platform on the local twin and writes `test/bench/results.json`.
 *
 *   per-step overhead   a 5-step chain of no-op code steps, (job time − Σ step run times) / 5, over ~50 jobs
 *   baseline            raw DynamoDB PutItem and SQS SendMessage on the same twin, to read the overhead against
 *   WebSocket latency   from an event's `at` (the status write) to a subscribed client receiving it
 *   throughput          300 one-step jobs submitted with bounded concurrency, until all have succeeded
 *   cost                AWS operations of a reference 5-step run, counted and priced, next to Step Functions
 *   cold init, bundles  each function bundled as the stack bundles it, imported in a fresh process
 *
 * Bounded for a shared 2-core machine: every phase has a time budget and the whole run takes a few minutes.
 * BENCH_JOBS, BENCH_THROUGHPUT_JOBS and BENCH_CONCURRENCY shrink or grow it.
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import WebSocket from "ws";
import { TERMINAL_JOB_STATUSES } from "#events/jobs";
import { manifest } from "#infra/manifest";
import { SwitchboardClient } from "../../cli/client.ts";
import { type Platform, startPlatform } from "../support/platform.ts";
import { measureColdInit } from "./cold-init.ts";
import { Meter, usageOf } from "./meter.ts";
import { type CostLine, PRICES, perMillion, priceStepFunctions, priceSwitchboardRun } from "./prices.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const JOBS = Number(process.env.BENCH_JOBS ?? 50);
const THROUGHPUT_JOBS = Number(process.env.BENCH_THROUGHPUT_JOBS ?? 300);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const COST_RUNS = 5;
const STEPS = 5;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** One socket following every job of the tenant: resolves waiters on terminal statuses and keeps latencies. */
class Follower {
  readonly latencies: number[] = [];
  recordLatency = false;
  private readonly waiting = new Map<string, (status: string) => void>();
  private readonly ended = new Map<string, string>();
  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const received = Date.now();
      const message = JSON.parse(data.toString()) as {
        type: string;
        at?: string;
        seq?: number;
        jobId?: string;
        status?: string;
      };
      if (message.seq !== undefined && message.at !== undefined && this.recordLatency) {
        this.latencies.push(received - Date.parse(message.at));
      }
      if (
        message.type === "job.status_changed" &&
        message.jobId !== undefined &&
        TERMINAL_JOB_STATUSES.includes(message.status as never)
      ) {
        this.ended.set(message.jobId, message.status as string);
        this.waiting.get(message.jobId)?.(message.status as string);
        this.waiting.delete(message.jobId);
      }
    });
  }

  static async open(platform: Platform): Promise<Follower> {
    const socket = new WebSocket(`${platform.wsUrl}?token=${encodeURIComponent(platform.token)}`);
    await new Promise<void>((ok, fail) => {
      socket.once("open", () => ok());
      socket.once("error", fail);
    });
    const follower = new Follower(socket);
    const subscribed = new Promise<void>((ok) => {
      socket.on("message", (data) => {
        if (JSON.parse(data.toString()).type === "subscribed") ok();
      });
    });
    socket.send(JSON.stringify({ action: "subscribe", all: true }));
    await subscribed;
    return follower;
  }

  get endedCount(): number {
    return this.ended.size;
  }

  endedOf(jobId: string): string | undefined {
    return this.ended.get(jobId);
  }

  until(jobId: string, timeoutMs: number): Promise<string> {
    const ended = this.ended.get(jobId);
    if (ended !== undefined) return Promise.resolve(ended);
    return new Promise((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`job ${jobId} did not end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.set(jobId, (status) => {
        clearTimeout(timer);
        ok(status);
      });
    });
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((ok) => {
      this.socket.once("close", () => ok());
      this.socket.close();
    });
  }
}

async function baseline(iterations = 100) {
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

async function perStepOverhead(platform: Platform, client: SwitchboardClient, follower: Follower) {
  const overheads: number[] = [];
  const jobTimes: number[] = [];
  const budgetEnds = Date.now() + 150_000;
  follower.recordLatency = true;
  for (let i = 0; i < JOBS && Date.now() < budgetEnds; i++) {
    const { jobId } = await client.jobs.create({ workflow: chain, input: { i } });
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
  void platform;
  return {
    perStepOverheadMs: stats(overheads),
    chainJobMs: stats(jobTimes),
    wsLatencyMs: stats(follower.latencies),
  };
}

async function throughput(platform: Platform, client: SwitchboardClient, follower: Follower) {
  const ids: string[] = [];
  const started = performance.now();
  let next = 0;
  const submitters = Array.from({ length: CONCURRENCY }, async () => {
    while (next < THROUGHPUT_JOBS) {
      next++;
      const { jobId } = await client.jobs.create({ workflow: single, input: {} });
      ids.push(jobId);
    }
  });
  await Promise.all(submitters);
  const submittedMs = performance.now() - started;
  const deadline = Date.now() + 240_000;
  let pending = ids.filter((id) => follower.endedOf(id) === undefined);
  while (pending.length > 0 && Date.now() < deadline) {
    await sleep(200);
    pending = pending.filter((id) => follower.endedOf(id) === undefined);
  }
  const elapsedMs = performance.now() - started;
  // The socket is the clock; the REST listing is the proof: every submitted job, succeeded, exactly once.
  const seen = new Map<string, string>();
  for await (const job of client.paginate((cursor) =>
    client.jobs.list({ limit: 100, ...(cursor ? { cursor } : {}) }),
  )) {
    seen.set(job.id, job.status);
  }
  const succeeded = ids.filter((id) => seen.get(id) === "succeeded").length;
  void platform;
  return {
    jobs: ids.length,
    unique: new Set(ids).size,
    succeeded,
    lost: ids.length - succeeded,
    submitSeconds: round(submittedMs / 1000, 2),
    seconds: round(elapsedMs / 1000, 2),
    jobsPerSecond: round(succeeded / (elapsedMs / 1000), 2),
    concurrency: CONCURRENCY,
  };
}

/** A reference run as a CLI user makes it: submit over REST, follow over the WebSocket until it ends. */
async function referenceRun(platform: Platform, client: SwitchboardClient) {
  const { jobId } = await client.jobs.create({ workflow: chain, input: {} });
  const opened = performance.now();
  const socket = new WebSocket(`${platform.wsUrl}?token=${encodeURIComponent(platform.token)}`);
  await new Promise<void>((ok, fail) => {
    socket.once("open", () => ok());
    socket.once("error", fail);
  });
  const done = new Promise<void>((ok) => {
    socket.on("message", (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === "job.status_changed" && TERMINAL_JOB_STATUSES.includes(m.status)) ok();
    });
  });
  socket.send(JSON.stringify({ action: "subscribe", jobId, since: 0 }));
  await done;
  await new Promise<void>((ok) => {
    socket.once("close", () => ok());
    socket.close();
  });
  return { jobId, minutes: (performance.now() - opened) / 60_000 };
}

async function cost(platform: Platform, client: SwitchboardClient, meter: Meter) {
  // Let the previous phase's tail (stream records, deletes) drain before counting.
  await sleep(2_000);
  meter.reset();
  let minutes = 0;
  const jobIds: string[] = [];
  for (let i = 0; i < COST_RUNS; i++) {
    const run = await referenceRun(platform, client);
    minutes += run.minutes;
    jobIds.push(run.jobId);
  }
  // $disconnect and the last stream batch land shortly after the client sees the end.
  await sleep(1_500);
  const snapshot = meter.snapshot();
  const usage = usageOf(snapshot, COST_RUNS, minutes);
  // Step times are read after the snapshot, so the bench's own reads are not counted as the run's.
  const stepMs: number[][] = [];
  for (const jobId of jobIds) {
    const job = await client.jobs.get(jobId);
    stepMs.push(job.steps.map((s) => Date.parse(s.endedAt as string) - Date.parse(s.startedAt as string)));
  }
  const switchboard = priceSwitchboardRun(usage);
  const meanStepMs = Array.from(
    { length: STEPS },
    (_, i) => stepMs.reduce((sum, run) => sum + (run[i] ?? 0), 0) / COST_RUNS,
  );
  const sfn = priceStepFunctions({
    steps: STEPS,
    stepMs: meanStepMs,
    stepMemoryMb: manifest.functions.worker.memoryMb,
  });
  const sweeperPerMonth = 30 * 24 * 60;
  const sources = Object.entries(snapshot.dynamodb).filter(
    ([source]) => source !== "sweeper" && source !== "event-source",
  );
  const dynamodbByCommand: Record<string, { calls: number; units: number; items: number }> = {};
  for (const [source, entry] of sources) {
    for (const [command, c] of Object.entries(entry.byCommand)) {
      dynamodbByCommand[`${source}.${command}`] = {
        calls: round(c.calls / COST_RUNS, 2),
        units: round(c.units / COST_RUNS, 2),
        items: round(c.items / COST_RUNS, 2),
      };
    }
  }
  return {
    costPerMillionRuns: {
      switchboard: round(perMillion(switchboard), 2),
      stepFunctionsStandard: round(perMillion(sfn.standard), 2),
      stepFunctionsExpress: round(perMillion(sfn.express), 2),
      breakdown: {
        switchboard: perMillionLines(switchboard),
        stepFunctionsStandard: perMillionLines(sfn.standard),
        stepFunctionsExpress: perMillionLines(sfn.express),
      },
      perRun: {
        lambdaInvocations: Object.fromEntries(
          Object.entries(usage.lambda).map(([n, f]) => [n, round(f.invocations, 2)]),
        ),
        dynamodb: { wru: round(usage.dynamodb.wru, 2), rru: round(usage.dynamodb.rru, 2) },
        dynamodbByCommand,
        writeItems: round(sources.reduce((n, [, e]) => n + e.writeItems, 0) / COST_RUNS, 2),
        dynamodbCallsWithoutCapacity: sources.reduce((n, [, e]) => n + e.withoutCapacity, 0),
        sqsRequests: round(usage.sqsRequests, 2),
        restRequests: round(usage.restRequests, 2),
        websocketMessages: round(usage.websocketMessages, 2),
        stepMs: meanStepMs.map((ms) => round(ms, 1)),
      },
      fixedMonthly: {
        note: "the sweeper runs once a minute whatever the load; not in the per-run figures",
        sweeperInvocations: sweeperPerMonth,
      },
      assumptions: [
        "Lambda durations are the twin's (handlers in-process against DynamoDB Local), billed per 1 ms at the manifest's memory",
        "DynamoDB units are DynamoDB Local's ConsumedCapacity (ReturnConsumedCapacity set by the meter)",
        "SQS: sends, non-empty receives and deletes, 64 KB chunks; idle long polls left out",
        "stream reads by the fanout's Lambda trigger are free; authorizer results are not cached on the twin",
        "Step Functions: one Lambda task state per step, running for the step's measured time, started by one REST request",
      ],
      prices: PRICES,
    },
  };
}

function perMillionLines(lines: CostLine[]) {
  return lines.map((line) => ({
    item: line.item,
    perRun: round(line.quantity, 3),
    unit: line.unit,
    usdPerMillionRuns: round(line.usdPerRun * 1e6, 2),
  }));
}

function printTable(results: Record<string, any>): void {
  const rows: [string, string, string][] = [];
  const add = (metric: string, value: string, note = "") => rows.push([metric, value, note]);
  const pp = (s: { p50: number; p99: number }) => `p50 ${s.p50}  p99 ${s.p99}`;
  const ratio = round(results.perStepOverheadMs.p50 / results.baseline.putThenSendMs.p50, 1);
  add(
    "per-step overhead (ms)",
    pp(results.perStepOverheadMs),
    `${results.perStepOverheadMs.n} jobs x ${STEPS} steps; ${ratio}x the baseline`,
  );
  add(
    "  baseline PutItem+SendMessage (ms)",
    pp(results.baseline.putThenSendMs),
    `PutItem ${pp(results.baseline.putItemMs)}; SendMessage ${pp(results.baseline.sendMessageMs)}`,
  );
  add("  5-step job, end to end (ms)", pp(results.chainJobMs), "created → ended");
  add(
    "WebSocket latency (ms)",
    pp(results.wsLatencyMs),
    `${results.wsLatencyMs.n} events, status write → client`,
  );
  const t = results.throughput;
  add(
    "throughput (jobs/s)",
    String(results.throughputJobsPerSec),
    `${t.succeeded}/${t.jobs} succeeded, ${t.lost} lost, ${t.seconds} s, ${t.concurrency} submitters`,
  );
  const c = results.costPerMillionRuns;
  add(
    "cost per 1M runs (USD)",
    `$${c.switchboard}`,
    `Step Functions Standard $${c.stepFunctionsStandard}, Express $${c.stepFunctionsExpress}`,
  );
  for (const line of c.breakdown.switchboard) {
    if (line.usdPerMillionRuns > 0)
      add(`  ${line.item}`, `$${line.usdPerMillionRuns}`, `${line.perRun} ${line.unit}/run`);
  }
  for (const name of Object.keys(results.coldInitMs)) {
    add(`cold init ${name} (ms)`, String(results.coldInitMs[name]), `bundle ${results.bundleKb[name]} KB`);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length), 6));
  const line = (r: [string, string, string]) =>
    `${r[0].padEnd(widths[0] as number)}  ${r[1].padEnd(widths[1] as number)}  ${r[2]}`;
  process.stdout.write(
    `\nSwitchboard bench — ${results.commit}, ${results.measuredAt}, node ${process.version}, ${availableParallelism()} CPUs (twin)\n\n`,
  );
  process.stdout.write(`${line(["metric", "value", "notes"])}\n${rows.map(line).join("\n")}\n\n`);
}

async function main(): Promise<void> {
  // The handlers are imported by the twin after this point; their EMF metrics and info logs would bury the
  // table. Lambda writes them too, asynchronously, so leaving them out changes little of what is measured.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
  const measuredAt = new Date().toISOString();
  const meter = new Meter().install();
  const log = (text: string) => process.stderr.write(`[bench] ${text}\n`);
  log("starting the twin");
  const platform = await startPlatform();
  const client = new SwitchboardClient({ url: platform.url, token: platform.token, wsUrl: platform.wsUrl });
  let results: Record<string, unknown> = { commit: commit(), measuredAt };
  let exitCode = 0;
  try {
    const follower = await Follower.open(platform);
    log("warming up");
    for (let i = 0; i < 3; i++) {
      const { jobId } = await client.jobs.create({ workflow: chain, input: {} });
      await follower.until(jobId, 60_000);
    }
    log("baseline: PutItem + SendMessage");
    const base = await baseline();
    log(`per-step overhead and WebSocket latency (${JOBS} jobs)`);
    const overhead = await perStepOverhead(platform, client, follower);
    log(`throughput (${THROUGHPUT_JOBS} jobs, ${CONCURRENCY} submitters)`);
    const t = await throughput(platform, client, follower);
    if (t.lost > 0 || t.unique !== t.jobs) exitCode = 1;
    await follower.close();
    log("cost of a reference run");
    const priced = await cost(platform, client, meter);
    results = {
      ...results,
      perStepOverheadMs: overhead.perStepOverheadMs,
      chainJobMs: overhead.chainJobMs,
      wsLatencyMs: overhead.wsLatencyMs,
      baseline: base,
      throughputJobsPerSec: t.jobsPerSecond,
      throughput: t,
      ...priced,
      twinStartupMs: platform.twin.startupMs,
    };
  } finally {
    await platform.stop();
    meter.uninstall();
  }
  log("cold init: bundling and importing each function");
  const cold = await measureColdInit();
  results = {
    ...results,
    coldInitMs: cold.coldInitMs,
    bundleKb: cold.bundleKb,
    coldInitRuns: cold.runs,
    coldInitErrors: cold.errors,
  };
  await writeFile(resolve(import.meta.dirname, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  printTable(results);
  if (exitCode !== 0) log("FAILED: jobs were lost or duplicated in the throughput phase");
  process.exitCode = exitCode;
}

await main();
