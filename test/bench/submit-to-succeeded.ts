/**
 * The walking skeleton's figures: how long the twin takes to start, and the time from submitting a one-node
 * code job to the client receiving its `succeeded` event over the WebSocket, over 100 jobs submitted one
 * after another. Run with `npx tsx test/bench/submit-to-succeeded.ts`.
 */
import { performance } from "node:perf_hooks";
import { SocketClient, startPlatform } from "../support/platform.ts";

const JOBS = Number(process.env.JOBS ?? 100);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const started = performance.now();
const platform = await startPlatform();
const startMs = performance.now() - started;
const socket = await SocketClient.open(platform.wsUrl, platform.token);
socket.send({ action: "subscribe", all: true });
await socket.waitFor((m) => m.type === "subscribed");

const workflow = {
  name: "one",
  nodes: [{ id: "a", type: "code", code: "return input", input: "{% $input %}" }],
};
const latencies: number[] = [];
for (let i = 0; i < JOBS + 5; i++) {
  const t0 = performance.now();
  const { body } = await platform.api("POST", "/v1/jobs", { workflow, input: { i } });
  await socket.waitFor(
    (m) => m.type === "job.status_changed" && m.jobId === body.jobId && m.status === "succeeded",
  );
  // The first five warm the handlers and the JIT, as a deployed function would be warm.
  if (i >= 5) latencies.push(performance.now() - t0);
}
latencies.sort((a, b) => a - b);
const round = (n: number) => Math.round(n * 10) / 10;
console.table({
  "twin start (ms, incl. data dir + admin)": round(startMs),
  "twin's own start figure (ms)": round(platform.twin.startupMs),
  [`submit → succeeded over WS, p50 (ms, ${JOBS} jobs)`]: round(percentile(latencies, 50)),
  "p95 (ms)": round(percentile(latencies, 95)),
  "max (ms)": round(latencies.at(-1) as number),
});
await socket.close();
await platform.stop();
