import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EverythingServer, freePort, startEverythingServer } from "../support/mcp-servers.ts";
import { signIn, useE2E } from "./support/harness.ts";

/**
 * The MCP servers page against the reference server-everything on loopback (register, see its tools,
 * refresh, delete), and the System page's circuit breakers and endpoint health.
 */

let everything: EverythingServer;
let downPort: number;
const saved = {
  allow: process.env.SWITCHBOARD_ALLOW_HOSTS,
  failures: process.env.SWITCHBOARD_BREAKER_FAILURES,
};

function restore(name: string, value: string | undefined) {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe("MCP servers and system health in the dashboard", () => {
  const e2e = useE2E();

  beforeAll(async () => {
    [everything, downPort] = await Promise.all([startEverythingServer(), freePort()]);
    process.env.SWITCHBOARD_ALLOW_HOSTS = `${everything.hostPort},127.0.0.1:${downPort}`;
    process.env.SWITCHBOARD_BREAKER_FAILURES = "2";
  }, 60_000);

  afterAll(async () => {
    await everything?.stop();
    restore("SWITCHBOARD_ALLOW_HOSTS", saved.allow);
    restore("SWITCHBOARD_BREAKER_FAILURES", saved.failures);
  });

  it("registers a server through the form, shows its tools, refreshes and deletes it", async () => {
    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/mcp-servers");
    await page.getByRole("heading", { level: 1, name: "MCP servers" }).waitFor();
    await page.getByText("No MCP servers yet.").waitFor();

    await page.getByText("Register an MCP server").click();
    await page.getByLabel("Name", { exact: true }).fill("everything");
    await page.getByLabel("URL", { exact: true }).fill(everything.url);
    await page.getByRole("button", { name: "Register" }).click();

    const card = page.getByRole("region", { name: "everything" });
    await card.waitFor({ timeout: 20_000 });
    expect(await card.textContent()).toContain(everything.url);
    await card.getByText("Tools of everything").click();
    const tools = card.getByRole("list", { name: "Tools of everything" });
    await tools.getByText("mcp:everything/get-sum").waitFor();
    expect(await tools.textContent()).toContain("Returns the sum of two numbers");

    await card.getByRole("button", { name: "Refresh everything" }).click();
    await card
      .getByRole("status")
      .filter({ hasText: /Listed \d+ tools/ })
      .waitFor({ timeout: 20_000 });

    const listed = await e2e.api("GET", "/v1/mcp-servers");
    expect(listed.body.items.map((s: { name: string }) => s.name)).toEqual(["everything"]);

    await card.getByRole("button", { name: "Delete everything" }).click();
    await page.getByText("No MCP servers yet.").waitFor();
    expect((await e2e.api("GET", "/v1/mcp-servers")).body.items).toEqual([]);
    expect(e2e.errors()).toEqual([]);
  });

  it("shows an open breaker, an unreachable provider endpoint and a reachable MCP server", async () => {
    const server = await e2e.api("POST", "/v1/mcp-servers", { name: "health", url: everything.url });
    expect(server.status).toBe(201);
    const agent = await e2e.api("POST", "/v1/agents", {
      name: "nowhere",
      provider: "openai",
      model: "gpt-4o-mini",
      baseUrl: `http://127.0.0.1:${downPort}/v1`,
    });
    expect(agent.status).toBe(201);
    const job = await e2e.api("POST", "/v1/jobs", {
      workflow: { name: "nowhere", nodes: [{ id: "ask", type: "agent", agent: "nowhere", input: "hi" }] },
    });
    expect(job.status).toBe(202);
    await expect
      .poll(async () => (await e2e.api("GET", `/v1/jobs/${job.body.jobId}`)).body.status, { timeout: 30_000 })
      .toBe("failed");

    const page = e2e.page();
    await signIn(page, e2e.twin.url, "/system");
    const breakers = page.getByRole("region", { name: "Circuit breakers" });
    const row = breakers.getByRole("row").filter({ hasText: `openai http://127.0.0.1:${downPort}/v1` });
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toContain("open");
    expect(await row.textContent()).toContain("connection failed");

    const providers = page.getByRole("region", { name: "Model providers" });
    const endpoints = providers.getByRole("list", { name: "Endpoints of openai" });
    await endpoints.getByText(`http://127.0.0.1:${downPort}/v1/models`).waitFor();
    expect(await endpoints.textContent()).toContain("unreachable");
    expect(await endpoints.textContent()).toContain("ECONNREFUSED");

    const mcp = page.getByRole("region", { name: "MCP servers" });
    const health = mcp.getByRole("row").filter({ hasText: everything.url });
    await health.waitFor();
    expect(await health.textContent()).toContain("health");
    expect(await health.textContent()).toContain("reachable");
    expect(await health.textContent()).not.toContain("unreachable");
    expect(e2e.errors()).toEqual([]);
  });
});
