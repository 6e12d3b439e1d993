import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

const ddb = mockClient(DynamoDBDocumentClient);

let page: typeof import("#shared/stores/page");
let ownership: typeof import("#shared/auth/ownership");

beforeAll(async () => {
  vi.stubEnv("TABLE_NAME", "table");
  vi.stubEnv("AWS_REGION", "us-east-1");
  page = await import("#shared/stores/page");
  ownership = await import("#shared/auth/ownership");
});

afterAll(() => {
  vi.unstubAllEnvs();
});

beforeEach(() => {
  ddb.reset();
});

const item = (n: number, createdBy: string) => ({
  pk: `T#t#J#j${n}`,
  sk: "A#SUM",
  gsi1pk: "T#t#JOBS",
  gsi1sk: `2026-01-01#j${n}`,
  id: `j${n}`,
  createdBy,
});
const decode = (cursor: string | undefined) =>
  cursor === undefined ? undefined : JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));

describe("newestFirst with a filter", () => {
  it("keeps reading while the filter leaves the page short, and passes the filter to DynamoDB", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [], LastEvaluatedKey: { pk: "a", gsi1pk: "T#t#JOBS" } })
      .resolvesOnce({ Items: [item(1, "u")], LastEvaluatedKey: { pk: "b", gsi1pk: "T#t#JOBS" } })
      .resolvesOnce({ Items: [item(2, "u")] });
    const result = await page.newestFirst({
      index: "gsi1",
      partition: "T#t#JOBS",
      limit: 5,
      filter: page.createdByFilter("u"),
      map: (i) => i.id,
    });
    expect(result).toEqual({ items: ["j1", "j2"] });
    const calls = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatchObject({
      FilterExpression: "createdBy = :createdBy",
      ExpressionAttributeValues: { ":pk": "T#t#JOBS", ":createdBy": "u" },
      Limit: page.FILTER_READ_SIZE,
    });
    expect(calls[1]?.ExclusiveStartKey).toEqual({ pk: "a", gsi1pk: "T#t#JOBS" });
  });

  it("returns no more than the limit, with a cursor at the last item returned", async () => {
    ddb.on(QueryCommand).resolvesOnce({
      Items: [item(1, "u"), item(2, "u"), item(3, "u")],
      LastEvaluatedKey: { pk: "far", gsi1pk: "T#t#JOBS" },
    });
    const result = await page.newestFirst({
      index: "gsi1",
      partition: "T#t#JOBS",
      limit: 2,
      filter: page.createdByFilter("u"),
      map: (i) => i.id,
    });
    expect(result.items).toEqual(["j1", "j2"]);
    expect(decode(result.cursor)).toEqual({
      pk: "T#t#J#j2",
      sk: "A#SUM",
      gsi1pk: "T#t#JOBS",
      gsi1sk: "2026-01-01#j2",
    });
  });

  it("stops after its read budget with a short page and a cursor, rather than reading the partition", async () => {
    ddb.on(QueryCommand).resolves({ Items: [], LastEvaluatedKey: { pk: "more", gsi1pk: "T#t#JOBS" } });
    const result = await page.newestFirst({
      index: "gsi1",
      partition: "T#t#JOBS",
      limit: 10,
      filter: page.createdByFilter("nobody"),
      map: (i) => i.id,
    });
    expect(result.items).toEqual([]);
    expect(decode(result.cursor)).toEqual({ pk: "more", gsi1pk: "T#t#JOBS" });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(page.MAX_FILTER_ROUNDS);
  });

  it("reads once, with the page's own limit, when nothing is filtered", async () => {
    ddb
      .on(QueryCommand)
      .resolves({ Items: [item(1, "u")], LastEvaluatedKey: { pk: "x", gsi1pk: "T#t#JOBS" } });
    const result = await page.newestFirst({
      index: "gsi1",
      partition: "T#t#JOBS",
      limit: 1,
      map: (i) => i.id,
    });
    expect(result.items).toEqual(["j1"]);
    const calls = ddb.commandCalls(QueryCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input.Limit).toBe(1);
    expect(calls[0]?.args[0].input.FilterExpression).toBeUndefined();
  });

  it("joins filters with AND and keeps all their values", () => {
    expect(
      page.allOf(
        { expression: "workflowId = :w", values: { ":w": "w1" } },
        undefined,
        page.createdByFilter("u"),
      ),
    ).toEqual({
      expression: "(workflowId = :w) AND (createdBy = :createdBy)",
      names: {},
      values: { ":w": "w1", ":createdBy": "u" },
    });
  });
});

describe("access scope", () => {
  it("restricts only users, and only when the tenant chose owner", async () => {
    ddb.on(GetCommand).resolves({ Item: { resourceAccess: "owner" } });
    expect(await ownership.accessScope({ tenantId: "t", principalId: "u1", role: "user" })).toEqual({
      tenantId: "t",
      ownerId: "u1",
    });
    expect(await ownership.accessScope({ tenantId: "t", principalId: "a1", role: "admin" })).toEqual({
      tenantId: "t",
    });
    expect(await ownership.accessScope({ tenantId: "t", principalId: "v1", role: "viewer" })).toEqual({
      tenantId: "t",
    });
    expect(ddb.commandCalls(GetCommand)).toHaveLength(1);
    ddb.reset();
    ddb.on(GetCommand).resolves({});
    expect(await ownership.accessScope({ tenantId: "t", principalId: "u1", role: "user" })).toEqual({
      tenantId: "t",
    });
  });

  it("a tenant-wide subscriber under owner access gets only its own jobs' events", async () => {
    ddb.on(GetCommand).resolves({ Item: { createdBy: "u1" } });
    const subscribers = [
      { connectionId: "mine", ownerId: "u1" },
      { connectionId: "theirs", ownerId: "u2" },
      { connectionId: "admin" },
    ];
    const allowed = await ownership.subscribersAllowed("t", "j1", subscribers);
    expect(allowed.map((s) => s.connectionId)).toEqual(["mine", "admin"]);
    ddb.reset();
    const admin: { connectionId: string; ownerId?: string }[] = [{ connectionId: "admin" }];
    expect(await ownership.subscribersAllowed("t", "j1", admin)).toHaveLength(1);
    expect(ddb.commandCalls(GetCommand)).toHaveLength(0);
  });
});
