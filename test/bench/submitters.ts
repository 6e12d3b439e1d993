/**
 * The throughput phase's clients, in a process of their own as a platform's clients are, so the twin's
 * event loop does not also carry their requests. `concurrency` submitters share `count` jobs of one
 * workflow; the process prints `{ ids, submitMs }` as JSON on stdout and exits.
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

export async function submitAll(plan: SubmitterPlan): Promise<{ ids: string[]; submitMs: number }> {
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
  return { ids, submitMs: performance.now() - started };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const result = await submitAll(JSON.parse(Buffer.concat(chunks).toString("utf8")) as SubmitterPlan);
  process.stdout.write(JSON.stringify(result));
}
