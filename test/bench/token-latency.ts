/**
 * Time from the first streamed token leaving the provider (the fake OpenAI server writes it) to the
 * `agent.token` message arriving at a WebSocket client, on the local twin. Everything runs in this process,
 * so both ends read the same clock (performance.now()).
 *
 *   npx tsx test/bench/token-latency.ts [runs=20]
 */
import { FakeProvider } from "../support/fake-providers.ts";
import { SocketClient, startPlatform, waitForJob } from "../support/platform.ts";

const runs = Number(process.argv[2] ?? 20);
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

const fake = await FakeProvider.start("openai");
process.env.SWITCHBOARD_ALLOW_HOSTS = fake.hostPort;
const platform = await startPlatform();
try {
  const ok = (result: { status: number; body: unknown }) => {
    if (result.status >= 300) throw new Error(`${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  };
  ok(await platform.api("POST", "/v1/secrets", { name: "bench-key", value: "sk-bench-0000" }));
  ok(
    await platform.api("POST", "/v1/agents", {
      name: "bench",
      provider: "openai",
      model: "gpt-4o-mini",
      baseUrl: `${fake.url}/v1`,
      secret: "bench-key",
    }),
  );
  const socket = await SocketClient.open(platform.wsUrl, platform.token);
  const firstTokenSeen = new Map<string, number>();
  socket.socket.on("message", (data) => {
    const at = performance.now();
    const message = JSON.parse(data.toString());
    if (message.type === "agent.token" && !firstTokenSeen.has(message.jobId))
      firstTokenSeen.set(message.jobId, at);
  });
  socket.send({ action: "subscribe", all: true });
  await socket.waitFor((m) => m.type === "subscribed");

  const workflow = {
    name: "bench",
    nodes: [{ id: "ask", type: "agent", agent: "bench", input: "Say something." }],
  };
  const latencies: number[] = [];
  // One warm-up run: the first step of a process pays for module loading and connection set-up.
  for (let i = 0; i <= runs; i++) {
    fake.enqueue({ text: "One two three four five six seven eight nine ten.", tokenDelayMs: 10 });
    const before = fake.firstTokenAt.length;
    const { body } = await platform.api<{ jobId: string }>("POST", "/v1/jobs", { workflow });
    await waitForJob(platform, body.jobId, ["succeeded"], 30_000);
    await socket.waitFor((m) => m.type === "agent.token" && m.jobId === body.jobId);
    const written = fake.firstTokenAt[before];
    const seen = firstTokenSeen.get(body.jobId);
    if (written === undefined || seen === undefined) throw new Error(`run ${i}: no timing`);
    if (i > 0) latencies.push(seen - written);
  }
  await socket.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  const fmt = (n: number) => `${n.toFixed(2)} ms`;
  console.log(
    JSON.stringify({
      runs: sorted.length,
      p50: fmt(quantile(sorted, 0.5)),
      p90: fmt(quantile(sorted, 0.9)),
      min: fmt(sorted[0] ?? Number.NaN),
      max: fmt(sorted.at(-1) ?? Number.NaN),
    }),
  );
} finally {
  await platform.stop();
  await fake.close();
}
