import { APIGatewayClient, GetApiKeysCommand, GetUsagePlansCommand } from "@aws-sdk/client-api-gateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { USAGE_NAMESPACE } from "#infra/local/env";
import { usagePlanName } from "#infra/stack/limits";
import { type ApiResult, login, type Platform, request, startPlatform } from "../support/platform.ts";
import { apiKey, bearer, createKey, expectOk, PASSWORD, send } from "./identity-support.ts";

/**
 * Per-tenant and per-key throttling end to end: the api function gives each tenant and key an API Gateway
 * key in the twin's control plane, the authorizer names it, and the twin's REST front keeps a bucket per key
 * as API Gateway does. The plans' limits are lowered so that a burst is easy to exceed on a slow machine.
 */
const small = { rateLimit: 0.5, burstLimit: 5, quota: { limit: 1_000_000, period: "MONTH" } } as const;

let platform: Platform;
let tenantB: { id: string; token: string };
let gateway: APIGatewayClient;

beforeAll(async () => {
  platform = await startPlatform({
    web: false,
    usagePlans: {
      tenant: small,
      viewer: small,
      // Quota, not rate, is what this plan's test is about.
      admin: { rateLimit: 100, burstLimit: 100, quota: { limit: 3, period: "DAY" } },
    },
  });
  const created = await expectOk(
    send<{ id: string }>(platform.url, bearer(platform.token), "POST", "/v1/tenants", {
      name: "Globex",
      adminEmail: "admin@globex.test",
      adminPassword: PASSWORD,
    }),
    201,
  );
  tenantB = { id: created.id, token: await login(platform.url, "admin@globex.test", PASSWORD) };
  // Built as the application builds it: the twin's environment points the default client here.
  gateway = new APIGatewayClient({});
}, 120_000);

afterAll(async () => {
  gateway?.destroy();
  await platform?.stop();
});

const me = (headers: Record<string, string>) =>
  request<any>(platform.url, "GET", "/v1/me", undefined, headers);
const burst = (headers: Record<string, string>, n: number) =>
  Promise.all(Array.from({ length: n }, () => me(headers)));
const statuses = (results: ApiResult<unknown>[]) => results.map((r) => r.status);

function expectThrottled(results: ApiResult<any>[]): void {
  const throttled = results.filter((r) => r.status === 429);
  expect(throttled.length, JSON.stringify(statuses(results))).toBeGreaterThan(0);
  expect(results.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  for (const refused of throttled) {
    // The stack's THROTTLED gateway response, as API Gateway answers it.
    expect(refused.body).toEqual({
      code: "TOO_MANY_REQUESTS",
      message: "Too Many Requests",
      requestId: expect.any(String),
    });
    expect(refused.headers.get("x-amzn-errortype")).toBe("TooManyRequestsException");
    expect(refused.headers.get("retry-after")).toBe("1");
  }
}

describe("per-tenant and per-key throttling", () => {
  it("gives tenant B 200s while tenant A, at the same moment, is past its burst and gets 429s", async () => {
    const [a, b] = await Promise.all([burst(bearer(platform.token), 30), burst(bearer(tenantB.token), 3)]);
    expectThrottled(a);
    expect(statuses(b)).toEqual([200, 200, 200]);
  });

  it("gives each API key its own bucket: apart from its tenant's sessions and from the tenant's other keys", async () => {
    const [first, second] = [
      await createKey(platform.url, bearer(platform.token), "viewer"),
      await createKey(platform.url, bearer(platform.token), "viewer"),
    ];
    const [sessions, busyKey, quietKey] = await Promise.all([
      burst(bearer(platform.token), 30),
      burst(apiKey(first.key), 30),
      burst(apiKey(second.key), 3),
    ]);
    expectThrottled(sessions);
    expectThrottled(busyKey);
    expect(statuses(quietKey)).toEqual([200, 200, 200]);
  });

  it("counts a quota per key and answers API Gateway's 429 Limit Exceeded past it", async () => {
    const key = await createKey(platform.url, bearer(platform.token), "admin");
    const within = [await me(apiKey(key.key)), await me(apiKey(key.key)), await me(apiKey(key.key))];
    expect(statuses(within)).toEqual([200, 200, 200]);
    const over = await me(apiKey(key.key));
    expect(over.status).toBe(429);
    expect(over.body).toEqual({
      code: "TOO_MANY_REQUESTS",
      message: "Limit Exceeded",
      requestId: expect.any(String),
    });
    expect(over.headers.get("x-amzn-errortype")).toBe("LimitExceededException");
    expect(over.headers.get("retry-after")).toBeNull();
    // Another admin key of the same plan has a quota of its own.
    const other = await createKey(platform.url, bearer(platform.token), "admin");
    expect((await me(apiKey(other.key))).status).toBe(200);
  });

  it("creates the usage key of a new tenant and of a new key in their plans, and deletes a revoked key's", async () => {
    const plans = await gateway.send(new GetUsagePlansCommand({}));
    const planId = (plan: "tenant" | "viewer") =>
      plans.items?.find((p) => p.name === usagePlanName(USAGE_NAMESPACE, plan))?.id;

    const tenantKeys = await gateway.send(
      new GetApiKeysCommand({ nameQuery: `${USAGE_NAMESPACE}-tenant-${tenantB.id}` }),
    );
    expect(tenantKeys.items).toHaveLength(1);
    expect(tenantKeys.items?.[0]).toMatchObject({ enabled: true });
    expect(tenantKeys.items?.[0]?.value).toBeUndefined();
    const tenantPlans = await gateway.send(new GetUsagePlansCommand({ keyId: tenantKeys.items?.[0]?.id }));
    expect(tenantPlans.items?.map((p) => p.id)).toEqual([planId("tenant")]);

    const key = await createKey(platform.url, bearer(tenantB.token), "viewer");
    const name = `${USAGE_NAMESPACE}-key-${key.id}`;
    const keyKeys = await gateway.send(new GetApiKeysCommand({ nameQuery: name }));
    expect(keyKeys.items?.map((k) => k.name)).toEqual([name]);
    const keyPlans = await gateway.send(new GetUsagePlansCommand({ keyId: keyKeys.items?.[0]?.id }));
    expect(keyPlans.items?.map((p) => p.id)).toEqual([planId("viewer")]);

    expect((await send(platform.url, bearer(tenantB.token), "DELETE", `/v1/api-keys/${key.id}`)).status).toBe(
      200,
    );
    expect((await gateway.send(new GetApiKeysCommand({ nameQuery: name }))).items).toEqual([]);
    expect((await me(apiKey(key.key))).status).toBe(401);
  });

  it("leaves no usage key behind when the tenant cannot be created", async () => {
    const tenantKeys = async () =>
      (await gateway.send(new GetApiKeysCommand({ nameQuery: `${USAGE_NAMESPACE}-tenant-` }))).items?.length;
    const before = await tenantKeys();
    expect(before).toBe(2);
    const taken = await send(platform.url, bearer(platform.token), "POST", "/v1/tenants", {
      name: "Globex again",
      adminEmail: "admin@globex.test",
      adminPassword: PASSWORD,
    });
    expect(taken.status).toBe(409);
    expect(await tenantKeys()).toBe(before);
  });
});
