/**
 * A contract tester: sends real requests for every operation of the OpenAPI document (`GET /openapi.json`)
 * to the twin, and checks each answer's status is one the document lists for that operation and its body
 * validates against the document's schema for that status (JSON Schema 2020-12, with ajv). Requests are made
 * by operation id, with paths taken from the document itself. Every operation must be exercised.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEverythingServer } from "../support/mcp-servers.ts";
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  type Platform,
  startPlatform,
  waitForJob,
} from "../support/platform.ts";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

interface Operation {
  id: string;
  method: string;
  path: string;
  responses: Record<string, { content?: Record<string, unknown> }>;
}

interface Call {
  params?: Record<string, string | number>;
  query?: Record<string, string | number>;
  body?: unknown;
  /** Send no credentials, or these instead of the admin's. */
  auth?: false | string;
}

interface Mismatch {
  operation: string;
  status: number;
  problem: string;
}

let platform: Platform;
let doc: any;
let ajv: Ajv2020;
const operations = new Map<string, Operation>();
const exercised = new Map<string, Set<number>>();
const mismatches: Mismatch[] = [];

const pointer = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** Sends one request of an operation and checks the answer against the document; returns status and body. */
async function call(id: string, request: Call = {}): Promise<{ status: number; body: any }> {
  const op = operations.get(id);
  if (op === undefined) throw new Error(`The document has no operation ${id}`);
  const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) =>
    encodeURIComponent(String(request.params?.[name] ?? "")),
  );
  const search = new URLSearchParams(
    Object.entries(request.query ?? {}).map(([k, v]) => [k, String(v)] as [string, string]),
  ).toString();
  const headers: Record<string, string> = {};
  if (request.auth !== false) headers.authorization = `Bearer ${request.auth ?? platform.token}`;
  if (request.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    response = await fetch(`${platform.url}${path}${search === "" ? "" : `?${search}`}`, {
      method: op.method.toUpperCase(),
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    });
    // The gateway's usage plan throttles a fast caller; that 429 is documented, but the test wants the route's answer.
    if (response.status !== 429 || id === "login" || attempt >= 10) break;
    await response.body?.cancel();
    await new Promise((r) => setTimeout(r, 1000 * Number(response.headers.get("retry-after") ?? 1)));
  }
  const text = await response.text();
  const body = text === "" ? undefined : JSON.parse(text);
  const status = response.status;
  (exercised.get(id) ?? exercised.set(id, new Set()).get(id))?.add(status);
  const documented = op.responses[String(status)];
  if (documented === undefined) {
    mismatches.push({
      operation: id,
      status,
      problem: `status not documented (has ${Object.keys(op.responses).join(", ")}): ${text.slice(0, 200)}`,
    });
    return { status, body };
  }
  const hasBody = documented.content?.["application/json"] !== undefined;
  if (!hasBody) {
    if (text !== "")
      mismatches.push({ operation: id, status, problem: `documented without a body, got ${text}` });
    return { status, body };
  }
  const ref = `openapi#/paths/${pointer(op.path)}/${op.method}/responses/${status}/content/application~1json/schema`;
  const validate = ajv.getSchema(ref);
  if (validate === undefined) throw new Error(`No schema at ${ref}`);
  if (!validate(body)) {
    mismatches.push({
      operation: id,
      status,
      problem: `body does not match: ${ajv.errorsText(validate.errors)} in ${text.slice(0, 300)}`,
    });
  }
  return { status, body };
}

beforeAll(async () => {
  platform = await startPlatform();
  const response = await fetch(`${platform.url}/openapi.json`);
  doc = await response.json();
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, "openapi");
  for (const [path, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      operations.set(op.operationId, { id: op.operationId, method, path, responses: op.responses });
    }
  }
}, 120_000);

afterAll(async () => {
  await platform?.stop();
});

describe("the OpenAPI document", () => {
  it("names its shared schemas, its servers and its license", () => {
    expect(doc.info.license).toMatchObject({ name: "Apache-2.0" });
    expect(doc.servers).toEqual([expect.objectContaining({ url: platform.url })]);
    for (const name of [
      "Job",
      "JobDetail",
      "JobRef",
      "Step",
      "Workflow",
      "WorkflowDefinition",
      "Agent",
      "Error",
    ]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    const getJob = doc.paths["/v1/jobs/{id}"].get.responses["200"].content["application/json"].schema;
    expect(getJob).toEqual({ $ref: "#/components/schemas/JobDetail" });
  });

  it("documents the statuses callers rely on", () => {
    const codes = (id: string) => Object.keys(operations.get(id)?.responses ?? {});
    expect(codes("login")).toEqual(expect.arrayContaining(["200", "400", "401", "429"]));
    expect(codes("refresh")).toEqual(expect.arrayContaining(["200", "401", "429"]));
    expect(codes("createJob")).toEqual(expect.arrayContaining(["200", "202", "404"]));
    for (const id of [
      "cancelJob",
      "retryJob",
      "decideApproval",
      "createWorkflow",
      "createAgent",
      "createTool",
    ]) {
      expect(codes(id), id).toContain("409");
    }
  });
});

describe("every operation answers as the document says", () => {
  it("exercises every operation, and each answer's status and body match the document", async () => {
    // Public routes and sign-in.
    await call("health", { auth: false });
    await call("ready", { auth: false });
    await call("openapi", { auth: false });
    const signedIn = await call("login", {
      auth: false,
      body: { email: ADMIN_EMAIL, password: ADMIN_PASSWORD },
    });
    expect(signedIn.status).toBe(200);
    expect(
      (await call("login", { auth: false, body: { email: ADMIN_EMAIL, password: "wrong-password" } })).status,
    ).toBe(401);
    expect((await call("login", { auth: false, body: { email: "x" } })).status).toBe(400);
    let throttled = 0;
    for (let i = 0; i < 15 && throttled === 0; i++) {
      const attempt = await call("login", {
        auth: false,
        body: { email: "nobody@switchboard.test", password: "nope" },
      });
      if (attempt.status === 429) throttled++;
    }
    expect(throttled).toBe(1);
    expect(
      (await call("refresh", { auth: false, body: { refreshToken: signedIn.body.refreshToken } })).status,
    ).toBe(200);
    expect(
      (await call("refresh", { auth: false, body: { refreshToken: signedIn.body.refreshToken } })).status,
    ).toBe(401);
    expect((await call("me", { auth: false })).status).toBe(401);
    await call("me");

    // Workflows, with unique names.
    const definition = {
      name: "contract-double",
      nodes: [{ id: "double", type: "code", input: { n: "{% $input.n %}" }, code: "return input.n * 2" }],
    };
    const workflow = await call("createWorkflow", { body: definition });
    expect(workflow.status).toBe(201);
    expect((await call("createWorkflow", { body: definition })).status).toBe(409);
    await call("listWorkflows");
    expect((await call("validateWorkflow", { body: definition })).status).toBe(200);
    expect((await call("validateWorkflow", { body: { name: "x", nodes: [] } })).status).toBe(400);
    const workflowId = workflow.body.id;
    await call("getWorkflow", { params: { id: workflowId } });
    expect((await call("getWorkflow", { params: { id: "wf_missing" } })).status).toBe(404);
    await call("updateWorkflow", {
      params: { id: workflowId },
      body: { ...definition, output: { n: "{% $steps.double.output %}" } },
    });
    await call("listWorkflowVersions", { params: { id: workflowId } });
    await call("getWorkflowVersion", { params: { id: workflowId, version: 1 } });

    // Jobs: create, idempotent repeat, read, cancel and retry in the states that refuse them, bulk.
    const created = await call("createJob", {
      body: { workflowId, input: { n: 21 }, idempotencyKey: "contract-1" },
    });
    expect(created.status).toBe(202);
    expect(created.body.id).toBe(created.body.jobId);
    const repeat = await call("createJob", {
      body: { workflowId, input: { n: 21 }, idempotencyKey: "contract-1" },
    });
    expect(repeat).toMatchObject({ status: 200, body: { id: created.body.id } });
    expect((await call("createJob", { body: { workflowId: "wf_missing" } })).status).toBe(404);
    const jobId = created.body.id;
    await waitForJob(platform, jobId, ["succeeded"]);
    await call("listJobs");
    await call("getJob", { params: { id: jobId } });
    expect((await call("getJob", { params: { id: "job_missing" } })).status).toBe(404);
    await call("getJobEvents", { params: { id: jobId } });
    expect((await call("cancelJob", { params: { id: jobId } })).status).toBe(409);
    expect((await call("retryJob", { params: { id: jobId } })).status).toBe(409);

    const gated = await call("createJob", {
      body: {
        workflow: { name: "contract-gate", nodes: [{ id: "gate", type: "approval", message: "Go?" }] },
      },
    });
    const gatedId = gated.body.id;
    await waitForJob(platform, gatedId, ["waiting"]);
    const approvals = await call("listApprovals", { query: { jobId: gatedId } });
    const approvalId = approvals.body.items[0].id;
    await call("getApproval", { params: { id: approvalId } });
    expect(
      (
        await call("decideApproval", {
          params: { id: approvalId },
          body: { decision: "approve", comment: "ok" },
        })
      ).status,
    ).toBe(200);
    expect(
      (await call("decideApproval", { params: { id: approvalId }, body: { decision: "reject" } })).status,
    ).toBe(409);
    await waitForJob(platform, gatedId, ["succeeded"]);

    const waiting = await call("createJob", {
      body: {
        workflow: { name: "contract-wait", nodes: [{ id: "gate", type: "approval", message: "Go?" }] },
      },
    });
    await waitForJob(platform, waiting.body.id, ["waiting"]);
    expect((await call("cancelJob", { params: { id: waiting.body.id } })).status).toBe(200);
    // A cancelled job is not retried; a failed one is.
    expect((await call("retryJob", { params: { id: waiting.body.id } })).status).toBe(409);
    const failing = await call("createJob", {
      body: {
        workflow: {
          name: "contract-fail",
          nodes: [{ id: "boom", type: "code", code: "throw new Error('no')", retry: { maxAttempts: 1 } }],
        },
      },
    });
    await waitForJob(platform, failing.body.id, ["failed"]);
    expect((await call("retryJob", { params: { id: failing.body.id } })).status).toBe(202);
    const waitingAgain = await call("createJob", {
      body: {
        workflow: { name: "contract-wait-2", nodes: [{ id: "gate", type: "approval", message: "Go?" }] },
      },
    });
    await waitForJob(platform, waitingAgain.body.id, ["waiting"]);
    const bulk = await call("bulkJobs", {
      body: { action: "cancel", ids: [waitingAgain.body.id, jobId, "job_missing"] },
    });
    expect(bulk.status).toBe(200);
    expect(bulk.body.results.map((r: any) => r.status ?? r.error.status)).toEqual(["cancelled", 409, 404]);
    expect((await call("bulkJobs", { body: { action: "pause", ids: [jobId] } })).status).toBe(400);
    const plan = await call("rerunJob", { params: { id: jobId }, body: { dryRun: true, input: { n: 1 } } });
    expect(plan).toMatchObject({ status: 200, body: { dryRun: true, steps: [{ action: "run" }] } });
    expect((await call("rerunJob", { params: { id: jobId }, body: {} })).status).toBe(202);
    expect((await call("rerunJob", { params: { id: jobId }, body: { fromStep: "nope" } })).status).toBe(400);
    expect((await call("rerunJob", { params: { id: "job_missing" }, body: {} })).status).toBe(404);

    // Agents, tools, secrets, memory, usage.
    const agentBody = { name: "contract-agent", provider: "scripted", model: "m" };
    const agent = await call("createAgent", { body: agentBody });
    expect(agent.status).toBe(201);
    expect((await call("createAgent", { body: agentBody })).status).toBe(409);
    await call("listAgents");
    await call("getAgent", { params: { id: agent.body.id } });
    await call("updateAgent", { params: { id: agent.body.id }, body: { ...agentBody, system: "Be brief." } });
    await call("getAgentStats", { params: { id: agent.body.id } });
    const calibration = await call("getAgentCalibration", { params: { id: agent.body.id } });
    expect(calibration.body.recommendedAutoApproveAt).toBeNull();
    expect((await call("getAgentCalibration", { params: { id: "agent_missing" } })).status).toBe(404);
    expect((await call("deleteAgent", { params: { id: agent.body.id } })).status).toBe(204);
    expect((await call("getAgent", { params: { id: agent.body.id } })).status).toBe(404);

    const toolBody = { name: "contract_tool", description: "d", url: "https://example.com/items" };
    const tool = await call("createTool", { body: toolBody });
    expect(tool.status).toBe(201);
    expect((await call("createTool", { body: toolBody })).status).toBe(409);
    await call("listTools");
    await call("getTool", { params: { id: tool.body.id } });
    await call("updateTool", { params: { id: tool.body.id }, body: { ...toolBody, description: "e" } });
    expect((await call("deleteTool", { params: { id: "http_request" } })).status).toBe(409);
    expect((await call("deleteTool", { params: { id: tool.body.id } })).status).toBe(204);

    // MCP servers, against a real one on loopback.
    const everything = await startEverythingServer();
    try {
      process.env.SWITCHBOARD_ALLOW_HOSTS = [process.env.SWITCHBOARD_ALLOW_HOSTS, everything.hostPort]
        .filter((entry) => entry !== undefined && entry !== "")
        .join(",");
      const server = await call("createMcpServer", { body: { name: "contract-mcp", url: everything.url } });
      expect(server.status).toBe(201);
      expect(
        (await call("createMcpServer", { body: { name: "contract-mcp", url: everything.url } })).status,
      ).toBe(409);
      await call("listMcpServers");
      await call("getMcpServer", { params: { id: server.body.id } });
      expect((await call("refreshMcpServer", { params: { id: server.body.id } })).status).toBe(200);
      expect((await call("deleteMcpServer", { params: { id: server.body.id } })).status).toBe(204);
      expect((await call("getMcpServer", { params: { id: server.body.id } })).status).toBe(404);
    } finally {
      await everything.stop();
    }

    // Collections and sessions, with the built-in embedder.
    const collection = await call("createCollection", {
      body: { name: "contract-docs", embedding: { provider: "local" } },
    });
    expect(collection.status).toBe(201);
    await call("listCollections");
    await call("getCollection", { params: { name: "contract-docs" } });
    await call("upsertDocuments", {
      params: { name: "contract-docs" },
      body: {
        documents: [{ id: "d1", text: "Refunds are paid within five days.", metadata: { kind: "faq" } }],
      },
    });
    const matches = await call("queryCollection", {
      params: { name: "contract-docs" },
      body: { text: "refunds" },
    });
    expect(matches.body.matches[0].id).toBe("d1");
    expect(
      (await call("deleteDocument", { params: { name: "contract-docs", documentId: "d1" } })).status,
    ).toBe(204);
    expect((await call("deleteCollection", { params: { name: "contract-docs" } })).status).toBe(204);
    const sessionAgent = await call("createAgent", {
      body: { name: "contract-session-agent", provider: "scripted", model: "m" },
    });
    const session = await call("createSession", { body: { agent: sessionAgent.body.id } });
    expect(session.status).toBe(201);
    await call("listSessions");
    expect((await call("getSession", { params: { id: session.body.id } })).body.messages).toEqual([]);
    expect((await call("deleteSession", { params: { id: session.body.id } })).status).toBe(204);

    expect(
      (await call("createSecret", { body: { name: "contract-key", value: "s3cret-value" } })).status,
    ).toBe(201);
    const secrets = await call("listSecrets");
    expect(JSON.stringify(secrets.body)).not.toContain("s3cret-value");
    expect((await call("deleteSecret", { params: { name: "contract-key" } })).status).toBe(204);

    await call("putMemory", { params: { namespace: "contract", key: "k" }, body: { value: { a: 1 } } });
    await call("getMemory", { params: { namespace: "contract", key: "k" } });
    await call("listMemoryKeys", { params: { namespace: "contract" } });
    expect((await call("deleteMemory", { params: { namespace: "contract", key: "k" } })).status).toBe(204);
    expect((await call("getMemory", { params: { namespace: "contract", key: "k" } })).status).toBe(404);

    await call("getUsage");
    await call("getUsage", { query: { groupBy: "agent" } });
    await call("getUsage", { query: { groupBy: "workflow" } });
    const stats = await call("jobStats");
    expect(stats.body.total.total).toBeGreaterThan(0);
    expect(
      (await call("jobStats", { query: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" } }))
        .status,
    ).toBe(400);
    await call("getBudget");
    await call("putBudget", { body: { monthlyUsd: 50 } });
    expect((await call("putLimits", { body: { tokensPerMinute: 100_000, jobUsd: 2 } })).status).toBe(200);
    expect((await call("putLimits", { body: { agents: { "no-such-agent": { jobUsd: 1 } } } })).status).toBe(
      400,
    );
    expect((await call("getLimits")).body).toMatchObject({ tokensPerMinute: 100_000, jobUsd: 2 });
    expect((await call("getUsage")).body.limits.windows).toEqual([
      expect.objectContaining({ scope: "tenant", tokensPerMinute: 100_000 }),
    ]);
    await call("putLimits", { body: { tokensPerMinute: null, jobUsd: null } });

    // Schedules.
    const schedule = await call("createSchedule", {
      body: { workflowId, expression: "rate(1 hour)", input: { n: 1 } },
    });
    expect(schedule.status).toBe(201);
    await call("listSchedules");
    await call("getSchedule", { params: { id: schedule.body.id } });
    await call("updateSchedule", { params: { id: schedule.body.id }, body: { enabled: false } });
    expect((await call("deleteSchedule", { params: { id: schedule.body.id } })).status).toBe(204);

    // People, keys and the log.
    await call("createTenant", {
      body: {
        name: "Contract",
        adminEmail: "contract-admin@switchboard.test",
        adminPassword: "a-long-enough-password",
      },
    });
    const userBody = {
      email: "contract-user@switchboard.test",
      password: "a-long-enough-password",
      role: "viewer",
    };
    const user = await call("createUser", { body: userBody });
    expect(user.status).toBe(201);
    expect((await call("createUser", { body: userBody })).status).toBe(409);
    await call("listUsers");
    await call("getUser", { params: { id: user.body.id } });
    await call("updateUser", { params: { id: user.body.id }, body: { role: "user" } });
    expect((await call("deleteUser", { params: { id: user.body.id } })).status).toBe(204);
    const key = await call("createApiKey", { body: { name: "contract", role: "viewer" } });
    expect(key.status).toBe(201);
    await call("listApiKeys");
    await call("revokeApiKey", { params: { id: key.body.id } });
    await call("listAudit");

    // Tenant settings and notification targets.
    expect((await call("getTenantSettings")).body).toMatchObject({ resourceAccess: "tenant" });
    await call("putTenantSettings", { body: { resourceAccess: "tenant" } });
    expect((await call("putTenantSettings", { body: { resourceAccess: "everyone" } })).status).toBe(400);
    const target = await call("createNotificationTarget", {
      body: { type: "webhook", url: "https://hooks.example.com/switchboard" },
    });
    expect(target.status).toBe(201);
    expect(target.body.secret).toEqual(expect.any(String));
    await call("listNotificationTargets");
    expect((await call("getNotificationTarget", { params: { id: target.body.id } })).body).not.toHaveProperty(
      "secret",
    );
    expect((await call("testNotificationTarget", { params: { id: target.body.id } })).status).toBe(202);
    await call("listNotificationDeliveries", { params: { id: target.body.id } });
    expect((await call("deleteNotificationTarget", { params: { id: target.body.id } })).status).toBe(204);
    expect((await call("getNotificationTarget", { params: { id: target.body.id } })).status).toBe(404);

    // System.
    await call("systemStatus");
    await call("listDeadLetters");
    await call("redriveDeadLetters");

    await call("deleteWorkflow", { params: { id: workflowId } });
    expect((await call("getWorkflow", { params: { id: workflowId } })).status).toBe(404);

    const missing = [...operations.keys()].filter((id) => !exercised.has(id));
    expect(missing, "operations never exercised").toEqual([]);
    expect(mismatches).toEqual([]);
  }, 240_000);
});
