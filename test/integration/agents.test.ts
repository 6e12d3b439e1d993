import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider, tokensOf } from "../support/fake-providers.ts";
import { type Platform, SocketClient, startPlatform, waitForJob } from "../support/platform.ts";

/**
 * Agents end to end on the twin: a real provider wire protocol (the OpenAI fake), a stored secret that
 * reaches only the provider, a custom HTTP tool, token streaming over the WebSocket, usage and budgets.
 */

const OPENAI_KEY = "sk-e2e-7c1f9a0b3d5e8f21";
const ITEMS_TOKEN = "items-token-5a6b7c8d9e";
const ANSWER =
  "Item 42 is a blue widget that ships in two days. It is in stock and well reviewed by buyers.\nCONFIDENCE: 0.9";

let platform: Platform;
let openai: FakeProvider;
let items: { server: Server; port: number; seen: IncomingMessage[] };
let captured = "";
const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;

function capture(): void {
  for (const name of ["stdout", "stderr"] as const) {
    const original = writes[name];
    process[name].write = ((chunk: unknown, ...rest: unknown[]) => {
      captured += typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
      return (original as (...args: unknown[]) => boolean).call(process[name], chunk, ...rest);
    }) as typeof process.stdout.write;
  }
}

beforeAll(async () => {
  openai = await FakeProvider.start("openai");
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(200, { "content-type": "application/json" });
    // Echoes a header back, as careless APIs do: the secret must still not reach the step's output.
    res.end(
      JSON.stringify({
        id: req.url?.split("/").pop(),
        kind: "widget",
        colour: "blue",
        echo: req.headers["x-items-token"],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  items = { server, port: (server.address() as AddressInfo).port, seen };
  // Read by the egress guard on each call; set before the platform starts, as an operator would.
  process.env.SWITCHBOARD_ALLOW_HOSTS = `${openai.hostPort},127.0.0.1:${items.port}`;
  capture();
  platform = await startPlatform();

  const admin = async (method: string, path: string, body?: unknown) => {
    const result = await platform.api(method, path, body);
    if (result.status >= 300)
      throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  };
  await admin("POST", "/v1/secrets", { name: "openai-key", value: OPENAI_KEY });
  await admin("POST", "/v1/secrets", { name: "items-token", value: ITEMS_TOKEN });
  await admin("POST", "/v1/tools", {
    name: "get_item",
    description: "Fetch an item by id",
    parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
    url: `http://127.0.0.1:${items.port}/items/{id}`,
    method: "GET",
    headers: { "x-items-token": "{{secret:items-token}}" },
  });
  await admin("POST", "/v1/agents", {
    name: "researcher",
    provider: "openai",
    model: "gpt-4o-mini",
    baseUrl: `${openai.url}/v1`,
    secret: "openai-key",
    systemPrompt: "Answer about items. End with a line CONFIDENCE: <0..1>.",
    tools: ["get_item", "memory_put"],
  });
});

afterEach(() => {
  openai.reset();
});

afterAll(async () => {
  process.stdout.write = writes.stdout;
  process.stderr.write = writes.stderr;
  await platform?.stop();
  await openai?.close();
  items?.server.close();
  process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
});

const researchJob = {
  name: "research",
  nodes: [
    {
      id: "ask",
      type: "agent",
      agent: "researcher",
      input: { prompt: "Tell me about item {% $input.id %}" },
    },
  ],
  output: { answer: "{% $steps.ask.output.text %}" },
};

describe("an agent on the twin", () => {
  it("calls a tool, streams its tokens coalesced, records usage, and keeps the key to the provider", async () => {
    openai.enqueue({
      toolCalls: [{ name: "get_item", arguments: { id: "42" } }],
      usage: { input: 120, output: 14 },
    });
    openai.enqueue((request) => {
      const toolMessage = request.body.messages.at(-1);
      return toolMessage?.role === "tool" && toolMessage.content.includes("widget")
        ? { text: ANSWER, tokenDelayMs: 8, usage: { input: 180, output: 30 } }
        : { status: 400, errorMessage: "the tool result did not come back" };
    });
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    socket.send({ action: "subscribe", all: true });
    await socket.waitFor((m) => m.type === "subscribed");

    const submitted = await platform.api("POST", "/v1/jobs", { workflow: researchJob, input: { id: "42" } });
    expect(submitted.status).toBe(202);
    const { jobId } = submitted.body;
    const job = await waitForJob(platform, jobId, ["succeeded", "failed"]);
    expect(job.status).toBe("succeeded");

    // The output: text without the confidence line, the tool call with its (scrubbed) result, usage with cost.
    const output = job.steps[0].output;
    expect(output).toMatchObject({
      text: ANSWER.replace(/\nCONFIDENCE: 0\.9$/, ""),
      confidence: 0.9,
      provider: "openai",
      model: "gpt-4o-mini",
      turns: 2,
      toolCalls: [
        {
          name: "get_item",
          arguments: { id: "42" },
          result: { status: 200, json: { id: "42", kind: "widget", echo: "[redacted]" } },
        },
      ],
      usage: { inputTokens: 300, outputTokens: 44 },
    });
    expect(output.usage.costUsd).toBeCloseTo((300 * 0.15 + 44 * 0.6) / 1e6, 10);
    expect(job.output).toEqual({ answer: output.text });

    // Tokens: live on the socket as agent.token, fewer messages than tokens, together the whole text.
    await socket.waitFor(
      (m) => m.type === "job.status_changed" && m.jobId === jobId && m.status === "succeeded",
    );
    const tokenMessages = socket.messages.filter((m) => m.type === "agent.token" && m.jobId === jobId);
    expect(tokenMessages.length).toBeGreaterThan(1);
    expect(tokenMessages.length).toBeLessThan(tokensOf(ANSWER).length);
    expect(tokenMessages.map((m) => m.index)).toEqual(tokenMessages.map((_, i) => i));
    expect(tokenMessages.map((m) => m.text).join("")).toBe(ANSWER);
    expect(tokenMessages[0]).toMatchObject({ nodeId: "ask", at: expect.any(String) });

    // The provider got the key in its Authorization header, on every call.
    expect(openai.requests.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${OPENAI_KEY}`,
      `Bearer ${OPENAI_KEY}`,
    ]);
    expect(
      openai.requests[0]?.body.tools.map((t: { function: { name: string } }) => t.function.name),
    ).toEqual(["get_item", "memory_put"]);
    // The tool's server got its secret header and the side effect's idempotency key.
    const call = items.seen.at(-1);
    expect(call?.headers["x-items-token"]).toBe(ITEMS_TOKEN);
    expect(call?.headers["idempotency-key"]).toBe(`${jobId}:ask:-:1:1.1`);

    // And neither secret is anywhere else.
    const events = await platform.api("GET", `/v1/jobs/${jobId}/events`);
    const jobBody = await platform.api("GET", `/v1/jobs/${jobId}`);
    const secrets = await platform.api("GET", "/v1/secrets");
    for (const text of [
      JSON.stringify(events.body),
      JSON.stringify(jobBody.body),
      JSON.stringify(socket.messages),
      JSON.stringify(secrets.body),
      captured,
    ]) {
      expect(text).not.toContain(OPENAI_KEY);
      expect(text).not.toContain(ITEMS_TOKEN);
    }
    expect(secrets.body.items.map((s: { name: string }) => s.name).sort()).toEqual([
      "items-token",
      "openai-key",
    ]);

    // Usage rolls up per model and per job.
    const byModel = await platform.api("GET", "/v1/usage?groupBy=model");
    expect(byModel.status).toBe(200);
    expect(byModel.body.items).toContainEqual(
      expect.objectContaining({ key: "openai/gpt-4o-mini", inputTokens: 300, outputTokens: 44, steps: 1 }),
    );
    const byJob = await platform.api("GET", "/v1/usage?groupBy=job");
    expect(byJob.body.items).toContainEqual(
      expect.objectContaining({ key: jobId, inputTokens: 300, outputTokens: 44 }),
    );
    await socket.close();
  });

  it("fails the step with PROVIDER_ERROR when the provider refuses, without the key in the error", async () => {
    openai.enqueue({ status: 401, errorMessage: `Incorrect API key provided: ${OPENAI_KEY}` });
    const { body } = await platform.api("POST", "/v1/jobs", { workflow: researchJob, input: { id: "1" } });
    const job = await waitForJob(platform, body.jobId, ["failed"]);
    expect(job.steps[0].error.code).toBe("PROVIDER_ERROR");
    expect(job.steps[0].error.message).toContain("401");
    expect(JSON.stringify(job)).not.toContain(OPENAI_KEY);
    expect(openai.requests).toHaveLength(1);
  });

  it("runs a scripted agent end to end: tool call, memory, reply and confidence", async () => {
    const created = await platform.api("POST", "/v1/agents", {
      name: "triager",
      provider: "scripted",
      model: "rules-v1",
      tools: ["memory_put"],
      script: {
        rules: [
          {
            match: "^ticket (\\S+): (.*)$",
            toolCall: { name: "memory_put", arguments: { namespace: "tickets", key: "$1", value: "$2" } },
          },
          { match: '"stored":true', reply: "Filed the ticket as a billing question.", confidence: 0.72 },
        ],
        defaultReply: "Not sure.",
        tokenDelayMs: 2,
      },
    });
    expect(created.status).toBe(201);
    const { body } = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "triage",
        nodes: [{ id: "t", type: "agent", agent: "triager", input: "{% 'ticket T-9: ' & $input.text %}" }],
      },
      input: { text: "I was charged twice" },
    });
    const job = await waitForJob(platform, body.jobId, ["succeeded", "failed"]);
    expect(job.status).toBe("succeeded");
    expect(job.steps[0].output).toMatchObject({
      text: "Filed the ticket as a billing question.",
      confidence: 0.72,
      provider: "scripted",
      toolCalls: [
        { name: "memory_put", arguments: { namespace: "tickets", key: "T-9" }, result: { stored: true } },
      ],
      usage: { costUsd: 0 },
    });
    const memory = await platform.api("GET", "/v1/memory/tickets/T-9");
    expect(memory.body).toMatchObject({ namespace: "tickets", key: "T-9", value: "I was charged twice" });
    const keys = await platform.api("GET", "/v1/memory/tickets");
    expect(keys.body.items.map((k: { key: string }) => k.key)).toEqual(["T-9"]);
  });

  it("runs tool nodes directly, and the egress guard refuses the metadata service", async () => {
    const { body } = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "tools",
        nodes: [
          { id: "fetch", type: "tool", tool: "get_item", input: { id: "{% $input.id %}" } },
          {
            id: "meta",
            type: "tool",
            tool: "http_request",
            input: { url: "http://169.254.169.254/latest/meta-data/" },
            onError: "continue",
          },
        ],
      },
      input: { id: "7" },
    });
    const job = await waitForJob(platform, body.jobId, ["succeeded", "failed"]);
    const steps = Object.fromEntries(job.steps.map((s: { nodeId: string }) => [s.nodeId, s]));
    expect(steps.fetch.output).toMatchObject({ status: 200, json: { id: "7", echo: "[redacted]" } });
    expect(items.seen.at(-1)?.headers["idempotency-key"]).toBe(`${body.jobId}:fetch:-:1`);
    expect(steps.meta.error).toMatchObject({ code: "EGRESS_DENIED" });
    expect(steps.meta.error.message).toContain("metadata");
  });

  it("fails new agent steps fast with BUDGET_EXCEEDED once the monthly budget is spent", async () => {
    const budget = await platform.api("PUT", "/v1/usage/budget", { monthlyTokens: 100 });
    expect(budget.body).toMatchObject({ monthlyTokens: 100 });
    try {
      const { body } = await platform.api("POST", "/v1/jobs", { workflow: researchJob, input: { id: "3" } });
      const job = await waitForJob(platform, body.jobId, ["failed"]);
      expect(job.steps[0].error.code).toBe("BUDGET_EXCEEDED");
      expect(job.steps[0].error.message).toMatch(/monthly token budget is spent: \d+ of 100 tokens/);
      expect(openai.requests).toHaveLength(0);
      const events = await platform.api("GET", `/v1/jobs/${body.jobId}/events`);
      expect(events.body.items).toContainEqual(
        expect.objectContaining({
          type: "step.status_changed",
          nodeId: "ask",
          status: "failed",
          error: expect.objectContaining({ code: "BUDGET_EXCEEDED" }),
        }),
      );
      const usage = await platform.api("GET", "/v1/usage");
      expect(usage.body.budget).toMatchObject({ monthlyTokens: 100 });
      expect(usage.body.month.inputTokens + usage.body.month.outputTokens).toBeGreaterThanOrEqual(100);
    } finally {
      await platform.api("PUT", "/v1/usage/budget", { monthlyTokens: null });
    }
  });
});

describe("agents, tools and secrets as resources", () => {
  it("keeps agent names unique, finds agents by name or id, renames and deletes them", async () => {
    const body = { name: "Writer", provider: "scripted", model: "m" };
    const created = await platform.api("POST", "/v1/agents", body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^ag_/), name: "Writer", maxTurns: 8 });
    expect((await platform.api("POST", "/v1/agents", { ...body, name: "writer" })).status).toBe(409);
    expect((await platform.api("GET", "/v1/agents/Writer")).body.id).toBe(created.body.id);

    const renamed = await platform.api("PUT", `/v1/agents/${created.body.id}`, {
      ...body,
      name: "Editor",
      maxTurns: 50,
    });
    expect(renamed.body).toMatchObject({
      id: created.body.id,
      name: "Editor",
      maxTurns: 50,
      createdAt: created.body.createdAt,
    });
    expect((await platform.api("GET", "/v1/agents/Writer")).status).toBe(404);
    expect((await platform.api("POST", "/v1/agents", body)).status).toBe(201);

    const list = await platform.api("GET", "/v1/agents");
    expect(list.body.items.map((a: { name: string }) => a.name)).toEqual(
      expect.arrayContaining(["Editor", "Writer", "researcher"]),
    );
    expect((await platform.api("DELETE", "/v1/agents/Editor")).status).toBe(204);
    expect((await platform.api("GET", `/v1/agents/${created.body.id}`)).status).toBe(404);
  });

  it("validates agents and tools beyond their schema", async () => {
    const unknownTool = await platform.api("POST", "/v1/agents", {
      name: "x1",
      provider: "openai",
      model: "m",
      tools: ["nope"],
    });
    expect(unknownTool.status).toBe(400);
    expect(unknownTool.body.details).toContainEqual(expect.objectContaining({ path: "tools.0" }));
    const tooManyTurns = await platform.api("POST", "/v1/agents", {
      name: "x2",
      provider: "openai",
      model: "m",
      maxTurns: 51,
    });
    expect(tooManyTurns.status).toBe(400);
    const metadata = await platform.api("POST", "/v1/agents", {
      name: "x3",
      provider: "openai",
      model: "m",
      baseUrl: "http://169.254.169.254/v1",
    });
    expect(metadata.status).toBe(400);
    expect(metadata.body.details[0].path).toBe("baseUrl");

    const builtIn = await platform.api("POST", "/v1/tools", {
      name: "http_request",
      description: "d",
      url: "https://example.com",
    });
    expect(builtIn.status).toBe(409);
    const badPlaceholder = await platform.api("POST", "/v1/tools", {
      name: "t1",
      description: "d",
      url: "https://example.com/{id}",
    });
    expect(badPlaceholder.status).toBe(400);
    const tools = await platform.api("GET", "/v1/tools");
    expect(
      tools.body.items.filter((t: { builtIn: boolean }) => t.builtIn).map((t: { name: string }) => t.name),
    ).toEqual([
      "http_request",
      "memory_get",
      "memory_put",
      "memory_delete",
      "vector_search",
      "vector_upsert",
      "code",
    ]);
    expect(tools.body.items).toContainEqual(
      expect.objectContaining({ name: "get_item", type: "http", builtIn: false }),
    );
  });

  it("replaces and deletes secrets, never showing a value", async () => {
    const first = await platform.api("POST", "/v1/secrets", { name: "rotating", value: "value-one-1234" });
    expect(first.status).toBe(201);
    expect(JSON.stringify(first.body)).not.toContain("value-one");
    const second = await platform.api("POST", "/v1/secrets", { name: "rotating", value: "value-two-5678" });
    expect(second.body.createdAt).toBe(first.body.createdAt);
    expect((await platform.api("DELETE", "/v1/secrets/rotating")).status).toBe(204);
    expect((await platform.api("DELETE", "/v1/secrets/rotating")).status).toBe(404);
  });
});
