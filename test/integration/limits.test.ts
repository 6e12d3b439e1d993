import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { admitAgentStep } from "#shared/limits/gate";
import { FakeProvider } from "../support/fake-providers.ts";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

/**
 * Token- and cost-aware flow control on the twin, with the OpenAI fake: a full tokens-per-minute window
 * makes a step wait (as the same attempt) and run in the next window, a job budget fails the step that would
 * pass it, a provider's 429 with retry-after is a wait, and the counters hold under concurrent reservations.
 */

let platform: Platform;
let openai: FakeProvider;
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;

async function ok<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const result = await platform.api(method, path, body);
  if (result.status >= 300)
    throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body as T;
}

async function agent(name: string, maxTokens: number): Promise<{ id: string }> {
  return ok("POST", "/v1/agents", {
    name,
    provider: "openai",
    model: "gpt-4o",
    baseUrl: `${openai.url}/v1`,
    secret: "openai-key",
    maxTokens,
  });
}

function oneStep(name: string, agentName: string, retry = { maxAttempts: 1 }) {
  return {
    workflow: {
      name,
      nodes: [{ id: "ask", type: "agent", agent: agentName, input: { prompt: "Say hi" }, retry }],
    },
  };
}

async function notes(jobId: string): Promise<string[]> {
  const events = await ok<{ items: { type: string; message?: string }[] }>("GET", `/v1/jobs/${jobId}/events`);
  return events.items.filter((e) => e.type === "job.note").map((e) => e.message ?? "");
}

beforeAll(async () => {
  openai = await FakeProvider.start("openai");
  process.env.SWITCHBOARD_ALLOW_HOSTS = openai.hostPort;
  platform = await startPlatform();
  await ok("POST", "/v1/secrets", { name: "openai-key", value: "sk-limits-test-key" });
}, 120_000);

afterEach(() => {
  openai.reset();
});

afterAll(async () => {
  await platform?.stop();
  await openai?.close();
  process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
});

describe("limits", () => {
  it("are set, merged and removed through PUT /v1/limits, by agent name", async () => {
    await agent("limited", 40);
    const set = await ok("PUT", "/v1/limits", { jobUsd: 5, agents: { limited: { tokensPerMinute: 100 } } });
    expect(set).toMatchObject({ jobUsd: 5, agents: [{ agent: "limited", tokensPerMinute: 100 }] });
    const merged = await ok("PUT", "/v1/limits", { tokensPerMinute: 10_000 });
    expect(merged).toMatchObject({ tokensPerMinute: 10_000, jobUsd: 5, agents: [{ tokensPerMinute: 100 }] });
    const cleared = await ok("PUT", "/v1/limits", { tokensPerMinute: null, jobUsd: null });
    expect(cleared).toEqual({
      agents: [expect.objectContaining({ agent: "limited" })],
      updatedAt: expect.any(String),
    });
    const unknown = await platform.api("PUT", "/v1/limits", { agents: { nobody: { jobUsd: 1 } } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: "VALIDATION_FAILED", details: [{ path: "agents.nobody" }] });
    expect((await platform.api("PUT", "/v1/limits", { tokensPerMinute: 0 })).status).toBe(400);
  });

  it("make a step over the agent's tokens per minute wait for the next window, as the same attempt", async () => {
    // Each step reserves about 45 tokens (its prompt and its 40-token cap) and uses 90: one per window.
    openai.defaultReply = { text: "Hi there.", usage: { input: 50, output: 40 } };
    // Both jobs start in one window: late in a minute, wait for the next one first.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 35_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
    const first = await ok("POST", "/v1/jobs", oneStep("tpm-1", "limited"));
    await waitForJob(platform, first.id, ["succeeded"]);
    const firstAt = Date.now();
    const second = await ok("POST", "/v1/jobs", oneStep("tpm-2", "limited"));

    const usage = await ok("GET", "/v1/usage");
    expect(usage.limits.windows).toEqual([
      expect.objectContaining({ agent: "limited", tokensPerMinute: 100, used: expect.any(Number) }),
    ]);
    expect(usage.limits.windows[0].used).toBeGreaterThanOrEqual(90);

    const done = await waitForJob(platform, second.id, ["succeeded", "failed"], 90_000);
    expect(done.status).toBe("succeeded");
    const step = done.steps.find((s: { nodeId: string }) => s.nodeId === "ask");
    expect(step.attempt).toBe(1);
    expect((await notes(second.id)).join("\n")).toMatch(
      /waits \d+s: agent limited is at its limit of 100 tokens/,
    );
    // The second model call came in a later minute window than the first.
    expect(openai.requests).toHaveLength(2);
    const second0 = await ok("GET", `/v1/jobs/${second.id}`);
    expect(Math.floor(Date.parse(second0.steps[0].startedAt) / 60_000)).toBeGreaterThan(
      Math.floor(firstAt / 60_000),
    );
    await ok("PUT", "/v1/limits", { agents: { limited: null } });
  }, 150_000);

  it("fail the step whose cost would take its job past the job budget, with BUDGET_EXCEEDED", async () => {
    await agent("spender", 1000);
    // gpt-4o: $2.5 and $10 per million tokens, so each call costs $0.0125; a step reserves about $0.0101.
    openai.defaultReply = { text: "Done.", usage: { input: 1000, output: 1000 } };
    await ok("PUT", "/v1/limits", { jobUsd: 0.03 });
    const job = await ok("POST", "/v1/jobs", {
      workflow: {
        name: "three-calls",
        nodes: [
          { id: "a", type: "agent", agent: "spender", input: "one" },
          { id: "b", type: "agent", agent: "spender", input: "two", dependsOn: ["a"] },
          { id: "c", type: "agent", agent: "spender", input: "three", dependsOn: ["b"] },
        ],
      },
    });
    const done = await waitForJob(platform, job.id, ["succeeded", "failed"], 60_000);
    expect(done.status).toBe("failed");
    const byNode = Object.fromEntries(done.steps.map((s: { nodeId: string }) => [s.nodeId, s]));
    expect(byNode.a.status).toBe("succeeded");
    expect(byNode.b.status).toBe("succeeded");
    expect(byNode.c).toMatchObject({ status: "failed", error: { code: "BUDGET_EXCEEDED" } });
    expect(byNode.c.error.message).toContain("budget of $0.03 per job");
    expect(openai.requests).toHaveLength(2);
    await ok("PUT", "/v1/limits", { jobUsd: null });
  }, 90_000);

  it("treat a provider's 429 with retry-after as a wait, not a failed attempt", async () => {
    await agent("throttled", 50);
    openai.enqueue({ status: 429, headers: { "retry-after": "3" } }, { text: "Finally." });
    const job = await ok("POST", "/v1/jobs", oneStep("throttle", "throttled"));
    const done = await waitForJob(platform, job.id, ["succeeded", "failed"], 60_000);
    expect(done.status).toBe("succeeded");
    expect(done.steps[0]).toMatchObject({ attempt: 1, output: { text: "Finally." } });
    expect(openai.requests).toHaveLength(2);
    expect((await notes(job.id)).join("\n")).toMatch(/waits 3s: openai is throttling/);
  }, 90_000);

  it("hold under concurrent reservations: the window never takes more than its limit plus one step", async () => {
    const limited = await agent("contended", 100);
    await ok("PUT", "/v1/limits", { agents: { contended: { tokensPerMinute: 1000 } } });
    const now = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 5_000);
    const admissions = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        admitAgentStep({
          tenantId: "default",
          jobId: `j_race_${i}`,
          agent: { id: limited.id, name: "contended", provider: "openai", model: "gpt-4o", maxTokens: 100 },
          inputs: ["x".repeat(300)],
          now,
        }),
      ),
    );
    const admitted = admissions.filter((a) => "ticket" in a).length;
    // Each reserves 200 tokens (100 of input, a 100-token cap): five fit in 1000, and no more.
    expect(admitted).toBe(5);
    const waited = admissions.filter(
      (a) => "outcome" in a && a.outcome.ok === false && a.outcome.waitSeconds,
    );
    expect(waited).toHaveLength(25);
    await ok("PUT", "/v1/limits", { agents: { contended: null } });
  });
});
