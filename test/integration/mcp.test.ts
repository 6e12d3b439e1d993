import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeProvider } from "../support/fake-providers.ts";
import {
  type EverythingServer,
  freePort,
  type McpProxy,
  startEverythingServer,
  startMcpProxy,
} from "../support/mcp-servers.ts";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";
import { bearer, createTenant, send } from "./identity-support.ts";

/**
 * MCP servers on the twin, against the reference server `@modelcontextprotocol/server-everything` in its
 * streamableHttp mode on loopback: registration lists its tools, a `tool` node and agents (scripted, and
 * the OpenAI wire protocol) call them, and a server that is down, hangs or is not allow-listed fails the
 * step with a clear error.
 */

const MCP_TOKEN = "mcp-token-0f9e8d7c6b5a";

let platform: Platform;
let everything: EverythingServer;
let proxy: McpProxy;
let openai: FakeProvider;
let downPort: number;
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;

const sumJob = (server: string, input: unknown, extra: Record<string, unknown> = {}) => ({
  name: "mcp-sum",
  nodes: [{ id: "sum", type: "tool", tool: `mcp:${server}/get-sum`, input, ...extra }],
});

async function runJob(workflow: unknown, statuses = ["succeeded", "failed"]) {
  const started = await platform.api("POST", "/v1/jobs", { workflow });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return waitForJob(platform, started.body.jobId, statuses, 60_000);
}

beforeAll(async () => {
  [everything, openai, downPort] = await Promise.all([
    startEverythingServer(),
    FakeProvider.start("openai"),
    freePort(),
  ]);
  proxy = await startMcpProxy(everything.port);
  process.env.SWITCHBOARD_ALLOW_HOSTS = [
    everything.hostPort,
    proxy.hostPort,
    openai.hostPort,
    `127.0.0.1:${downPort}`,
  ].join(",");
  platform = await startPlatform();
  const secret = await platform.api("POST", "/v1/secrets", { name: "mcp-token", value: MCP_TOKEN });
  expect(secret.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await Promise.all([everything?.stop(), proxy?.stop(), openai?.close()]);
  if (savedAllow === undefined) delete process.env.SWITCHBOARD_ALLOW_HOSTS;
  else process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
});

describe("registering an MCP server", () => {
  let serverId: string;

  it("connects, lists the server's tools with their schemas, and returns them", async () => {
    const created = await platform.api("POST", "/v1/mcp-servers", {
      name: "everything",
      url: everything.url,
      secret: "mcp-token",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    serverId = created.body.id;
    expect(created.body).toMatchObject({ name: "everything", url: everything.url, secret: "mcp-token" });
    const names = created.body.tools.map((tool: { name: string }) => tool.name);
    expect(names).toEqual(expect.arrayContaining(["echo", "get-sum"]));
    const sum = created.body.tools.find((tool: { name: string }) => tool.name === "get-sum");
    expect(sum.description).toBe("Returns the sum of two numbers");
    expect(sum.inputSchema).toMatchObject({
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    });
    expect(JSON.stringify(created.body)).not.toContain(MCP_TOKEN);
  });

  it("lists, gets by id and by name, refreshes, and refuses a second server of the same name", async () => {
    const list = await platform.api("GET", "/v1/mcp-servers");
    expect(list.status).toBe(200);
    expect(list.body.items.map((s: { id: string }) => s.id)).toContain(serverId);
    const byId = await platform.api("GET", `/v1/mcp-servers/${serverId}`);
    const byName = await platform.api("GET", "/v1/mcp-servers/EVERYTHING");
    expect(byId.status).toBe(200);
    expect(byName.body.id).toBe(serverId);

    const refreshed = await platform.api("POST", `/v1/mcp-servers/${serverId}/refresh`);
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    expect(refreshed.body.tools.length).toBe(byId.body.tools.length);
    expect(Date.parse(refreshed.body.toolsRefreshedAt)).toBeGreaterThanOrEqual(
      Date.parse(byId.body.toolsRefreshedAt),
    );

    const duplicate = await platform.api("POST", "/v1/mcp-servers", {
      name: "Everything",
      url: everything.url,
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.code).toBe("CONFLICT");

    const audit = await platform.api("GET", "/v1/audit");
    const actions = audit.body.items.map((entry: { action: string }) => entry.action);
    expect(actions).toEqual(expect.arrayContaining(["createMcpServer", "refreshMcpServer"]));
  });

  it("answers 400 for a secret that does not exist and for a malformed body", async () => {
    const noSecret = await platform.api("POST", "/v1/mcp-servers", {
      name: "nosecret",
      url: everything.url,
      secret: "missing",
    });
    expect(noSecret.status).toBe(400);
    expect(noSecret.body.message).toContain("secret");
    const bad = await platform.api("POST", "/v1/mcp-servers", { name: "has/slash", url: "ftp://x" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("VALIDATION_FAILED");
  });

  it("answers 400 MCP_UNREACHABLE for a server that is down, naming the url", async () => {
    const down = await platform.api("POST", "/v1/mcp-servers", {
      name: "down",
      url: `http://127.0.0.1:${downPort}/mcp`,
    });
    expect(down.status, JSON.stringify(down.body)).toBe(400);
    expect(down.body.code).toBe("MCP_UNREACHABLE");
    expect(down.body.details[0].path).toBe("url");
    expect(down.body.message).toContain(`127.0.0.1:${downPort}`);
    expect((await platform.api("GET", "/v1/mcp-servers/down")).status).toBe(404);
  });

  it("refuses, through the egress guard, a loopback server that is not allow-listed", async () => {
    const refused = await platform.api("POST", "/v1/mcp-servers", {
      name: "private",
      url: `http://127.0.0.2:${everything.port}/mcp`,
    });
    expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    expect(JSON.stringify(refused.body.details)).toContain("SWITCHBOARD_ALLOW_HOSTS");
  });

  it("is invisible to another tenant (404), whose workflows cannot name its tools", async () => {
    const other = await createTenant(platform, "Mcp-Other");
    const get = await send(platform.url, bearer(other.token), "GET", `/v1/mcp-servers/${serverId}`);
    expect(get.status).toBe(404);
    expect(get.body.code).toBe("NOT_FOUND");
    for (const [method, path] of [
      ["POST", `/v1/mcp-servers/${serverId}/refresh`],
      ["DELETE", `/v1/mcp-servers/${serverId}`],
    ] as const) {
      expect((await send(platform.url, bearer(other.token), method, path)).status).toBe(404);
    }
    const list = await send(platform.url, bearer(other.token), "GET", "/v1/mcp-servers");
    expect(list.body.items).toEqual([]);
    const validate = await send(
      platform.url,
      bearer(other.token),
      "POST",
      "/v1/workflows/validate",
      sumJob("everything", { a: 1, b: 2 }),
    );
    expect(validate.status).toBe(400);
    expect(validate.body.message).toContain('unknown tool "mcp:everything/get-sum"');
    expect((await platform.api("GET", `/v1/mcp-servers/${serverId}`)).status).toBe(200);
  });
});

describe("calling MCP tools", () => {
  it("validates mcp: references in workflows", async () => {
    const good = await platform.api("POST", "/v1/workflows/validate", sumJob("everything", { a: 1, b: 2 }));
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(good.body).toEqual({ valid: true });
    const unknown = await platform.api("POST", "/v1/workflows/validate", {
      name: "x",
      nodes: [{ id: "t", type: "tool", tool: "mcp:everything/no-such-tool" }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('unknown tool "mcp:everything/no-such-tool"');
  });

  it("runs get-sum from a tool node; the node's output is the tool's result", async () => {
    const job = await runJob(sumJob("everything", { a: 19, b: 23 }));
    expect(job.status, JSON.stringify(job.steps)).toBe("succeeded");
    expect(job.steps[0].output).toMatchObject({
      text: "The sum of 19 and 23 is 42.",
      content: [{ type: "text", text: "The sum of 19 and 23 is 42." }],
    });
  });

  it("fails the node with TOOL_ARGUMENTS_INVALID when the input does not match the tool's schema", async () => {
    const job = await runJob(sumJob("everything", { a: "nineteen", b: 23 }));
    expect(job.status).toBe("failed");
    expect(job.steps[0].error.code).toBe("TOOL_ARGUMENTS_INVALID");
  });

  it("lets a scripted agent call an MCP tool and read its result", async () => {
    const agent = await platform.api("POST", "/v1/agents", {
      name: "adder",
      provider: "scripted",
      model: "rules",
      tools: ["mcp:everything/*"],
      script: {
        rules: [
          { match: "The sum of \\d+ and \\d+ is (\\d+)", reply: "The tool says so.", confidence: 0.95 },
          { match: "add", toolCall: { name: "mcp:everything/get-sum", arguments: { a: 40, b: 2 } } },
        ],
      },
    });
    expect(agent.status, JSON.stringify(agent.body)).toBe(201);
    const job = await runJob({
      name: "scripted-mcp",
      nodes: [{ id: "ask", type: "agent", agent: "adder", input: { prompt: "Please add 40 and 2" } }],
    });
    expect(job.status, JSON.stringify(job.steps)).toBe("succeeded");
    const output = job.steps[0].output;
    expect(output.text).toBe("The tool says so.");
    expect(output.toolCalls).toHaveLength(1);
    expect(output.toolCalls[0]).toMatchObject({
      name: "mcp:everything/get-sum",
      arguments: { a: 40, b: 2 },
      result: { text: "The sum of 40 and 2 is 42." },
    });
  });

  it("gives a model the tool's description and schema, and the tool's result or error back", async () => {
    openai.reset();
    openai.enqueue(
      { toolCalls: [{ id: "c1", name: "mcp__everything__get-sum", arguments: { a: 1, b: "two" } }] },
      { toolCalls: [{ id: "c2", name: "mcp__everything__get-sum", arguments: { a: 1, b: 2 } }] },
      { text: "One and two make three." },
    );
    const agent = await platform.api("POST", "/v1/agents", {
      name: "model-adder",
      provider: "openai",
      model: "gpt-4o-mini",
      baseUrl: `${openai.url}/v1`,
      tools: ["mcp:everything/get-sum"],
    });
    expect(agent.status, JSON.stringify(agent.body)).toBe(201);
    const job = await runJob({
      name: "model-mcp",
      nodes: [{ id: "ask", type: "agent", agent: "model-adder", input: "What is 1 + 2?" }],
    });
    expect(job.status, JSON.stringify(job.steps)).toBe("succeeded");
    expect(job.steps[0].output.text).toBe("One and two make three.");

    const first = openai.requests[0]?.body;
    expect(first.tools).toEqual([
      {
        type: "function",
        function: expect.objectContaining({
          name: "mcp__everything__get-sum",
          description: "Returns the sum of two numbers",
          parameters: expect.objectContaining({ properties: { a: expect.anything(), b: expect.anything() } }),
        }),
      },
    ]);
    const toolMessages = (index: number) =>
      openai.requests[index]?.body.messages.filter((m: { role: string }) => m.role === "tool");
    expect(toolMessages(1)[0].content).toContain("TOOL_ARGUMENTS_INVALID");
    expect(toolMessages(2)[1].content).toContain("The sum of 1 and 2 is 3.");
    expect(job.steps[0].output.toolCalls.map((c: { error?: unknown }) => c.error !== undefined)).toEqual([
      true,
      false,
    ]);
  });
});

describe("servers that fail", () => {
  it("sends the stored secret as a bearer token, then fails the step with MCP_UNREACHABLE when the server is down", async () => {
    proxy.mode = "pass";
    const created = await platform.api("POST", "/v1/mcp-servers", {
      name: "proxied",
      url: proxy.url,
      secret: "mcp-token",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(proxy.authorizations.length).toBeGreaterThan(0);
    expect(new Set(proxy.authorizations)).toEqual(new Set([`Bearer ${MCP_TOKEN}`]));
    const ok = await runJob(sumJob("proxied", { a: 2, b: 2 }));
    expect(ok.steps[0].output.text).toBe("The sum of 2 and 2 is 4.");
    expect(new Set(proxy.authorizations)).toEqual(new Set([`Bearer ${MCP_TOKEN}`]));
    expect(JSON.stringify(ok)).not.toContain(MCP_TOKEN);
    proxy.mode = "fail";
    const job = await runJob(sumJob("proxied", { a: 1, b: 1 }));
    expect(job.status).toBe("failed");
    expect(job.steps[0].error.code).toBe("MCP_UNREACHABLE");
    expect(job.steps[0].error.message).toContain("503");
  });

  it("fails a step whose server hangs with MCP_TIMEOUT within the node's timeout", async () => {
    proxy.mode = "hang";
    const started = Date.now();
    const job = await runJob(sumJob("proxied", { a: 1, b: 1 }, { timeoutSeconds: 2 }));
    expect(job.status).toBe("failed");
    expect(job.steps[0].error.code).toBe("MCP_TIMEOUT");
    expect(job.steps[0].error.message).toMatch(
      /mcp:proxied\/get-sum: MCP server 127\.0\.0\.1:\d+ did not answer within \d+ ms/,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    proxy.mode = "pass";
  });

  it("fails the step with EGRESS_DENIED once the server is no longer allow-listed", async () => {
    const allowed = process.env.SWITCHBOARD_ALLOW_HOSTS ?? "";
    process.env.SWITCHBOARD_ALLOW_HOSTS = allowed
      .split(",")
      .filter((entry) => entry !== everything.hostPort)
      .join(",");
    try {
      const job = await runJob(sumJob("everything", { a: 1, b: 1 }));
      expect(job.status).toBe("failed");
      expect(job.steps[0].error.code).toBe("EGRESS_DENIED");
      expect(job.steps[0].error.message).toContain("SWITCHBOARD_ALLOW_HOSTS");
    } finally {
      process.env.SWITCHBOARD_ALLOW_HOSTS = allowed;
    }
  });

  it("shows each server's reachability and its breaker in /v1/system/status", async () => {
    proxy.mode = "fail";
    const job = await runJob(sumJob("proxied", { a: 1, b: 1 }));
    expect(job.steps[0].error.code).toBe("MCP_UNREACHABLE");
    const refresh = await platform.api("POST", "/v1/mcp-servers/proxied/refresh");
    expect(refresh.status).toBe(502);
    expect(refresh.body.code).toBe("MCP_UNREACHABLE");
    proxy.mode = "pass";
    const status = await platform.api("GET", "/v1/system/status");
    expect(status.status).toBe(200);
    const everythingStatus = status.body.mcpServers.find((s: { name: string }) => s.name === "everything");
    expect(everythingStatus).toMatchObject({
      url: everything.url,
      reachable: true,
      httpStatus: expect.any(Number),
    });
    expect(status.body.breakers).toContainEqual(
      expect.objectContaining({
        kind: "mcp",
        target: proxy.url,
        state: "closed",
        lastError: "MCP_UNREACHABLE",
      }),
    );
    const failures = status.body.breakers.find((b: { target: string }) => b.target === proxy.url).failures;
    expect(failures).toBeGreaterThanOrEqual(3);
  });

  it("deletes a server; its tools are then unknown", async () => {
    const deleted = await platform.api("DELETE", "/v1/mcp-servers/proxied");
    expect(deleted.status).toBe(204);
    expect((await platform.api("GET", "/v1/mcp-servers/proxied")).status).toBe(404);
    const job = await runJob(sumJob("proxied", { a: 1, b: 1 }));
    expect(job.status).toBe("failed");
    expect(job.steps[0].error).toMatchObject({ code: "UNKNOWN_TOOL" });
    const validate = await platform.api("POST", "/v1/workflows/validate", sumJob("proxied", { a: 1, b: 1 }));
    expect(validate.status).toBe(400);
  });
});
