import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import proxyFixture from "#events/fixtures/api-gateway-proxy.json" with { type: "json" };
import { manifest } from "#infra/manifest";
import { createApiHandler, defineRoute, MAX_BODY_BYTES } from "#shared/http/api";

const context = {
  functionName: "api",
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => 29_000,
} as Context;

function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return { ...(structuredClone(proxyFixture) as unknown as APIGatewayProxyEvent), ...overrides };
}

const Body = z.object({ name: z.string().min(1) }).strict();
let calls: unknown[] = [];
const ddb = mockClient(DynamoDBDocumentClient);

const handler = createApiHandler({
  createJob: defineRoute({
    body: Body,
    status: 202,
    handle: async ({ body, principal }) => {
      calls.push({ body, principal });
      return { ok: true, tenant: principal.tenantId };
    },
  }),
  listJobs: defineRoute({
    handle: async () => {
      throw new Error("database exploded at /secret/path.ts:12");
    },
  }),
  health: defineRoute({ handle: async () => ({ status: "ok" }) }),
  systemStatus: defineRoute({ handle: async () => ({ fine: true }) }),
});

async function call(e: APIGatewayProxyEvent) {
  const result = await handler(e, context);
  return { status: result.statusCode, body: result.body === "" ? undefined : JSON.parse(result.body) };
}

describe("REST middleware", () => {
  beforeAll(() => {
    vi.stubEnv("TABLE_NAME", "table");
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });
  beforeEach(() => {
    calls = [];
    ddb.reset();
    ddb.on(PutCommand).resolves({});
  });

  it("parses and validates the body, then calls the route with the principal", async () => {
    const { status, body } = await call(event({ body: JSON.stringify({ name: "triage" }) }));
    expect(status).toBe(202);
    expect(body).toEqual({ ok: true, tenant: "default" });
    expect(calls).toEqual([
      {
        body: { name: "triage" },
        principal: expect.objectContaining({ tenantId: "default", role: "admin", platformAdmin: true }),
      },
    ]);
  });

  it("writes an audit entry for a successful mutation, naming actor, action, source and request", async () => {
    await call(event({ body: JSON.stringify({ name: "triage" }) }));
    const items = ddb.commandCalls(PutCommand).map((c) => c.args[0].input.Item);
    expect(items).toEqual([
      expect.objectContaining({
        // One of the tenant's log shards, by request id.
        pk: expect.stringMatching(/^T#default#AUDIT#[0-7]$/),
        type: "audit",
        actorId: "u_01hx0000000000000000000000",
        actorType: "user",
        action: "createJob",
        resource: "/v1/jobs",
        requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        sourceIp: "203.0.113.10",
        status: 202,
      }),
    ]);
  });

  it("writes no audit entry when the mutation was refused", async () => {
    await call(event({ body: "{not json" }));
    expect(ddb.commandCalls(PutCommand)).toHaveLength(0);
  });

  it("answers malformed JSON with 400 and the contract's error body", async () => {
    const { status, body } = await call(event({ body: "{not json" }));
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: "BAD_REQUEST", requestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" });
    expect(typeof body.message).toBe("string");
    expect(calls).toHaveLength(0);
  });

  it("answers a schema violation with 400 and the zod issues in details", async () => {
    const { status, body } = await call(event({ body: JSON.stringify({ name: "", extra: 1 }) }));
    expect(status).toBe(400);
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "name" }),
        expect.objectContaining({ code: "unrecognized_keys" }),
      ]),
    );
  });

  it("refuses a body over the limit with 413", async () => {
    const { status, body } = await call(
      event({ body: JSON.stringify({ name: "x".repeat(MAX_BODY_BYTES) }) }),
    );
    expect(status).toBe(413);
    expect(body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers 401 when the authorizer context is missing", async () => {
    const e = event({ body: JSON.stringify({ name: "a" }) });
    e.requestContext.authorizer = null;
    const { status, body } = await call(e);
    expect(status).toBe(401);
    expect(body.code).toBe("UNAUTHORIZED");
  });

  it("answers 403 when the role is not in the manifest's route table", async () => {
    const e = event({
      resource: "/v1/system/status",
      path: "/v1/system/status",
      httpMethod: "GET",
      body: null,
    });
    (e.requestContext.authorizer as Record<string, unknown>).role = "viewer";
    const { status, body } = await call(e);
    expect(status).toBe(403);
    expect(body.code).toBe("FORBIDDEN");
  });

  it("answers 404 for a route the manifest does not have", async () => {
    const { status, body } = await call(event({ resource: "/v1/nope", path: "/v1/nope", httpMethod: "GET" }));
    expect(status).toBe(404);
    expect(body.code).toBe("NOT_FOUND");
  });

  it("answers 500 without leaking the error's message or stack", async () => {
    const { status, body } = await call(event({ httpMethod: "GET", body: null }));
    expect(status).toBe(500);
    expect(body).toEqual({ code: "INTERNAL", message: "Internal error", requestId: expect.any(String) });
    expect(JSON.stringify(body)).not.toContain("secret");
  });

  it("serves public routes without an authorizer context", async () => {
    const e = event({ resource: "/health", path: "/health", httpMethod: "GET", body: null });
    e.requestContext.authorizer = null;
    expect(await call(e)).toEqual({ status: 200, body: { status: "ok" } });
  });
});

describe("the api function's route table", () => {
  it("has exactly one handler for every manifest route served by the api function", async () => {
    const { routes } = await import("#functions/http/api");
    const expected = manifest.http.routes
      .filter((r) => r.function === "api")
      .map((r) => r.id)
      .sort();
    expect(Object.keys(routes).sort()).toEqual(expected);
    // Importing the whole api function (every route and the SDK clients they use) takes seconds on a busy machine.
  }, 30_000);
});
