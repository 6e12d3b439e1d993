/**
 * The throughput phase's clients, in a process of their own as a platform's clients are, so the twin's
 * event loop does not also carry their requests. Once loaded it prints `ready`, reads a `SubmitterPlan` as
 * one line of JSON on stdin, and `concurrency` submitters share its `count` jobs of one workflow; then it
 * prints a `SubmitterResult` as one line of JSON and exits. Its own start is outside the measured window.
 */
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { SwitchboardClient } from "../../cli/client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SubmitterPlan {
  url: string;
  token: string;
  count: number;
  concurrency: number;
  body: { workflow: unknown; input?: unknown };
}

/** Starts one job with an idempotency key of its own, retrying a refused connection (the key makes that safe). */
export async function submit(client: SwitchboardClient, body: { workflow: unknown; input?: unknown }) {
  const idempotencyKey = `bench-${randomUUID()}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.jobs.create({
        ...(body as Parameters<SwitchboardClient["jobs"]["create"]>[0]),
        idempotencyKey,
      });
    } catch (error) {
      if ((error as { code?: string }).code !== "NETWORK_ERROR" || attempt >= 5) throw error;
      await sleep(200 * attempt);
    }
  }
}

export interface SubmitterResult {
  ids: string[];
  submitMs: number;
  /** CPU this process used for the submissions, its start left out. */
  cpuMs: number;
}

export async function submitAll(plan: SubmitterPlan): Promise<SubmitterResult> {
  const cpu0 = process.cpuUsage();
  const client = new SwitchboardClient({ url: plan.url, token: plan.token });
  const ids: string[] = [];
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: plan.concurrency }, async () => {
      while (next < plan.count) {
        next++;
        ids.push((await submit(client, plan.body)).jobId);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { ids, submitMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000 };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { createInterface } = await import("node:readline");
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  process.stdout.write("ready\n");
  const plan = (await lines.next()).value as string | undefined;
  if (plan === undefined) throw new Error("no plan on stdin");
  const result = await submitAll(JSON.parse(plan) as SubmitterPlan);
  // Exit once the line is flushed: idle keep-alive sockets would hold the process open for seconds.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
