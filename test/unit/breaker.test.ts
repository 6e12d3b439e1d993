import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

/**
 * The breaker over its table item: DynamoDB is mocked by a map that honours the version condition, as the
 * table does, so concurrent callers and lost writes behave as they would on the real table.
 */

const ddb = mockClient(DynamoDBDocumentClient);
const items = new Map<string, Record<string, unknown>>();
let breaker: typeof import("#shared/resilience/breaker");

const endpoint = { tenantId: "t1", kind: "provider" as const, target: "openai https://api.example.com/v1" };
const policy = { failureThreshold: 2, cooldownMs: 1_000 };
const boom = () => Promise.reject(new Error("down"));
const failed = (error: unknown) => error instanceof Error && error.message === "down";

beforeAll(async () => {
  vi.stubEnv("TABLE_NAME", "table");
  vi.stubEnv("AWS_REGION", "us-east-1");
  breaker = await import("#shared/resilience/breaker");
});

afterAll(() => {
  vi.unstubAllEnvs();
});

beforeEach(() => {
  items.clear();
  ddb.reset();
  ddb.on(GetCommand).callsFake((input) => ({ Item: items.get(`${input.Key.pk}|${input.Key.sk}`) }));
  ddb.on(PutCommand).callsFake((input) => {
    const key = `${input.Item.pk}|${input.Item.sk}`;
    const current = items.get(key);
    const seen = input.ExpressionAttributeValues[":v"];
    if (current === undefined ? seen !== 0 : current.version !== seen) {
      throw new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
    }
    items.set(key, input.Item);
    return {};
  });
  ddb.on(QueryCommand).callsFake(() => ({ Items: [...items.values()] }));
});

async function fail(now: number) {
  await expect(breaker.throughBreaker(endpoint, boom, { failed, policy, now: () => now })).rejects.toThrow(
    "down",
  );
}

describe("throughBreaker", () => {
  it("opens after N consecutive failures and then fails fast without calling", async () => {
    await fail(0);
    await fail(0);
    const call = vi.fn(async () => "ok");
    const refused = breaker.throughBreaker(endpoint, call, { failed, policy, now: () => 500 });
    await expect(refused).rejects.toBeInstanceOf(breaker.CircuitOpenError);
    await expect(refused).rejects.toMatchObject({ code: "CIRCUIT_OPEN", retryInMs: 500 });
    expect(call).not.toHaveBeenCalled();
    const [stored] = await import("#shared/resilience/breaker-store").then((m) => m.listBreakers("t1"));
    expect(stored).toMatchObject({ state: "open", failures: 2, target: endpoint.target, kind: "provider" });
  });

  it("lets exactly one of two concurrent callers probe after the cooldown, and closes on its success", async () => {
    await fail(0);
    await fail(0);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const probe = vi.fn(async () => {
      await gate;
      return "probed";
    });
    const first = breaker.throughBreaker(endpoint, probe, { failed, policy, now: () => 1_000 });
    await vi.waitFor(() => expect(probe).toHaveBeenCalledTimes(1));
    const second = breaker.throughBreaker(endpoint, probe, { failed, policy, now: () => 1_001 });
    await expect(second).rejects.toBeInstanceOf(breaker.CircuitOpenError);
    release();
    await expect(first).resolves.toBe("probed");
    expect(probe).toHaveBeenCalledTimes(1);
    await expect(
      breaker.throughBreaker(endpoint, async () => "again", { failed, policy, now: () => 1_002 }),
    ).resolves.toBe("again");
    const [stored] = await import("#shared/resilience/breaker-store").then((m) => m.listBreakers("t1"));
    expect(stored).toMatchObject({ state: "closed", failures: 0 });
  });

  it("opens again when the probe fails", async () => {
    await fail(0);
    await fail(0);
    await fail(1_000);
    await expect(
      breaker.throughBreaker(endpoint, async () => "x", { failed, policy, now: () => 1_500 }),
    ).rejects.toBeInstanceOf(breaker.CircuitOpenError);
  });

  it("does not count errors that say nothing about the endpoint's health", async () => {
    const refused = () => Promise.reject(new Error("bad arguments"));
    for (let i = 0; i < 3; i++) {
      await expect(
        breaker.throughBreaker(endpoint, refused, { failed, policy, now: () => 0 }),
      ).rejects.toThrow("bad arguments");
    }
    await expect(
      breaker.throughBreaker(endpoint, async () => "ok", { failed, policy, now: () => 0 }),
    ).resolves.toBe("ok");
    expect(items.size).toBe(0);
  });

  it("counts a returned value the caller calls a failure (an HTTP 503)", async () => {
    const answer = async () => ({ status: 503 });
    const options = {
      failed,
      failedResult: (v: { status: number }) => v.status >= 500,
      policy,
      now: () => 0,
    };
    await breaker.throughBreaker(endpoint, answer, options);
    await breaker.throughBreaker(endpoint, answer, options);
    await expect(breaker.throughBreaker(endpoint, answer, options)).rejects.toBeInstanceOf(
      breaker.CircuitOpenError,
    );
  });

  it("keeps every tenant's breaker apart", async () => {
    await fail(0);
    await fail(0);
    const other = { ...endpoint, tenantId: "t2" };
    await expect(
      breaker.throughBreaker(other, async () => "ok", { failed, policy, now: () => 0 }),
    ).resolves.toBe("ok");
  });

  it("lets the call go ahead when its own state cannot be read", async () => {
    ddb.on(GetCommand).rejects(new Error("table unavailable"));
    await expect(breaker.throughBreaker(endpoint, async () => "ok", { failed, policy })).resolves.toBe("ok");
  });

  it("reads its policy from the environment", () => {
    vi.stubEnv("SWITCHBOARD_BREAKER_FAILURES", "7");
    vi.stubEnv("SWITCHBOARD_BREAKER_COOLDOWN_SECONDS", "2");
    expect(breaker.breakerPolicy()).toEqual({ failureThreshold: 7, cooldownMs: 2_000 });
  });
});
