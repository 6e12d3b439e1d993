import { createHash } from "node:crypto";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import authorizerFixture from "#events/fixtures/authorizer-request.json" with { type: "json" };
import { usageKeyValue } from "#shared/auth/usage-keys";

const SECRET = "s".repeat(48);
const secrets = mockClient(SecretsManagerClient);
const ddb = mockClient(DynamoDBDocumentClient);
const context = { functionName: "authorizer", awsRequestId: "r" } as Context;

const user = {
  pk: "T#acme",
  sk: "USER#u_1",
  id: "u_1",
  tenantId: "acme",
  email: "ada@acme.test",
  role: "user",
  passwordHash: "x",
  platformAdmin: false,
};

function request(
  headers: Record<string, string>,
  query: Record<string, string> = {},
): APIGatewayRequestAuthorizerEvent {
  const event = structuredClone(authorizerFixture) as unknown as APIGatewayRequestAuthorizerEvent;
  event.headers = headers;
  event.queryStringParameters = query;
  return event;
}

function token(claims: Record<string, unknown>, options: jwt.SignOptions = {}, secret = SECRET) {
  const merged: jwt.SignOptions = {
    algorithm: "HS256",
    subject: "u_1",
    issuer: "switchboard",
    audience: "switchboard",
    ...("exp" in claims ? {} : { expiresIn: 900 }),
    ...options,
  };
  return jwt.sign({ tid: "acme", role: "user", email: user.email, typ: "access", ...claims }, secret, merged);
}

let handler: typeof import("#functions/http/authorizer").handler;

/** API Gateway answers a Deny with its ACCESS_DENIED gateway response; nothing counts as an error. */
function expectDenied(result: APIGatewayAuthorizerResult, methodArn: string): void {
  expect(result.policyDocument.Statement).toEqual([
    { Action: "execute-api:Invoke", Effect: "Deny", Resource: methodArn },
  ]);
  expect(result.context).toBeUndefined();
  expect(result.usageIdentifierKey).toBeUndefined();
}

beforeAll(async () => {
  vi.stubEnv("TABLE_NAME", "table");
  vi.stubEnv("JWT_SECRET_ID", "switchboard/jwt");
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("USAGE_NAMESPACE", "Switchboard-test");
  ({ handler } = await import("#functions/http/authorizer"));
});

afterAll(() => {
  vi.unstubAllEnvs();
});

beforeEach(() => {
  secrets.reset();
  ddb.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
  // Generic behaviour first: a later, more specific one takes precedence.
  ddb.on(GetCommand).resolves({});
  ddb.on(GetCommand, { Key: { pk: "T#acme", sk: "USER#u_1" } }).resolves({ Item: user });
});

describe("authorizer", () => {
  it("allows a valid access token for the whole stage and passes tenant, principal and role on", async () => {
    const result = await handler(request({ Authorization: `Bearer ${token({})}` }), context);
    expect(result.principalId).toBe("u_1");
    expect(result.policyDocument.Statement[0]).toMatchObject({
      Effect: "Allow",
      Resource: "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*",
    });
    expect(result.context).toMatchObject({
      tenantId: "acme",
      principalId: "u_1",
      role: "user",
      principalType: "user",
    });
  });

  const refused: [string, () => Record<string, string>][] = [
    ["no credentials", () => ({})],
    [
      "alg none",
      () => ({
        Authorization: `Bearer ${jwt.sign({ tid: "acme", typ: "access" }, "", { algorithm: "none", subject: "u_1", issuer: "switchboard", audience: "switchboard" })}`,
      }),
    ],
    ["a tampered signature", () => ({ Authorization: `Bearer ${token({}).slice(0, -3)}abc` })],
    ["another secret", () => ({ Authorization: `Bearer ${token({}, {}, "o".repeat(48))}` })],
    [
      "an expired token",
      () => ({ Authorization: `Bearer ${token({ exp: Math.floor(Date.now() / 1000) - 10 })}` }),
    ],
    ["the wrong audience", () => ({ Authorization: `Bearer ${token({}, { audience: "elsewhere" })}` })],
    [
      "a refresh token used as an access token",
      () => ({ Authorization: `Bearer ${token({ typ: "refresh" })}` }),
    ],
    ["a token of a deleted user", () => ({ Authorization: `Bearer ${token({}, { subject: "u_gone" })}` })],
    ["an unknown API key", () => ({ "x-api-key": `sb_${"a".repeat(26)}_${"b".repeat(43)}` })],
  ];
  for (const [name, headers] of refused) {
    it(`refuses ${name} with an explicit Deny, not a function error`, async () => {
      const event = request(headers());
      expectDenied(await handler(event, context), event.methodArn);
    });
  }

  it("refuses an RS256 token even when signed with the HMAC secret as a public key", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url");
    const payload = Buffer.from(
      JSON.stringify({
        sub: "u_1",
        tid: "acme",
        typ: "access",
        iss: "switchboard",
        aud: "switchboard",
        exp: 9999999999,
      }),
    ).toString("base64url");
    const forged = `${header}.${payload}.${Buffer.from("sig").toString("base64url")}`;
    const event = request({ Authorization: `Bearer ${forged}` });
    expectDenied(await handler(event, context), event.methodArn);
  });

  it("accepts an API key by the hash of its secret and records lastUsedAt", async () => {
    const id = "k0000000000000000000000001";
    const secret = "c".repeat(43);
    ddb
      .on(GetCommand, { Key: { pk: `APIKEY#${id}`, sk: "APIKEY" } })
      .resolves({ Item: { tenantId: "acme" } });
    ddb.on(GetCommand, { Key: { pk: "T#acme", sk: `KEY#${id}` } }).resolves({
      Item: {
        id,
        tenantId: "acme",
        role: "viewer",
        name: "ci",
        prefix: "sb_k000",
        secretHash: createHash("sha256").update(secret).digest("hex"),
        createdBy: "u_1",
        createdAt: new Date().toISOString(),
      },
    });
    ddb.on(UpdateCommand).resolves({});
    const result = await handler(request({ "X-Api-Key": `sb_${id}_${secret}` }), context);
    expect(result.context).toMatchObject({ tenantId: "acme", principalType: "apiKey", role: "viewer" });
    // The key's own bucket, not its tenant's.
    expect(result.usageIdentifierKey).toBe(
      usageKeyValue("Switchboard-test", { kind: "apiKey", keyId: id, role: "viewer" }),
    );
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it("names the tenant's usage key for a signed-in user, so a tenant's users share one bucket", async () => {
    const result = await handler(request({ Authorization: `Bearer ${token({})}` }), context);
    const tenantKey = usageKeyValue("Switchboard-test", { kind: "tenant", tenantId: "acme" });
    expect(result.usageIdentifierKey).toBe(tenantKey);
    expect(tenantKey).toMatch(/^[A-Za-z0-9]{20,128}$/);
    // Another tenant, another deployment: another key.
    expect(usageKeyValue("Switchboard-test", { kind: "tenant", tenantId: "globex" })).not.toBe(tenantKey);
    expect(usageKeyValue("Switchboard-prod", { kind: "tenant", tenantId: "acme" })).not.toBe(tenantKey);
  });

  it("reads the WebSocket token from the query string", async () => {
    const result = await handler(request({}, { token: token({}) }), context);
    expect(result.context).toMatchObject({ tenantId: "acme" });
  });
});
