import { createHash } from "node:crypto";
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlansCommand,
} from "@aws-sdk/client-api-gateway";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import proxyFixture from "#events/fixtures/api-gateway-proxy.json" with { type: "json" };
import { hashPassword } from "#shared/auth/passwords";
import { resetUsageBuckets } from "#shared/auth/usage-buckets";
import { USAGE_PLANS, usageKeyName, usageKeyValue, usagePlanName } from "#shared/auth/usage-keys";
import { createApiHandler } from "#shared/http/api";
import { apiKeyRoutes } from "#shared/http/routes/api-keys";
import { auditRoutes } from "#shared/http/routes/audit";
import { authRoutes } from "#shared/http/routes/auth";
import { identityRoutes } from "#shared/http/routes/identity";
import { logger } from "#shared/observability";
import { parseApiKey } from "#shared/stores/identity";

const ddb = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);
const gateway = mockClient(APIGatewayClient);
const NAMESPACE = "Switchboard-test";
/** The stack's plans, as GetUsagePlans lists them: `plan-<name>` is each one's id. */
const planItems = USAGE_PLANS.map((plan) => ({ id: `plan-${plan}`, name: usagePlanName(NAMESPACE, plan) }));
const context = {
  functionName: "api",
  awsRequestId: "req-1",
  getRemainingTimeInMillis: () => 29_000,
} as Context;
const handler = createApiHandler({ ...authRoutes, ...identityRoutes, ...apiKeyRoutes, ...auditRoutes });

interface Call {
  method: string;
  resource: string;
  path?: string;
  body?: unknown;
  params?: Record<string, string>;
  query?: Record<string, string>;
  as?: Partial<{
    role: string;
    principalId: string;
    principalType: string;
    platformAdmin: string;
    ownerId: string;
  }> | null;
}

async function call({ method, resource, path, body, params, query, as = {} }: Call) {
  const event = structuredClone(proxyFixture) as unknown as APIGatewayProxyEvent;
  Object.assign(event, {
    httpMethod: method,
    resource,
    path: path ?? resource,
    body: body === undefined ? null : JSON.stringify(body),
    pathParameters: params ?? null,
    queryStringParameters: query ?? null,
  });
  event.requestContext.authorizer = as === null ? null : { ...event.requestContext.authorizer, ...as };
  const result = await handler(event, context);
  return {
    status: result.statusCode,
    headers: result.headers ?? {},
    body: result.body === "" ? undefined : JSON.parse(result.body),
  };
}

const transactItems = () =>
  ddb.commandCalls(TransactWriteCommand).flatMap((c) => c.args[0].input.TransactItems ?? []);
const auditItems = () =>
  ddb
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input.Item)
    .filter((item) => item?.type === "audit");

function conditionalFailure() {
  return Object.assign(new Error("The conditional request failed"), {
    name: "ConditionalCheckFailedException",
  });
}

beforeAll(() => {
  vi.stubEnv("TABLE_NAME", "table");
  vi.stubEnv("JWT_SECRET_ID", "switchboard/jwt");
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("USAGE_NAMESPACE", NAMESPACE);
});
afterAll(() => {
  vi.unstubAllEnvs();
});
beforeEach(() => {
  ddb.reset();
  secrets.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(GetCommand).resolves({});
  secrets.on(GetSecretValueCommand).resolves({ SecretString: "s".repeat(48) });
  gateway.reset();
  resetUsageBuckets();
  gateway.on(GetUsagePlansCommand).resolves({ items: planItems });
  gateway.on(CreateApiKeyCommand).resolves({ id: "gk1" });
  gateway.on(CreateUsagePlanKeyCommand).resolves({});
  gateway.on(GetApiKeysCommand).resolves({ items: [] });
  gateway.on(DeleteApiKeyCommand).resolves({});
});

describe("request buckets of tenants and API keys", () => {
  it("gives a new API key its own usage key in its role's plan before the key exists", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/api-keys",
      body: { name: "ci", role: "viewer" },
      as: { role: "user", principalId: "u_creator" },
    });
    expect(status).toBe(201);
    const subject = { kind: "apiKey", keyId: body.id, role: "viewer" } as const;
    expect(gateway.commandCalls(CreateApiKeyCommand)[0]?.args[0].input).toMatchObject({
      name: usageKeyName(NAMESPACE, subject),
      value: usageKeyValue(NAMESPACE, subject),
      enabled: true,
    });
    expect(gateway.commandCalls(CreateUsagePlanKeyCommand)[0]?.args[0].input).toEqual({
      usagePlanId: "plan-viewer",
      keyId: "gk1",
      keyType: "API_KEY",
    });
  });

  it("creates no API key when its usage key cannot be provisioned", async () => {
    gateway.on(CreateApiKeyCommand).rejects(new Error("API Gateway is down"));
    const { status } = await call({
      method: "POST",
      resource: "/v1/api-keys",
      body: { name: "ci", role: "viewer" },
      as: { role: "user", principalId: "u_creator" },
    });
    expect(status).toBe(500);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("adopts an existing usage key only when its value is the tenant's: another answers 500, attaching nothing", async () => {
    gateway
      .on(CreateApiKeyCommand)
      .rejects(Object.assign(new Error("API Key already exists"), { name: "ConflictException" }));
    gateway.on(GetApiKeysCommand).callsFake((input) => ({
      items: [
        {
          id: "gk-existing",
          name: input.nameQuery,
          value: usageKeyValue(NAMESPACE, { kind: "tenant", tenantId: "x" }),
        },
      ],
    }));
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/tenants",
      body: { name: "Acme", adminEmail: "root@acme.test", adminPassword: "long enough password" },
    });
    expect(status).toBe(500);
    expect(gateway.commandCalls(CreateUsagePlanKeyCommand)).toHaveLength(0);
    expect(body.code).toBe("INTERNAL");
  });

  it("gives a new tenant its usage key in the tenant plan, and takes it back when the tenant cannot be created", async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error("cancelled"), { name: "TransactionCanceledException" }));
    let tenantValue = "";
    gateway.on(GetApiKeysCommand).callsFake((input) => ({
      items: [{ id: "gk1", name: input.nameQuery, value: tenantValue }],
    }));
    gateway.on(CreateApiKeyCommand).callsFake((input) => {
      tenantValue = input.value;
      return { id: "gk1" };
    });
    const { status } = await call({
      method: "POST",
      resource: "/v1/tenants",
      body: { name: "Acme", adminEmail: "root@acme.test", adminPassword: "long enough password" },
    });
    expect(status).toBe(409);
    expect(gateway.commandCalls(CreateUsagePlanKeyCommand)[0]?.args[0].input.usagePlanId).toBe("plan-tenant");
    expect(gateway.commandCalls(DeleteApiKeyCommand).map((c) => c.args[0].input)).toEqual([
      { apiKey: "gk1" },
    ]);
  });

  it("deletes a revoked key's usage key, found by its name and value", async () => {
    const subject = { kind: "apiKey", keyId: "kabc", role: "user" } as const;
    ddb.on(UpdateCommand).resolves({
      Attributes: {
        id: "kabc",
        tenantId: "default",
        name: "ci",
        role: "user",
        prefix: "sb_kabc_abcd",
        secretHash: "h",
        createdBy: "u_1",
        createdAt: "2025-01-01T00:00:00.000Z",
        revokedAt: "2025-02-01T00:00:00.000Z",
      },
    });
    gateway.on(GetApiKeysCommand).resolves({
      items: [
        { id: "gk-other", name: usageKeyName(NAMESPACE, subject), value: "somethingelse0000000000" },
        { id: "gk-kabc", name: usageKeyName(NAMESPACE, subject), value: usageKeyValue(NAMESPACE, subject) },
      ],
    });
    const { status } = await call({
      method: "DELETE",
      resource: "/v1/api-keys/{id}",
      path: "/v1/api-keys/kabc",
      params: { id: "kabc" },
    });
    expect(status).toBe(200);
    expect(gateway.commandCalls(GetApiKeysCommand)[0]?.args[0].input).toMatchObject({
      nameQuery: usageKeyName(NAMESPACE, subject),
      includeValues: true,
    });
    expect(gateway.commandCalls(DeleteApiKeyCommand).map((c) => c.args[0].input)).toEqual([
      { apiKey: "gk-kabc" },
    ]);
  });

  it("still revokes a key when its usage key cannot be deleted, and says so in the log", async () => {
    ddb.on(UpdateCommand).resolves({
      Attributes: {
        id: "kabc",
        tenantId: "default",
        name: "ci",
        role: "user",
        prefix: "sb_kabc_abcd",
        secretHash: "h",
        createdBy: "u_1",
        createdAt: "2025-01-01T00:00:00.000Z",
        revokedAt: "2025-02-01T00:00:00.000Z",
      },
    });
    gateway.on(GetApiKeysCommand).rejects(new Error("API Gateway is down"));
    const errors = vi.spyOn(logger, "error").mockImplementation(() => undefined);
    try {
      const { status } = await call({
        method: "DELETE",
        resource: "/v1/api-keys/{id}",
        path: "/v1/api-keys/kabc",
        params: { id: "kabc" },
      });
      expect(status).toBe(200);
      expect(errors).toHaveBeenCalledWith(
        expect.stringContaining("usage key"),
        expect.objectContaining({ usageKey: `${NAMESPACE}-key-kabc` }),
      );
    } finally {
      errors.mockRestore();
    }
  });
});

describe("POST /v1/api-keys", () => {
  it("returns sb_<id>_<secret> once and stores only a SHA-256 of the secret, plus the global lookup", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/api-keys",
      body: { name: "ci", role: "user" },
      as: { role: "user", principalId: "u_creator" },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({ id: expect.any(String), name: "ci", role: "user", createdBy: "u_creator" });
    expect(body.key).toMatch(/^sb_[a-z0-9]{8,40}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseApiKey(body.key);
    expect(parsed?.id).toBe(body.id);
    expect(body.key.startsWith(body.prefix)).toBe(true);

    const [keyItem, lookup] = transactItems().map((t) => t.Put?.Item);
    // Minted by a person, the key belongs to that person.
    expect(keyItem).toMatchObject({
      pk: "T#default",
      sk: `KEY#${body.id}`,
      tenantId: "default",
      ownerId: "u_creator",
    });
    expect(keyItem?.secretHash).toBe(
      createHash("sha256")
        .update(parsed?.secret ?? "")
        .digest("hex"),
    );
    expect(lookup).toEqual({
      pk: `APIKEY#${body.id}`,
      sk: "APIKEY",
      type: "apiKeyLookup",
      tenantId: "default",
      ownerId: "u_creator",
    });
    // The secret is nowhere at rest: not in the items, not in the audit entry.
    const stored = JSON.stringify([transactItems(), auditItems()]);
    expect(stored).not.toContain(parsed?.secret);
    expect(auditItems()).toEqual([
      expect.objectContaining({ action: "createApiKey", resource: `/v1/api-keys/${body.id}` }),
    ]);
    expect(body).not.toHaveProperty("secretHash");
  });

  it("gives a key minted by a key the minting key's owner, not the minting key", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/api-keys",
      body: { name: "k2", role: "admin" },
      as: { role: "admin", principalId: "k1", principalType: "apiKey", ownerId: "u_person" },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({ createdBy: "k1" });
    const [keyItem, lookup] = transactItems().map((t) => t.Put?.Item);
    expect(keyItem).toMatchObject({ createdBy: "k1", ownerId: "u_person" });
    expect(lookup).toMatchObject({ ownerId: "u_person" });
  });

  it.each([
    ["user", "admin"],
    ["viewer", "user"],
    ["viewer", "admin"],
  ])("refuses a %s minting a key with role %s (403), writing nothing", async (creator, role) => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/api-keys",
      body: { name: "x", role },
      as: { role: creator },
    });
    expect(status).toBe(403);
    expect(body.code).toBe("FORBIDDEN");
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("refuses an expiry in the past with 400", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/api-keys",
      body: { name: "x", role: "viewer", expiresAt: "2001-01-01T00:00:00Z" },
    });
    expect(status).toBe(400);
    expect(body.message).toContain("future");
  });
});

describe("GET and DELETE /v1/api-keys", () => {
  const stored = {
    pk: "T#default",
    sk: "KEY#kabc",
    id: "kabc",
    tenantId: "default",
    name: "ci",
    role: "user",
    prefix: "sb_kabc_xyz",
    secretHash: "f".repeat(64),
    createdBy: "u_1",
    createdAt: "2025-01-01T00:00:00.000Z",
  };

  it("lists every key of the tenant for an admin, without secret hashes", async () => {
    ddb.on(QueryCommand).resolves({ Items: [stored] });
    const { status, body } = await call({ method: "GET", resource: "/v1/api-keys" });
    expect(status).toBe(200);
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: "gsi1",
      ExpressionAttributeValues: { ":pk": "T#default#KEYS" },
    });
    expect(body.items).toEqual([expect.objectContaining({ id: "kabc", prefix: "sb_kabc_xyz" })]);
    expect(JSON.stringify(body)).not.toContain("f".repeat(64));
  });

  it("lists only the caller's own keys for a user", async () => {
    await call({ method: "GET", resource: "/v1/api-keys", as: { role: "user", principalId: "u_2" } });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
      IndexName: "gsi2",
      ExpressionAttributeValues: { ":pk": "T#default#KEYS#BY#u_2" },
    });
  });

  it("revokes by setting revokedAt, conditioned on the key existing", async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { ...stored, revokedAt: "2025-02-01T00:00:00.000Z" } });
    const { status, body } = await call({
      method: "DELETE",
      resource: "/v1/api-keys/{id}",
      path: "/v1/api-keys/kabc",
      params: { id: "kabc" },
    });
    expect(status).toBe(200);
    expect(body.revokedAt).toBe("2025-02-01T00:00:00.000Z");
    const update = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.Key).toEqual({ pk: "T#default", sk: "KEY#kabc" });
    expect(update?.ConditionExpression).toBe("attribute_exists(pk)");
  });

  it("answers 404 when a user revokes a key someone else minted", async () => {
    ddb.on(UpdateCommand).rejects(conditionalFailure());
    const { status } = await call({
      method: "DELETE",
      resource: "/v1/api-keys/{id}",
      path: "/v1/api-keys/kabc",
      params: { id: "kabc" },
      as: { role: "user", principalId: "u_2" },
    });
    expect(status).toBe(404);
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues).toMatchObject({
      ":creator": "u_2",
    });
    expect(auditItems()).toHaveLength(0);
  });
});

describe("users and tenants", () => {
  it("refuses a short password with 400 and a message that states the rule", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/users",
      body: { email: "bob@example.test", password: "short", role: "user" },
    });
    expect(status).toBe(400);
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.message).toBe("Password must have at least 12 characters");
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
  });

  it("creates a user and claims its email in one transaction, and never returns the hash", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/users",
      body: { email: "Bob@Example.test", password: "long enough password", role: "viewer" },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      id: expect.stringMatching(/^u_/),
      email: "bob@example.test",
      role: "viewer",
    });
    expect(body).not.toHaveProperty("passwordHash");
    const puts = transactItems().map((t) => t.Put?.Item);
    expect(puts).toEqual([
      expect.objectContaining({ pk: "EMAIL#bob@example.test", userId: body.id, tenantId: "default" }),
      expect.objectContaining({
        pk: "T#default",
        sk: `USER#${body.id}`,
        passwordHash: expect.stringMatching(/^scrypt\$/),
      }),
    ]);
    expect(JSON.stringify(auditItems())).not.toContain("long enough password");
  });

  it("creates a tenant, its admin and the admin's email claim in one transaction", async () => {
    const { status, body } = await call({
      method: "POST",
      resource: "/v1/tenants",
      body: { name: "Acme", adminEmail: "root@acme.test", adminPassword: "long enough password" },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      id: expect.any(String),
      name: "Acme",
      admin: { role: "admin", email: "root@acme.test" },
    });
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(1);
    const keysWritten = transactItems().map((t) => `${t.Put?.Item?.pk}|${t.Put?.Item?.sk}`);
    expect(keysWritten).toEqual([
      `T#${body.id}|TENANT`,
      "EMAIL#root@acme.test|EMAIL",
      `T#${body.id}|USER#${body.admin.id}`,
    ]);
    // Audited in the platform admin's tenant, naming the new tenant.
    expect(auditItems()).toEqual([
      expect.objectContaining({
        pk: expect.stringMatching(/^T#default#AUDIT#[0-7]$/),
        action: "createTenant",
        resource: `/v1/tenants/${body.id}`,
      }),
    ]);
  });

  it("answers 409 when the new tenant's admin email is taken", async () => {
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error("cancelled"), { name: "TransactionCanceledException" }));
    const { status } = await call({
      method: "POST",
      resource: "/v1/tenants",
      body: { name: "Acme", adminEmail: "root@acme.test", adminPassword: "long enough password" },
    });
    expect(status).toBe(409);
  });

  it("deletes the user with its email claim, then revokes the keys it minted", async () => {
    ddb.on(GetCommand, { Key: { pk: "T#default", sk: "USER#u_bob" } }).resolves({
      Item: { id: "u_bob", tenantId: "default", email: "bob@example.test", role: "user", passwordHash: "x" },
    });
    ddb.on(QueryCommand).resolves({
      Items: [
        {
          id: "kbob",
          tenantId: "default",
          role: "user",
          createdBy: "u_bob",
          name: "k",
          prefix: "p",
          secretHash: "h",
          createdAt: "t",
        },
      ],
    });
    ddb.on(UpdateCommand).resolves({ Attributes: { id: "kbob" } });
    const { status } = await call({
      method: "DELETE",
      resource: "/v1/users/{id}",
      path: "/v1/users/u_bob",
      params: { id: "u_bob" },
    });
    expect(status).toBe(204);
    const deletes = transactItems().map((t) => t.Delete?.Key);
    expect(deletes).toEqual([
      { pk: "T#default", sk: "USER#u_bob" },
      { pk: "EMAIL#bob@example.test", sk: "EMAIL" },
    ]);
    expect(ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.Key)).toEqual([
      { pk: "T#default", sk: "KEY#kbob" },
    ]);
  });

  it("refuses an admin deleting or demoting themselves with 409", async () => {
    const self = { id: "u_01hx0000000000000000000000" };
    const remove = await call({
      method: "DELETE",
      resource: "/v1/users/{id}",
      path: "/v1/users/x",
      params: self,
    });
    const demote = await call({
      method: "PATCH",
      resource: "/v1/users/{id}",
      path: "/v1/users/x",
      params: self,
      body: { role: "viewer" },
    });
    expect([remove.status, demote.status]).toEqual([409, 409]);
    expect(ddb.commandCalls(TransactWriteCommand)).toHaveLength(0);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("a password change marks the user's sessions revoked", async () => {
    ddb.on(UpdateCommand).resolves({
      Attributes: { id: "u_bob", tenantId: "default", email: "b@x.test", role: "user", passwordHash: "h" },
    });
    const { status, body } = await call({
      method: "PATCH",
      resource: "/v1/users/{id}",
      path: "/v1/users/u_bob",
      params: { id: "u_bob" },
      body: { password: "another long password" },
    });
    expect(status).toBe(200);
    expect(body).not.toHaveProperty("passwordHash");
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.UpdateExpression).toContain(
      "sessionsRevokedAt = :now",
    );
  });
});

describe("login rate limit", () => {
  const login = (password: string) =>
    call({
      method: "POST",
      resource: "/v1/auth/login",
      body: { email: "ada@example.test", password },
      as: null,
    });

  it("answers 429 with Retry-After once the email's window is full, without checking the password", async () => {
    const windowStart = Math.floor(Date.now() / 900_000) * 900_000;
    ddb.on(QueryCommand).resolves({ Items: [{ sk: String(windowStart).padStart(13, "0"), count: 10 }] });
    ddb.on(UpdateCommand).resolves({});
    const { status, headers, body } = await login("wrong password");
    expect(status).toBe(429);
    expect(body).toMatchObject({ code: "TOO_MANY_REQUESTS", requestId: expect.any(String) });
    expect(Number(headers["Retry-After"])).toBeGreaterThan(0);
    // The IP's slot was taken and given back; the email lookup was never read.
    const deltas = ddb
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[":delta"]);
    expect(deltas).toEqual([1, -1]);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });

  it("a wrong password keeps its slots (401); a right one gives them back and clears the email's count", async () => {
    const user = {
      id: "u_ada",
      tenantId: "default",
      email: "ada@example.test",
      role: "user",
      passwordHash: await hashPassword("the right password"),
    };
    ddb.on(UpdateCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    ddb.on(GetCommand, { Key: { pk: "EMAIL#ada@example.test", sk: "EMAIL" } }).resolves({
      Item: { tenantId: "default", userId: "u_ada" },
    });
    ddb.on(GetCommand, { Key: { pk: "T#default", sk: "USER#u_ada" } }).resolves({ Item: user });

    const wrong = await login("the wrong password");
    expect(wrong.status).toBe(401);
    expect(
      ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[":delta"]),
    ).toEqual([1, 1]);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(0);

    ddb.resetHistory();
    const right = await login("the right password");
    expect(right.status).toBe(200);
    expect(
      ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[":delta"]),
    ).toEqual([1, 1, -1]);
    expect(ddb.commandCalls(DeleteCommand)).toHaveLength(2);
  });
});

describe("GET /v1/audit", () => {
  it("queries each shard of the actor's index (and its unsharded list) with the time range and the resource filter", async () => {
    const { status } = await call({
      method: "GET",
      resource: "/v1/audit",
      query: {
        actorId: "u_1",
        resource: "/v1/users",
        from: "2025-01-01T01:00:00+01:00",
        to: "2025-01-02T00:00:00Z",
      },
    });
    expect(status).toBe(200);
    const inputs = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(inputs.map((input) => input.ExpressionAttributeValues?.[":pk"]).sort()).toEqual(
      ["T#default#AUDIT#A#u_1", ...Array.from({ length: 8 }, (_, i) => `T#default#AUDIT#A#u_1#${i}`)].sort(),
    );
    for (const input of inputs)
      expect(input).toMatchObject({
        IndexName: "gsi1",
        KeyConditionExpression: "#pk = :pk AND #sk BETWEEN :from AND :to",
        ExpressionAttributeNames: { "#pk": "gsi1pk", "#sk": "gsi1sk", "#resource": "resource" },
        FilterExpression: "begins_with(#resource, :resource)",
        ScanIndexForward: false,
        ExpressionAttributeValues: {
          ":from": "2025-01-01T00:00:00.000Z#",
          ":to": "2025-01-02T00:00:00.000Z#~",
          ":resource": "/v1/users",
        },
      });
  });

  it("merges the shards newest first, and a shard that stopped early bounds the page", async () => {
    const entry = (n: number) => ({
      pk: "x",
      sk: `2025-01-01T00:00:0${n}.000Z#r${n}`,
      tenantId: "default",
      actorId: "u",
      actorType: "user",
      action: "a",
      resource: "/v1/x",
      requestId: `r${n}`,
      sourceIp: "ip",
      status: 200,
      at: "t",
    });
    const pages: Record<string, { Items: unknown[]; LastEvaluatedKey?: Record<string, unknown> }> = {
      "T#default#AUDIT": { Items: [entry(5)] },
      "T#default#AUDIT#0": {
        Items: [entry(4), entry(1)],
        LastEvaluatedKey: { pk: "T#default#AUDIT#0", sk: entry(1).sk },
      },
      "T#default#AUDIT#1": { Items: [entry(3)] },
    };
    ddb
      .on(QueryCommand)
      .callsFake((input) => pages[String(input.ExpressionAttributeValues[":pk"])] ?? { Items: [] });
    const { body } = await call({ method: "GET", resource: "/v1/audit", query: { limit: "2" } });
    expect(body.items.map((e: { requestId: string }) => e.requestId)).toEqual(["r5", "r4"]);
    expect(body.cursor).toEqual(expect.any(String));
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.Limit)).toEqual(Array(9).fill(2));
    ddb.resetHistory();
    const next = await call({
      method: "GET",
      resource: "/v1/audit",
      query: { limit: "2", cursor: body.cursor },
    });
    expect(next.status).toBe(200);
    // Below the cursor, inclusive: one more is read per shard, since the cursor's own entry comes back.
    for (const c of ddb.commandCalls(QueryCommand)) {
      expect(c.args[0].input.ExpressionAttributeValues?.[":to"]).toBe(entry(4).sk);
      expect(c.args[0].input.Limit).toBe(3);
    }
  });

  it("refuses a cursor of another tenant's log, or of the log before it was sharded", async () => {
    for (const value of [
      { l: "T#other#AUDIT", k: "x" },
      { pk: "T#default#AUDIT", sk: "x" },
    ]) {
      const foreign = Buffer.from(JSON.stringify(value)).toString("base64url");
      const { status } = await call({ method: "GET", resource: "/v1/audit", query: { cursor: foreign } });
      expect(status).toBe(400);
    }
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("refuses from after to", async () => {
    const { status } = await call({
      method: "GET",
      resource: "/v1/audit",
      query: { from: "2025-01-02T00:00:00Z", to: "2025-01-01T00:00:00Z" },
    });
    expect(status).toBe(400);
  });
});
