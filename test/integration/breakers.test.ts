import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider } from "../support/fake-providers.ts";
import { freePort } from "../support/mcp-servers.ts";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

/**
 * Circuit breakers on the twin: a provider (the OpenAI fake) that fails opens its breaker after N
 * consecutive failures, a step then fails fast with CIRCUIT_OPEN and follows its own retry policy, and
 * the half-open probe after the cooldown closes it again. `/v1/system/status` shows the breaker and a
 * real reachability check of every endpoint the agents use.
 */

const THRESHOLD = 3;
const COOLDOWN_SECONDS = 3;

let platform: Platform;
let openai: FakeProvider;
let downPort: number;
const saved = {
  allow: process.env.SWITCHBOARD_ALLOW_HOSTS,
  failures: process.env.SWITCHBOARD_BREAKER_FAILURES,
  cooldown: process.env.SWITCHBOARD_BREAKER_COOLDOWN_SECONDS,
};

function restore(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

const completions = () => openai.requests.filter((r) => r.method === "POST").length;

const askJob = (retry?: Record<string, unknown>) => ({
  name: "ask",
  nodes: [
    { id: "ask", type: "agent", agent: "flaky", input: "Hello?", ...(retry === undefined ? {} : { retry }) },
  ],
});

async function status() {
  const result = await platform.api("GET", "/v1/system/status");
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body;
}

beforeAll(async () => {
  [openai, downPort] = await Promise.all([FakeProvider.start("openai"), freePort()]);
  process.env.SWITCHBOARD_ALLOW_HOSTS = `${openai.hostPort},127.0.0.1:${downPort}`;
  process.env.SWITCHBOARD_BREAKER_FAILURES = String(THRESHOLD);
  process.env.SWITCHBOARD_BREAKER_COOLDOWN_SECONDS = String(COOLDOWN_SECONDS);
  platform = await startPlatform();
  for (const agent of [
    { name: "flaky", provider: "openai", model: "gpt-4o-mini", baseUrl: `${openai.url}/v1` },
    { name: "gone", provider: "openai", model: "gpt-4o-mini", baseUrl: `http://127.0.0.1:${downPort}/v1` },
  ]) {
    const created = await platform.api("POST", "/v1/agents", agent);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await openai?.close();
  restore("SWITCHBOARD_ALLOW_HOSTS", saved.allow);
  restore("SWITCHBOARD_BREAKER_FAILURES", saved.failures);
  restore("SWITCHBOARD_BREAKER_COOLDOWN_SECONDS", saved.cooldown);
});

describe("a provider's circuit breaker", () => {
  it("opens after N consecutive failures; the next call fails fast with CIRCUIT_OPEN", async () => {
    openai.defaultReply = { status: 503, errorMessage: "overloaded" };
    const { body } = await platform.api("POST", "/v1/jobs", { workflow: askJob() });
    const job = await waitForJob(platform, body.jobId, ["failed"], 60_000);
    // The provider's own retries stop at the breaker: THRESHOLD calls reached it, the next did not.
    expect(completions()).toBe(THRESHOLD);
    expect(job.steps[0].error.code).toBe("CIRCUIT_OPEN");
    expect(job.steps[0].error.message).toContain(`openai ${openai.url}/v1`);

    const { breakers } = await status();
    expect(breakers).toContainEqual(
      expect.objectContaining({
        kind: "provider",
        target: `openai ${openai.url}/v1`,
        state: "open",
        failures: THRESHOLD,
        lastError: "HTTP 503",
        openedAt: expect.any(String),
      }),
    );
  });

  it("keeps failing fast while open, then lets the step's retry probe after the cooldown and closes", async () => {
    openai.defaultReply = { text: "Back again." };
    const before = completions();
    // The cooldown is read on every call: long, so the breaker is certainly still open.
    process.env.SWITCHBOARD_BREAKER_COOLDOWN_SECONDS = "600";
    const refused = await platform.api("POST", "/v1/jobs", { workflow: askJob() });
    const failed = await waitForJob(platform, refused.body.jobId, ["failed", "succeeded"], 60_000);
    expect(failed.steps[0].error.code).toBe("CIRCUIT_OPEN");
    expect(completions()).toBe(before);

    // Then ending two seconds from now: the first attempt is refused, a later retry probes.
    const openedAt = Date.parse(
      (await status()).breakers.find((b: { target: string }) => b.target === `openai ${openai.url}/v1`)
        .openedAt,
    );
    process.env.SWITCHBOARD_BREAKER_COOLDOWN_SECONDS = String(Math.ceil((Date.now() - openedAt) / 1000) + 2);
    const { body } = await platform.api("POST", "/v1/jobs", {
      workflow: askJob({ maxAttempts: 10, intervalSeconds: 1, backoffRate: 1 }),
    });
    const job = await waitForJob(platform, body.jobId, ["succeeded", "failed"], 60_000);
    expect(job.status, JSON.stringify(job.steps)).toBe("succeeded");
    expect(job.steps[0].output.text).toBe("Back again.");
    // Attempts before the cooldown ended were refused without a call; only the probe reached the provider.
    expect(job.steps[0].attempt).toBeGreaterThan(1);
    expect(completions() - before).toBe(1);
    const events = await platform.api("GET", `/v1/jobs/${body.jobId}/events`);
    expect(JSON.stringify(events.body)).toContain("CIRCUIT_OPEN");

    const { breakers } = await status();
    expect(breakers).toContainEqual(
      expect.objectContaining({ target: `openai ${openai.url}/v1`, state: "closed", failures: 0 }),
    );
  });
});

describe("provider health in /v1/system/status", () => {
  it("checks every endpoint the agents use: any HTTP answer is reachable, a closed port is not", async () => {
    const { providers } = await status();
    const byName = Object.fromEntries(providers.map((p: { name: string }) => [p.name, p]));
    expect(byName.scripted).toMatchObject({ reachable: true, endpoints: [] });
    expect(byName.openai.reachable).toBe(false);
    const endpoints = Object.fromEntries(byName.openai.endpoints.map((e: { url: string }) => [e.url, e]));
    expect(endpoints[`${openai.url}/v1/models`]).toMatchObject({
      reachable: true,
      httpStatus: expect.any(Number),
      latencyMs: expect.any(Number),
    });
    expect(endpoints[`http://127.0.0.1:${downPort}/v1/models`]).toMatchObject({
      reachable: false,
      error: expect.stringContaining("ECONNREFUSED"),
    });
    expect(openai.requests.some((r) => r.method === "GET" && r.path === "/v1/models")).toBe(true);
  });
});
