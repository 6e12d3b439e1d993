import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  GetUsagePlansCommand,
} from "@aws-sdk/client-api-gateway";
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
} from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { USAGE_NAMESPACE } from "#infra/local/env";
import { startTwin, type Twin } from "#infra/local/twin";
import { selectRoute } from "#infra/local/websocket";
import { corsPreflight, gatewayError } from "#infra/stack/gateway-responses";
import { type UsagePlanName, usagePlanName } from "#infra/stack/limits";

const authorizerEvents: APIGatewayRequestAuthorizerEvent[] = [];
const apiEvents: APIGatewayProxyEvent[] = [];
/** The fields of API Gateway WebSocket events that the tests read. */
interface WsEvent {
  requestContext: {
    routeKey: string;
    eventType: string;
    connectionId: string;
    connectedAt: number;
    authorizer?: Record<string, string>;
    disconnectStatusCode?: number;
  };
  body?: string;
  queryStringParameters?: Record<string, string> | null;
}
const wsEvents: WsEvent[] = [];

/** Usage keys the tests create in the twin's API Gateway, by the token whose caller they meter. */
const usageKeys = {
  good: "goodgoodgoodgoodgood0001",
  burst: "burstburstburstburst0001",
  calm: "calmcalmcalmcalmcalm0001",
  disabled: "disableddisabled00000001",
  unknown: "unknownunknownunknown001",
} as const;

function policy(
  effect: "Allow" | "Deny",
  resource: string,
  context?: Record<string, unknown>,
  /** `null`: the authorizer names no usage key. */
  usageIdentifierKey: string | null = usageKeys.good,
): APIGatewayAuthorizerResult {
  return {
    principalId: "user-1",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: resource }],
    },
    ...(context ? { context: context as APIGatewayAuthorizerResult["context"] } : {}),
    ...(usageIdentifierKey === null ? {} : { usageIdentifierKey }),
  };
}

async function authorizer(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  authorizerEvents.push(event);
  const header = Object.entries(event.headers ?? {}).find(
    ([name]) => name.toLowerCase() === "authorization",
  )?.[1];
  const token = header?.replace(/^Bearer /, "") ?? event.queryStringParameters?.token;
  if (token === "good")
    return policy("Allow", "arn:aws:execute-api:*:*:*/*/*", {
      tenantId: "t1",
      role: "admin",
      n: 7,
      ok: true,
    });
  if (token === "deny") return policy("Deny", event.methodArn);
  if (token === "other-route") return policy("Allow", "arn:aws:execute-api:*:*:*/*/GET/v1/jobs");
  if (token === "bad-context") return policy("Allow", event.methodArn, { nested: { a: 1 } });
  if (token === "no-usage-key") return policy("Allow", event.methodArn, {}, null);
  if (token !== undefined && token in usageKeys && token !== "good") {
    return policy("Allow", event.methodArn, {}, usageKeys[token as keyof typeof usageKeys]);
  }
  throw new Error("Unauthorized");
}

async function api(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  apiEvents.push(event);
  const id = event.pathParameters?.id;
  if (id === "crash") throw new Error("handler crashed");
  if (id === "malformed") return { body: 42 } as unknown as APIGatewayProxyResult;
  if (id === "binary")
    return {
      statusCode: 200,
      headers: { "content-type": "image/png" },
      body: "iVBORw0K",
      isBase64Encoded: true,
    };
  return {
    statusCode: 201,
    headers: { "content-type": "application/json", "x-handler": "api" },
    multiValueHeaders: { "set-cookie": ["a=1", "b=2"] },
    body: JSON.stringify({ ok: true }),
  };
}

async function ws(event: WsEvent): Promise<{ statusCode: number; body?: string }> {
  wsEvents.push(event);
  if (event.requestContext.routeKey === "$connect" && event.queryStringParameters?.refuse === "1")
    return { statusCode: 403 };
  if (event.body === "crash") throw new Error("ws crashed");
  return { statusCode: 200, body: "route responses are not sent" };
}

let twin: Twin;
let dataDir: string;
let management: ApiGatewayManagementApiClient;
let gateway: APIGatewayClient;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-gateway-"));
  twin = await startTwin({
    port: 0,
    dataDir,
    quiet: true,
    bootstrap: false,
    loadEntries: false,
    web: false,
    functions: {
      authorizer,
      api,
      ws,
      worker: async () => ({ batchItemFailures: [] }),
      dlq: async () => ({ batchItemFailures: [] }),
      fanout: async () => ({ batchItemFailures: [] }),
    },
    usagePlans: { viewer: { rateLimit: 1, burstLimit: 3, quota: { limit: 1_000_000, period: "MONTH" } } },
  });
  // As the api function does for a tenant or a key: an API Gateway key per caller, in a plan on the stage.
  gateway = new APIGatewayClient({});
  const plans = (await gateway.send(new GetUsagePlansCommand({}))).items ?? [];
  const planId = (plan: UsagePlanName) =>
    plans.find((p) => p.name === usagePlanName(USAGE_NAMESPACE, plan))?.id;
  const keyIn = async (value: string, plan: UsagePlanName, enabled = true) => {
    const key = await gateway.send(new CreateApiKeyCommand({ name: value, value, enabled }));
    await gateway.send(
      new CreateUsagePlanKeyCommand({ usagePlanId: planId(plan), keyId: key.id, keyType: "API_KEY" }),
    );
  };
  await keyIn(usageKeys.good, "admin");
  await keyIn(usageKeys.burst, "viewer");
  await keyIn(usageKeys.calm, "viewer");
  await keyIn(usageKeys.disabled, "admin", false);
  // Built as the application builds it: from the callback URL the twin puts in the environment.
  management = new ApiGatewayManagementApiClient({ endpoint: twin.env.WS_CALLBACK_URL });
});

afterAll(async () => {
  management?.destroy();
  gateway?.destroy();
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  authorizerEvents.length = 0;
  apiEvents.length = 0;
  wsEvents.length = 0;
});

const request = (path: string, init: RequestInit = {}) => fetch(`${twin.url}${path}`, init);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("REST API", () => {
  it("runs the authorizer and passes its context to the route's function", async () => {
    const response = await request("/v1/jobs/abc%20d?status=running&tag=a&tag=b", {
      headers: bearer("good"),
    });

    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ ok: true });
    expect(response.headers.get("x-handler")).toBe("api");
    expect(response.headers.get("set-cookie")).toBe("a=1, b=2");
    expect(authorizerEvents).toHaveLength(1);
    expect(authorizerEvents[0]).toMatchObject({
      type: "REQUEST",
      methodArn: expect.stringMatching(
        /^arn:aws:execute-api:us-east-1:000000000000:\w+\/local\/GET\/v1\/jobs\/abc%20d$/,
      ),
      resource: "/v1/jobs/{id}",
      httpMethod: "GET",
      pathParameters: { id: "abc d" },
    });
    const event = apiEvents[0];
    expect(event).toMatchObject({
      resource: "/v1/jobs/{id}",
      path: "/v1/jobs/abc%20d",
      httpMethod: "GET",
      pathParameters: { id: "abc d" },
      queryStringParameters: { status: "running", tag: "b" },
      multiValueQueryStringParameters: { status: ["running"], tag: ["a", "b"] },
      body: null,
      isBase64Encoded: false,
      stageVariables: null,
    });
    expect(event?.requestContext).toMatchObject({
      authorizer: { tenantId: "t1", role: "admin", n: "7", ok: "true", principalId: "user-1" },
      stage: "local",
      resourcePath: "/v1/jobs/{id}",
      httpMethod: "GET",
      identity: { sourceIp: "127.0.0.1" },
      accountId: "000000000000",
    });
    expect(event?.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof event?.requestContext.requestTimeEpoch).toBe("number");
    expect(event?.headers.authorization).toBe("Bearer good");
    expect(event?.multiValueHeaders.authorization).toEqual(["Bearer good"]);
  });

  it("answers 401 with the error body when the authorizer says Unauthorized", async () => {
    const response = await request("/v1/me");

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      code: "UNAUTHORIZED",
      message: "Unauthorized",
      requestId: expect.any(String),
    });
    expect(apiEvents).toHaveLength(0);
  });

  it("answers a Deny as the stack's ACCESS_DENIED gateway response (401), and an Allow for another method too", async () => {
    const denied = await request("/v1/me", { headers: bearer("deny") });
    const elsewhere = await request("/v1/me", { headers: bearer("other-route") });
    const allowed = await request("/v1/jobs", { headers: bearer("other-route") });

    const shape = gatewayError("ACCESS_DENIED");
    expect(denied.status).toBe(Number(shape.statusCode));
    expect(await denied.json()).toEqual({
      code: shape.code,
      message: shape.message,
      requestId: expect.any(String),
    });
    expect(elsewhere.status).toBe(401);
    expect(allowed.status).toBe(201);
    expect(apiEvents).toHaveLength(1);
  });

  it("answers 500 when the authorizer returns a context API Gateway cannot pass on", async () => {
    const response = await request("/v1/me", { headers: bearer("bad-context") });

    expect(response.status).toBe(500);
    expect(apiEvents).toHaveLength(0);
  });

  it("passes the usage key on as the request's API key, and its id", async () => {
    await request("/v1/me", { headers: bearer("good") });
    expect(apiEvents[0]?.requestContext.identity).toMatchObject({
      apiKey: usageKeys.good,
      apiKeyId: expect.stringMatching(/^\w+$/),
    });
  });

  it.each(["no-usage-key", "unknown", "disabled"])(
    "answers INVALID_API_KEY's 403 when the usage key is missing, unknown or disabled (%s)",
    async (token) => {
      const response = await request("/v1/me", { headers: bearer(token) });
      const shape = gatewayError("INVALID_API_KEY");
      expect(response.status).toBe(403);
      expect(response.headers.get("x-amzn-errortype")).toBe("ForbiddenException");
      expect(await response.json()).toEqual({
        code: shape.code,
        message: "Forbidden",
        requestId: expect.any(String),
      });
      expect(apiEvents).toHaveLength(0);
    },
  );

  it("throttles per usage key: one key past its plan's burst gets 429 while another key of the plan is served", async () => {
    const [busy, calm] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => request("/v1/me", { headers: bearer("burst") }))),
      request("/v1/me", { headers: bearer("calm") }),
    ]);
    expect(calm.status).toBe(201);
    const refused = busy.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(busy.filter((r) => r.status === 201).length).toBeLessThanOrEqual(5);
    const shape = gatewayError("THROTTLED");
    const first = refused[0] as Response;
    expect(first.headers.get("x-amzn-errortype")).toBe("TooManyRequestsException");
    expect(first.headers.get("retry-after")).toBe("1");
    expect(first.headers.get("access-control-allow-origin")).toBe(twin.env.CORS_ALLOW_ORIGIN?.split(",")[0]);
    expect(await first.json()).toEqual({
      code: shape.code,
      message: "Too Many Requests",
      requestId: expect.any(String),
    });
  });

  it("skips the authorizer on public routes", async () => {
    const response = await request("/health");

    expect(response.status).toBe(201);
    expect(authorizerEvents).toHaveLength(0);
    expect(apiEvents[0]?.requestContext.authorizer).toBeUndefined();
  });

  it("answers 404 for an unknown /v1 path and 405 for a known path with another method", async () => {
    const missing = await request("/v1/nope", { headers: bearer("good") });
    const wrongMethod = await request("/v1/me", { method: "DELETE", headers: bearer("good") });

    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "NOT_FOUND", requestId: expect.any(String) });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ code: "METHOD_NOT_ALLOWED" });
    expect(authorizerEvents).toHaveLength(0);
  });

  it("passes text bodies as text and binary bodies as base64", async () => {
    await request("/v1/jobs", {
      method: "POST",
      headers: { ...bearer("good"), "content-type": "application/json" },
      body: JSON.stringify({ workflowId: "w1" }),
    });
    await request("/v1/jobs", {
      method: "POST",
      headers: { ...bearer("good"), "content-type": "application/octet-stream" },
      body: new Uint8Array([0, 1, 2, 255]),
    });

    expect(apiEvents[0]).toMatchObject({ body: '{"workflowId":"w1"}', isBase64Encoded: false });
    expect(apiEvents[1]).toMatchObject({
      body: Buffer.from([0, 1, 2, 255]).toString("base64"),
      isBase64Encoded: true,
    });
  });

  it("decodes a base64 result", async () => {
    const response = await request("/v1/jobs/binary", { headers: bearer("good") });

    expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.from("iVBORw0K", "base64"));
    expect(response.headers.get("content-type")).toBe("image/png");
  });

  it("refuses a body over 10 MB with 413", async () => {
    const response = await request("/v1/jobs", {
      method: "POST",
      headers: { ...bearer("good"), "content-type": "application/json" },
      body: "x".repeat(10 * 1024 * 1024 + 1),
    });

    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    expect(apiEvents).toHaveLength(0);
  });

  it("answers 502 like API Gateway when the function throws or returns a malformed result", async () => {
    const crashed = await request("/v1/jobs/crash", { headers: bearer("good") });
    const malformed = await request("/v1/jobs/malformed", { headers: bearer("good") });

    expect(crashed.status).toBe(502);
    expect(await crashed.json()).toEqual({ message: "Internal server error" });
    expect(malformed.status).toBe(502);
  });

  it("answers CORS preflights as the stack's mock integration does: only the stage's origins", async () => {
    const preflight = (origin: string) =>
      request("/v1/jobs", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-headers": "authorization" },
      });
    const allowed = await preflight(`http://127.0.0.1:${twin.port}`);
    const foreign = await preflight("http://evil.test");

    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(`http://127.0.0.1:${twin.port}`);
    expect(allowed.headers.get("access-control-allow-headers")).toBe(corsPreflight.allowHeaders.join(","));
    expect(allowed.headers.get("vary")).toBe("Origin");
    expect(allowed.headers.get("access-control-allow-credentials")).toBeNull();
    // The first allowed origin, which the browser compares with its own and refuses.
    expect(foreign.headers.get("access-control-allow-origin")).toBe(
      twin.env.CORS_ALLOW_ORIGIN?.split(",")[0],
    );
  });

  it("adds CORS only where AWS does: gateway responses name the first origin, proxy responses carry the function's", async () => {
    const origin = { origin: `http://127.0.0.1:${twin.port}` };
    const refused = await request("/v1/me", { headers: { ...origin, ...bearer("deny") } });
    const answered = await request("/v1/jobs", { headers: { ...origin, ...bearer("good") } });

    expect(refused.headers.get("access-control-allow-origin")).toBe(`http://localhost:${twin.port}`);
    expect(refused.headers.get("vary")).toBe("Origin");
    // This test's api function sets no CORS header, so none arrives: the twin adds nothing to it.
    expect(answered.status).toBe(201);
    expect(answered.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("tells the functions the stage's origins: the twin's own, under both loopback names", () => {
    expect(twin.env.CORS_ALLOW_ORIGIN).toBe(`http://localhost:${twin.port},http://127.0.0.1:${twin.port}`);
  });

  it("serves /config.json naming the API on the host the dashboard was opened by", async () => {
    const byName = await request("/config.json");
    const byAddress = await fetch(`http://127.0.0.1:${twin.port}/config.json`);

    expect(await byName.json()).toEqual({
      apiUrl: `http://localhost:${twin.port}`,
      wsUrl: `ws://localhost:${twin.port}/ws`,
    });
    expect(await byAddress.json()).toEqual({
      apiUrl: `http://127.0.0.1:${twin.port}`,
      wsUrl: `ws://127.0.0.1:${twin.port}/ws`,
    });
  });
});

interface OpenSocket {
  socket: WebSocket;
  messages: string[];
  connectionId: string;
}

async function connect(query: string): Promise<OpenSocket> {
  const socket = new WebSocket(`${twin.wsUrl}?${query}`);
  const messages: string[] = [];
  socket.on("message", (data) => messages.push(data.toString()));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const connectEvent = wsEvents.findLast((event) => event.requestContext.routeKey === "$connect");
  if (!connectEvent) throw new Error("the socket opened without a $connect event");
  return { socket, messages, connectionId: connectEvent.requestContext.connectionId };
}

/** The HTTP status a refused handshake answered with. */
function refusal(query: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${twin.wsUrl}?${query}`);
    socket.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once("open", () => reject(new Error("the connection was accepted")));
    socket.once("error", () => undefined);
  });
}

async function closeAndWait(open: OpenSocket): Promise<void> {
  open.socket.close();
  await vi.waitFor(() =>
    expect(wsEvents.some((event) => event.requestContext.routeKey === "$disconnect")).toBe(true),
  );
}

describe("WebSocket API", () => {
  it("sends $connect, $default and $disconnect with the connection id and the authorizer context", async () => {
    const open = await connect("token=good");
    open.socket.send(JSON.stringify({ action: "ping" }));
    open.socket.send("not json");
    await vi.waitFor(() =>
      expect(wsEvents.filter((event) => event.requestContext.routeKey === "$default")).toHaveLength(2),
    );
    await closeAndWait(open);

    const [connectEvent, ...rest] = wsEvents;
    expect(open.connectionId).toMatch(/^[A-Za-z0-9=]{16}$/);
    expect(authorizerEvents[0]).toMatchObject({
      type: "REQUEST",
      methodArn: expect.stringMatching(/\/local\/\$connect$/),
      queryStringParameters: { token: "good" },
      requestContext: { connectionId: open.connectionId, routeKey: "$connect", eventType: "CONNECT" },
    });
    expect(connectEvent).toMatchObject({
      queryStringParameters: { token: "good" },
      requestContext: {
        routeKey: "$connect",
        eventType: "CONNECT",
        connectionId: open.connectionId,
        stage: "local",
        messageDirection: "IN",
        identity: { sourceIp: "127.0.0.1" },
        authorizer: { tenantId: "t1", principalId: "user-1" },
      },
      isBase64Encoded: false,
    });
    expect(typeof connectEvent?.requestContext.connectedAt).toBe("number");
    const messages = rest.filter((event) => event.requestContext.eventType === "MESSAGE");
    expect(messages.map((event) => event.body).sort()).toEqual(['{"action":"ping"}', "not json"].sort());
    for (const event of rest) {
      expect(event.requestContext.connectionId).toBe(open.connectionId);
      expect(event.requestContext.authorizer).toMatchObject({ tenantId: "t1", principalId: "user-1" });
    }
    const disconnectEvent = rest.find((event) => event.requestContext.routeKey === "$disconnect");
    expect(disconnectEvent?.requestContext).toMatchObject({
      eventType: "DISCONNECT",
      disconnectStatusCode: 1005,
    });
    // No route response is configured, so what the function returned never reached the client.
    expect(open.messages).toEqual([]);
  });

  it("sends the client an error frame when a route's function throws", async () => {
    const open = await connect("token=good");
    open.socket.send("crash");
    await vi.waitFor(() => expect(open.messages).toHaveLength(1));
    await closeAndWait(open);

    expect(JSON.parse(open.messages[0] ?? "")).toMatchObject({
      message: "Internal server error",
      connectionId: open.connectionId,
    });
  });

  it("refuses the handshake when the authorizer refuses or $connect answers non-2xx", async () => {
    expect(await refusal("token=bad")).toBe(401);
    expect(await refusal("token=deny")).toBe(403);
    expect(wsEvents).toHaveLength(0);
    expect(await refusal("token=good&refuse=1")).toBe(403);
    expect(wsEvents.map((event) => event.requestContext.routeKey)).toEqual(["$connect"]);
  });

  it("selects routes on $request.body.action", () => {
    const routes = new Set(["$connect", "$disconnect", "$default", "subscribe"]);
    const expression = "$request.body.action";

    expect(selectRoute('{"action":"subscribe","jobId":"j1"}', routes, expression)).toBe("subscribe");
    expect(selectRoute('{"action":"unknown"}', routes, expression)).toBe("$default");
    expect(selectRoute('{"action":5}', routes, expression)).toBe("$default");
    expect(selectRoute('{"action":"$connect"}', routes, expression)).toBe("$default");
    expect(selectRoute("subscribe", routes, expression)).toBe("$default");
  });
});

describe("management API (@connections)", () => {
  it("posts to, describes and deletes a connection through the real SDK client", async () => {
    const open = await connect("token=good");

    await management.send(
      new PostToConnectionCommand({ ConnectionId: open.connectionId, Data: '{"type":"pong"}' }),
    );
    await vi.waitFor(() => expect(open.messages).toEqual(['{"type":"pong"}']));
    const described = await management.send(new GetConnectionCommand({ ConnectionId: open.connectionId }));
    const closed = new Promise<void>((resolve) => open.socket.once("close", () => resolve()));
    await management.send(new DeleteConnectionCommand({ ConnectionId: open.connectionId }));
    await closed;

    expect(described.ConnectedAt).toBeInstanceOf(Date);
    expect(described.LastActiveAt?.getTime()).toBeGreaterThanOrEqual(
      described.ConnectedAt?.getTime() ?? Infinity,
    );
    expect(described.Identity?.SourceIp).toBe("127.0.0.1");
    await vi.waitFor(() =>
      expect(wsEvents.some((event) => event.requestContext.routeKey === "$disconnect")).toBe(true),
    );
  });

  it("answers 410 GoneException for a closed connection", async () => {
    const open = await connect("token=good");
    await closeAndWait(open);

    const error = await management
      .send(new PostToConnectionCommand({ ConnectionId: open.connectionId, Data: "late" }))
      .then(
        () => undefined,
        (caught: unknown) => caught as { name: string; $metadata: { httpStatusCode?: number } },
      );

    expect(error?.name).toBe("GoneException");
    expect(error?.$metadata.httpStatusCode).toBe(410);
    await expect(
      management.send(new GetConnectionCommand({ ConnectionId: open.connectionId })),
    ).rejects.toMatchObject({
      name: "GoneException",
    });
  });
});
