import { DeleteCommand, DynamoDBDocumentClient, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { allowance, LOGIN_RULES, resetSlots, retryAfterSeconds, takeSlot } from "#shared/rate-limit";

const ddb = mockClient(DynamoDBDocumentClient);
const rule = { scope: "test", limit: 10, windowSeconds: 900 };
const WINDOW_MS = 900_000;
/** 300 s into a window. */
const now = new Date(WINDOW_MS * 2000 + 300_000);
const windowStart = WINDOW_MS * 2000;
const sk = (start: number) => String(start).padStart(13, "0");

function conditionalFailure() {
  return Object.assign(new Error("The conditional request failed"), {
    name: "ConditionalCheckFailedException",
  });
}

beforeAll(() => {
  vi.stubEnv("TABLE_NAME", "table");
});
afterAll(() => {
  vi.unstubAllEnvs();
});
beforeEach(() => {
  ddb.reset();
});

describe("sliding-window arithmetic", () => {
  it("weights the previous window by how much of it still overlaps the last windowSeconds", () => {
    // A third of the window has passed: two thirds of the previous window's 6 hits still count.
    expect(allowance(rule, { previous: 6, elapsedMs: 300_000 })).toBeCloseTo(6);
    expect(allowance(rule, { previous: 0, elapsedMs: 0 })).toBe(10);
  });

  it("when the current window is full, waits into the next window until the estimate drops below the limit", () => {
    // 600 s left of this window, then the 10 hits fade: below 10 as soon as any of the next window passed.
    expect(retryAfterSeconds(rule, { previous: 0, current: 10, elapsedMs: 300_000 })).toBe(601);
    // 20 hits: half of the next window must pass before 20 × (1 − s/W) < 10.
    expect(retryAfterSeconds(rule, { previous: 0, current: 20, elapsedMs: 300_000 })).toBe(600 + 450 + 1);
  });

  it("when the previous window holds the weight, waits until enough of it has slid out", () => {
    // 12 × (1 − (300 + t)/900) + 4 < 10  ⇔  t > 450 − 300 = 150.
    expect(retryAfterSeconds(rule, { previous: 12, current: 4, elapsedMs: 300_000 })).toBe(151);
  });
});

describe("takeSlot", () => {
  it("counts the hit with a conditional increment that refuses a full window", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { sk: sk(windowStart - WINDOW_MS), count: 3 },
        { sk: sk(windowStart), count: 2 },
      ],
    });
    ddb.on(UpdateCommand).resolves({});
    const slot = await takeSlot(rule, "Ada@Example.test", now);
    expect(slot.allowed).toBe(true);
    const update = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(update?.Key?.sk).toBe(sk(windowStart));
    // The subject is hashed: no email in the key.
    expect(update?.Key?.pk).toMatch(/^RL#test#[0-9a-f]{32}$/);
    expect(JSON.stringify(update)).not.toContain("ada@");
    expect(update?.ExpressionAttributeValues?.[":delta"]).toBe(1);
    // 10 − 3 × 2/3 = 8 hits may be in the current window.
    expect(update?.ExpressionAttributeValues?.[":below"]).toBeCloseTo(8);
    expect(update?.ConditionExpression).toContain("#count < :below");
    expect(update?.ExpressionAttributeValues?.[":ttl"]).toBe((windowStart + 2 * WINDOW_MS) / 1000);
  });

  it("hashes emails case-insensitively, so Ada@ and ada@ share a counter", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(UpdateCommand).resolves({});
    await takeSlot(rule, "Ada@Example.test", now);
    await takeSlot(rule, "ada@example.test", now);
    const [first, second] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input.Key?.pk);
    expect(first).toBe(second);
  });

  it("refuses without writing when the window is already full, with the time to wait", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ sk: sk(windowStart), count: 10 }] });
    const slot = await takeSlot(rule, "ada@example.test", now);
    expect(slot).toEqual({ allowed: false, retryAfterSeconds: 601 });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("refuses when a concurrent attempt took the last slot first (the condition fails)", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ sk: sk(windowStart), count: 9 }] });
    ddb.on(UpdateCommand).rejects(conditionalFailure());
    const slot = await takeSlot(rule, "ada@example.test", now);
    expect(slot.allowed).toBe(false);
  });

  it("gives a slot back with a decrement of the same window", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(UpdateCommand).resolves({});
    const slot = await takeSlot(rule, "10.0.0.1", now);
    if (!slot.allowed) throw new Error("expected a slot");
    await slot.release();
    const [take, give] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(give?.Key).toEqual(take?.Key);
    expect(give?.ExpressionAttributeValues?.[":delta"]).toBe(-1);
    expect(give?.ConditionExpression).toBeUndefined();
  });

  it("resetSlots deletes the current and the previous window", async () => {
    ddb.on(DeleteCommand).resolves({});
    await resetSlots(rule, "ada@example.test", now);
    const deleted = ddb
      .commandCalls(DeleteCommand)
      .map((c) => c.args[0].input.Key?.sk)
      .sort();
    expect(deleted).toEqual([sk(windowStart - WINDOW_MS), sk(windowStart)]);
  });

  it("limits failed sign-ins to 10 per email and 50 per IP in 15 minutes", () => {
    expect(LOGIN_RULES.perEmail).toMatchObject({ limit: 10, windowSeconds: 900 });
    expect(LOGIN_RULES.perIp).toMatchObject({ limit: 50, windowSeconds: 900 });
  });
});
