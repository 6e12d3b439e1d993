/**
 * `npm run bench:priority`: how long high-priority jobs wait in the queue (submit → first step started),
 *
 *   idle             on an idle twin
 *   same tenant      submitted behind BACKLOG queued low jobs of the same tenant
 *   second tenant    another tenant's high and normal jobs, behind the first tenant's low backlog
 *
 * Figures, not assertions. The backlog's own drain time and what was left of it when the measured jobs had
 * started show the backlog was there to overtake.
 */
import { login, type Platform, request, startPlatform } from "../support/platform.ts";

const BACKLOG = Number(process.env.BENCH_PRIORITY_BACKLOG ?? 500);
const PROBES = Number(process.env.BENCH_PRIORITY_PROBES ?? 20);
const SPACING_MS = 100;

const oneStep = { name: "probe", nodes: [{ id: "a", type: "code", code: "return 1" }] };
const threeSteps = {
  name: "backlog",
  nodes: [
    { id: "a", type: "code", code: "return 1" },
    { id: "b", type: "code", code: "return 2", dependsOn: ["a"] },
    { id: "c", type: "code", code: "return 3", dependsOn: ["b"] },
  ],
};

type Api = Platform["api"];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

async function submit(api: Api, body: Record<string, unknown>): Promise<string> {
  const result = await api("POST", "/v1/jobs", body);
  if (result.status !== 202)
    throw new Error(`submit failed: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body.jobId as string;
}

/** Queue wait of each job: its creation to its first step's start, read once every job has started. */
async function queueWaits(api: Api, ids: string[]): Promise<number[]> {
  const waits: number[] = [];
  for (const id of ids) {
    for (;;) {
      const { body } = await api("GET", `/v1/jobs/${id}`);
      const started = (body.steps ?? [])
        .map((step: { startedAt?: string }) => step.startedAt)
        .filter(Boolean);
      if (body.status === "failed") throw new Error(`probe ${id} failed`);
      if (started.length > 0) {
        waits.push(Date.parse(started.sort()[0]) - Date.parse(body.createdAt));
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return waits;
}

async function probes(api: Api, priority: string | undefined): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < PROBES; i++) {
    ids.push(await submit(api, { workflow: oneStep, ...(priority === undefined ? {} : { priority }) }));
    await new Promise((r) => setTimeout(r, SPACING_MS));
  }
  return ids;
}

async function unfinished(api: Api, ids: string[]): Promise<number> {
  let left = 0;
  for (let i = 0; i < ids.length; i += 25) {
    const results = await Promise.all(ids.slice(i, i + 25).map((id) => api("GET", `/v1/jobs/${id}`)));
    left += results.filter((result) => result.body.status !== "succeeded").length;
  }
  return left;
}

const platform = await startPlatform();
const created = await platform.api("POST", "/v1/tenants", {
  name: "Second",
  adminEmail: "second@switchboard.test",
  adminPassword: "another-long-password",
});
if (created.status !== 201) throw new Error(`tenant: ${created.status}`);
const secondToken = await login(platform.url, "second@switchboard.test", "another-long-password");
const second: Api = (method, path, body) =>
  request(platform.url, method, path, body, { authorization: `Bearer ${secondToken}` });

// Warm the handlers, as deployed functions would be warm.
await queueWaits(platform.api, await probes(platform.api, "high"));

const rows: Record<string, Record<string, number | string>> = {};
const row = (name: string, waits: number[], extra: Record<string, number | string> = {}) => {
  rows[name] = {
    jobs: waits.length,
    "p50 ms": percentile(waits, 50),
    "p99 ms": percentile(waits, 99),
    ...extra,
  };
};

row("high, idle system", await queueWaits(platform.api, await probes(platform.api, "high")));

const backlogStart = Date.now();
const backlog: string[] = [];
for (let i = 0; i < BACKLOG; i += 25) {
  backlog.push(
    ...(await Promise.all(
      Array.from({ length: Math.min(25, BACKLOG - i) }, () =>
        submit(platform.api, { workflow: threeSteps, priority: "low" }),
      ),
    )),
  );
}
const submittedIn = Date.now() - backlogStart;
// What the measured jobs are submitted behind: the low jobs not finished yet.
const lowQueued = await unfinished(platform.api, backlog);
const [same, secondHigh, secondNormal] = await Promise.all([
  probes(platform.api, "high"),
  probes(second, "high"),
  probes(second, undefined),
]);
const waits = await Promise.all([
  queueWaits(platform.api, same),
  queueWaits(second, secondHigh),
  queueWaits(second, secondNormal),
]);
const lowLeft = await unfinished(platform.api, backlog);
row(`high, behind ${BACKLOG} low of the same tenant`, waits[0], {
  "low unfinished at submit": lowQueued,
  "low unfinished when all had started": lowLeft,
});
row(`second tenant high, behind the first's ${BACKLOG} low`, waits[1]);
row(`second tenant normal, behind the first's ${BACKLOG} low`, waits[2]);

while ((await unfinished(platform.api, backlog)) > 0) await new Promise((r) => setTimeout(r, 1000));
const drained = Date.now() - backlogStart;

console.table(rows);
console.log(
  `low backlog: ${BACKLOG} three-step jobs submitted in ${submittedIn} ms, drained in ${drained} ms after the first was submitted`,
);
await platform.stop();
