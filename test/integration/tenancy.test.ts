import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpRoute, manifest } from "#infra/manifest";
import { type EverythingServer, startEverythingServer } from "../support/mcp-servers.ts";
import { type Platform, SocketClient, startPlatform } from "../support/platform.ts";
import {
  apiKey,
  bearer,
  createKey,
  createTenant,
  createUser,
  expectOk,
  fillPath,
  send,
} from "./identity-support.ts";

/**
 * Tenant A is the bootstrap tenant; tenant B is created through POST /v1/tenants. B's admin, holding A's
 * ids, must find nothing: every route that takes a path parameter (generated from the manifest) answers
 * 404, never 403, and no byte of A's data comes back.
 */

let everything: EverythingServer | undefined;
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;
function restoreAllow() {
  if (savedAllow === undefined) delete process.env.SWITCHBOARD_ALLOW_HOSTS;
  else process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
}

/** Written into every resource of A, so a leak shows up in any response body. */
const MARKER = "alpha-marker";

type Params = Record<string, string>;
type Make = (platform: Platform) => Promise<Params>;

const workflow = (name: string) => ({ name, nodes: [{ id: "a", type: "code", code: `return "${MARKER}"` }] });

/** One real resource of tenant A per collection, by the first path segment after `/v1`. */
const fixtures: Record<string, Make> = {
  jobs: async (p) => {
    const job = await expectOk(
      p.api("POST", "/v1/jobs", { workflow: workflow(`${MARKER}-job`), input: { MARKER } }),
      202,
    );
    return { id: job.jobId };
  },
  users: async (p) => ({ id: (await createUser(p.url, p.token, "user", `${MARKER}@a.test`)).id }),
  "api-keys": async (p) => ({
    id: (await createKey(p.url, bearer(p.token), "viewer", { name: `${MARKER}-key` })).id,
  }),
  agents: async (p) => {
    const agent = await expectOk(
      p.api("POST", "/v1/agents", {
        name: "alphaAgent",
        provider: "scripted",
        model: "m",
        systemPrompt: MARKER,
      }),
      201,
    );
    return { id: agent.id };
  },
  tools: async (p) => {
    const tool = await expectOk(
      p.api("POST", "/v1/tools", { name: "alphaTool", description: MARKER, url: "https://example.com/x" }),
      201,
    );
    return { id: tool.id };
  },
  "mcp-servers": async (p) => {
    everything = await startEverythingServer();
    process.env.SWITCHBOARD_ALLOW_HOSTS = [process.env.SWITCHBOARD_ALLOW_HOSTS, everything.hostPort]
      .filter((entry) => entry !== undefined && entry !== "")
      .join(",");
    const server = await expectOk(
      p.api("POST", "/v1/mcp-servers", { name: `${MARKER}-mcp`, url: everything.url }),
      201,
    );
    return { id: server.id };
  },
  collections: async (p) => {
    await expectOk(
      p.api("POST", "/v1/collections", { name: "alpha-docs", embedding: { provider: "local" } }),
      201,
    );
    await expectOk(
      p.api("PUT", "/v1/collections/alpha-docs/documents", { documents: [{ id: "alphaDoc", text: MARKER }] }),
      200,
    );
    return { name: "alpha-docs", documentId: "alphaDoc" };
  },
  sessions: async (p) => {
    const agent = await expectOk(
      p.api("POST", "/v1/agents", { name: "alphaSessionAgent", provider: "scripted", model: "m" }),
      201,
    );
    const session = await expectOk(
      p.api("POST", "/v1/sessions", { agent: agent.id, metadata: { MARKER } }),
      201,
    );
    return { id: session.id };
  },
  secrets: async (p) => {
    await expectOk(p.api("POST", "/v1/secrets", { name: "alphaSecret", value: MARKER }), 201);
    return { name: "alphaSecret" };
  },
  memory: async (p) => {
    const status = (await p.api("PUT", "/v1/memory/alphaNs/alphaKey", { value: MARKER })).status;
    if (status >= 300) throw new Error(`memory fixture: ${status}`);
    return { namespace: "alphaNs", key: "alphaKey" };
  },
  workflows: async (p) => {
    const created = await expectOk(p.api("POST", "/v1/workflows", workflow(`${MARKER}-wf`)), 201);
    return { id: created.id, version: "1" };
  },
  schedules: async (p) => {
    const wf = await expectOk(p.api("POST", "/v1/workflows", workflow(`${MARKER}-sched`)), 201);
    const schedule = await expectOk(
      p.api("POST", "/v1/schedules", {
        name: `${MARKER}-schedule`,
        workflowId: wf.id,
        expression: "rate(1 day)",
        enabled: false,
      }),
      201,
    );
    return { id: schedule.id };
  },
  "notification-targets": async (p) => {
    const target = await expectOk(
      p.api("POST", "/v1/notification-targets", {
        type: "webhook",
        url: "https://example.com/hook",
        description: MARKER,
      }),
      201,
    );
    return { id: target.id };
  },
  approvals: async (p) => {
    const job = await expectOk(
      p.api("POST", "/v1/jobs", {
        workflow: { name: `${MARKER}-gate`, nodes: [{ id: "gate", type: "approval", message: MARKER }] },
      }),
      202,
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const list = await p.api("GET", `/v1/approvals?jobId=${job.jobId}`);
      const approval = list.body?.items?.[0];
      if (approval !== undefined) return { id: approval.id };
      if (Date.now() > deadline)
        throw new Error(`no approval for job ${job.jobId}: ${JSON.stringify(list.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  },
};

/** Valid bodies, so that the answer is about the resource rather than the input. */
const bodies: Record<string, unknown> = {
  updateUser: { role: "viewer" },
  updateAgent: { name: "betaAgent", provider: "scripted", model: "m" },
  updateTool: { name: "betaTool", description: "b", url: "https://example.com/y" },
  updateWorkflow: workflow("beta-wf"),
  updateSchedule: { enabled: false },
  decideApproval: { decision: "approve" },
  putMemory: { value: "beta" },
  upsertDocuments: { documents: [{ id: "betaDoc", text: "beta" }] },
  queryCollection: { text: "beta" },
};

/**
 * Memory namespaces are names inside the caller's own tenant, not resources with an owner: B reading, writing
 * or deleting "alphaNs" reaches B's own namespace (found or not, depending on what B wrote before). These must
 * still neither reveal nor change A's entry, which the last suite checks.
 */
const ownNamespace = new Set(
  manifest.http.routes.filter((r) => r.path.startsWith("/v1/memory/")).map((r) => r.id),
);

const collectionOf = (route: HttpRoute) => route.path.split("/")[2] ?? "";
const parameterised = manifest.http.routes.filter(
  (route) => route.path.includes("{") && route.auth === "authorizer",
);

let platform: Platform;
let tenantB: Awaited<ReturnType<typeof createTenant>>;
const a: Record<string, Params> = {};
const fixtureErrors: Record<string, string> = {};

beforeAll(async () => {
  platform = await startPlatform();
  tenantB = await createTenant(platform, "Beta");
  for (const collection of new Set(parameterised.map(collectionOf))) {
    const make = fixtures[collection];
    if (make === undefined) continue;
    try {
      a[collection] = await make(platform);
    } catch (error) {
      fixtureErrors[collection] = error instanceof Error ? error.message : String(error);
    }
  }
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  await everything?.stop();
  restoreAllow();
});

describe("fixtures", () => {
  it("has a tenant-A resource for every collection a parameterised route names", () => {
    const missing = [...new Set(parameterised.map(collectionOf))].filter((c) => a[c] === undefined);
    expect(
      missing.map((c) => `${c}: ${fixtureErrors[c] ?? "add a fixture in test/integration/tenancy.test.ts"}`),
    ).toEqual([]);
  });
});

describe.each(parameterised.map((route) => [`${route.method} ${route.path}`, route] as const))(
  "tenant B on %s with tenant A's ids",
  (_, route) => {
    it(
      ownNamespace.has(route.id) ? "reaches only its own namespace" : "answers 404 and nothing of A",
      async () => {
        const params = a[collectionOf(route)] ?? {};
        const path = fillPath(route.path, params);
        const body =
          route.method === "GET" || route.method === "DELETE" ? undefined : (bodies[route.id] ?? {});
        const result = await send(platform.url, bearer(tenantB.token), route.method, path, body);
        if (ownNamespace.has(route.id)) {
          expect([200, 201, 204, 404], JSON.stringify(result.body)).toContain(result.status);
        } else {
          expect(result.status, JSON.stringify(result.body)).toBe(404);
          expect(result.body.code).toBe("NOT_FOUND");
        }
        expect(JSON.stringify(result.body ?? "")).not.toContain(MARKER);
      },
    );
  },
);

describe("tenant B's listings", () => {
  const listings = manifest.http.routes.filter(
    (route) => route.method === "GET" && route.auth === "authorizer" && !route.path.includes("{"),
  );
  it.each(listings.map((route) => [route.path, route] as const))(
    "GET %s shows nothing of A",
    async (_, route) => {
      const result = await send(platform.url, bearer(tenantB.token), "GET", route.path);
      expect([401, 403]).not.toContain(result.status);
      expect(JSON.stringify(result.body ?? "")).not.toContain(MARKER);
    },
  );
});

describe("tenant A after B's attempts", () => {
  it("still has every resource, unchanged", async () => {
    const reads: [string, string][] = [
      ["jobs", `/v1/jobs/${a.jobs?.id}`],
      ["users", `/v1/users/${a.users?.id}`],
      ["agents", `/v1/agents/${a.agents?.id}`],
      ["tools", `/v1/tools/${a.tools?.id}`],
      ["memory", `/v1/memory/${a.memory?.namespace}/${a.memory?.key}`],
      ["workflows", `/v1/workflows/${a.workflows?.id}`],
      ["schedules", `/v1/schedules/${a.schedules?.id}`],
      ["approvals", `/v1/approvals/${a.approvals?.id}`],
    ];
    for (const [collection, path] of reads.filter(([c]) => a[c] !== undefined)) {
      const result = await platform.api("GET", path);
      expect(result.status, `${collection}: ${JSON.stringify(result.body)}`).toBe(200);
      expect(JSON.stringify(result.body), collection).toContain(MARKER);
    }
    expect((await platform.api("GET", `/v1/users/${a.users?.id}`)).body.role).toBe("user");
    const keys = await platform.api("GET", "/v1/api-keys");
    const key = keys.body.items.find((k: { id: string }) => k.id === a["api-keys"]?.id);
    expect(key).toBeDefined();
    expect(key.revokedAt).toBeUndefined();
  });

  it("B's API key is as blind as B's admin", async () => {
    const key = await createKey(platform.url, bearer(tenantB.token), "admin");
    const result = await send(platform.url, apiKey(key.key), "GET", `/v1/jobs/${a.jobs?.id}`);
    expect(result.status).toBe(404);
  });

  it("a cursor from A's listing is refused in B's", async () => {
    await createUser(platform.url, platform.token, "viewer");
    const first = await platform.api("GET", "/v1/users?limit=1");
    expect(first.body.cursor).toEqual(expect.any(String));
    const result = await send(
      platform.url,
      bearer(tenantB.token),
      "GET",
      `/v1/users?limit=1&cursor=${first.body.cursor}`,
    );
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).not.toContain(MARKER);
  });
});

describe("tenant controls across tenants", () => {
  it("keeps A's limits and settings out of B's, and B cannot name A's agent in its limits", async () => {
    await expectOk(
      platform.api("PUT", "/v1/limits", { jobUsd: 7, agents: { alphaAgent: { tokensPerMinute: 777 } } }),
      200,
    );
    await expectOk(platform.api("PUT", "/v1/tenant/settings", { resourceAccess: "owner" }), 200);
    try {
      const limits = await send(platform.url, bearer(tenantB.token), "GET", "/v1/limits");
      expect(limits.body).toEqual({ agents: [] });
      const settings = await send(platform.url, bearer(tenantB.token), "GET", "/v1/tenant/settings");
      expect(settings.body).toMatchObject({ resourceAccess: "tenant" });
      const named = await send(platform.url, bearer(tenantB.token), "PUT", "/v1/limits", {
        agents: { alphaAgent: { jobUsd: 1 } },
      });
      expect(named.status).toBe(400);
      expect((await platform.api("GET", "/v1/limits")).body).toMatchObject({
        jobUsd: 7,
        agents: [{ agent: "alphaAgent", tokensPerMinute: 777 }],
      });
    } finally {
      await expectOk(platform.api("PUT", "/v1/limits", { jobUsd: null, agents: { alphaAgent: null } }), 200);
      await expectOk(platform.api("PUT", "/v1/tenant/settings", { resourceAccess: "tenant" }), 200);
    }
  });
});

describe("WebSocket across tenants", () => {
  it("refuses B's subscription to A's job with NOT_FOUND, and B sees none of A's events", async () => {
    const alpha = await SocketClient.open(platform.wsUrl, platform.token);
    const beta = await SocketClient.open(platform.wsUrl, tenantB.token);
    try {
      beta.send({ action: "subscribe", jobId: a.jobs?.id });
      const error = await beta.waitFor((m) => m.type === "error");
      expect(error.code).toBe("NOT_FOUND");

      alpha.send({ action: "subscribe", all: true });
      beta.send({ action: "subscribe", all: true });
      await alpha.waitFor((m) => m.type === "subscribed" && m.all === true);
      await beta.waitFor((m) => m.type === "subscribed" && m.all === true);

      const job = await expectOk(platform.api("POST", "/v1/jobs", { workflow: workflow("ws-probe") }), 202);
      // A's own socket sees the job's events, which proves they flowed while B was listening.
      await alpha.waitFor((m) => m.jobId === job.jobId && m.type !== "subscribed");
      beta.send({ action: "ping" });
      await beta.waitFor((m) => m.type === "pong");
      expect(beta.messages.filter((m) => m.jobId !== undefined)).toEqual([]);
      expect(JSON.stringify(beta.messages)).not.toContain(MARKER);
    } finally {
      await alpha.close();
      await beta.close();
    }
  });
});
