import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamo } from "#shared/aws";
import { tableName } from "#shared/db";
import { auditKeys, auditShard } from "#shared/stores/audit";
import { addSdkHook } from "../bench/sdk-hooks.ts";
import { type Platform, startPlatform } from "../support/platform.ts";

const oneStep = {
  name: "audited-job",
  nodes: [{ id: "a", type: "code", code: "return 1" }],
};

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

type Entry = { id: string; resource: string; action: string; status: number; actorId: string };

describe("audit log, sharded", () => {
  it("writes a job submission's entry in the job's own BatchWriteItem, not a request of its own", async () => {
    const calls: { command: string; types: string[] }[] = [];
    const remove = addSdkHook("audit-calls", async (call, next) => {
      type Typed = { type?: string | { S?: string } };
      const typeOf = (item: Typed | undefined) =>
        typeof item?.type === "string" ? item.type : item?.type?.S;
      const input = call.input as {
        Item?: Typed;
        RequestItems?: Record<string, { PutRequest?: { Item?: Typed } }[]>;
      };
      const types = [
        ...(typeOf(input.Item) === undefined ? [] : [String(typeOf(input.Item))]),
        ...Object.values(input.RequestItems ?? {}).flatMap((requests) =>
          requests.map((r) => String(typeOf(r.PutRequest?.Item))),
        ),
      ];
      calls.push({ command: call.commandName, types });
      return next();
    });
    let jobId: string;
    try {
      const submitted = await platform.api("POST", "/v1/jobs", { workflow: oneStep, input: {} });
      expect(submitted.status).toBe(202);
      jobId = submitted.body.id;
    } finally {
      remove();
    }
    const withAudit = calls.filter((c) => c.types.includes("audit"));
    expect(withAudit).toEqual([{ command: "BatchWriteItemCommand", types: expect.arrayContaining(["job"]) }]);
    const log = await platform.api("GET", `/v1/audit?resource=/v1/jobs/${jobId}`);
    expect(log.body.items).toEqual([
      expect.objectContaining({ action: "createJob", resource: `/v1/jobs/${jobId}`, status: 202 }),
    ]);
  });

  it("audits a repeated idempotency key as its own 200 entry", async () => {
    const body = { workflow: oneStep, input: { n: 1 }, idempotencyKey: `audit-${Date.now()}` };
    const first = await platform.api("POST", "/v1/jobs", body);
    const again = await platform.api("POST", "/v1/jobs", body);
    expect([first.status, again.status]).toEqual([202, 200]);
    const log = await platform.api("GET", `/v1/audit?resource=/v1/jobs/${first.body.id}`);
    expect(log.body.items.map((e: Entry) => e.status)).toEqual([200, 202]);
  });

  it("pages newest first across every shard, and still reads entries from before the split", async () => {
    const before = new Date().toISOString();
    const legacyAt = new Date(Date.now() + 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const ids: string[] = [];
    const requestIds: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { body, headers } = await platform.api("POST", "/v1/jobs", { workflow: oneStep, input: { i } });
      ids.push(body.id);
      requestIds.push(String(headers.get("x-amzn-requestid")));
    }
    // The entries are spread over the shards (by request id), so a page has to merge them.
    expect(new Set(requestIds.map(auditShard)).size).toBeGreaterThan(1);
    // An entry as written before the log was sharded: the tenant's one partition.
    const me = await platform.api("GET", "/v1/me");
    const legacy = {
      tenantId: "default",
      actorId: String(me.body.principalId),
      actorType: "user",
      action: "legacyAction",
      resource: "/v1/legacy",
      requestId: "legacy-request",
      sourceIp: "127.0.0.1",
      status: 200,
      at: legacyAt,
    };
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: auditKeys.pk("default"),
          sk: auditKeys.sk(legacy),
          type: "audit",
          ...legacy,
          gsi1pk: auditKeys.byActor("default", legacy.actorId),
          gsi1sk: auditKeys.sk(legacy),
        },
      }),
    );

    for (const actor of [undefined, legacy.actorId]) {
      const seen: Entry[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const query = `limit=5&from=${before}${actor === undefined ? "" : `&actorId=${actor}`}${cursor ? `&cursor=${cursor}` : ""}`;
        const page = await platform.api("GET", `/v1/audit?${query}`);
        expect(page.status).toBe(200);
        expect(page.body.items.length).toBeLessThanOrEqual(5);
        seen.push(...page.body.items);
        cursor = page.body.cursor;
        pages++;
      } while (cursor !== undefined && pages < 20);
      expect(cursor).toBeUndefined();
      const jobs = seen.filter((e) => e.action === "createJob").map((e) => e.resource);
      expect(jobs).toEqual([...ids].reverse().map((id) => `/v1/jobs/${id}`));
      expect(seen.filter((e) => e.action === "legacyAction")).toHaveLength(1);
      const times = seen.map((e) => e.id);
      expect(times).toEqual([...times].sort().reverse());
      expect(new Set(times).size).toBe(times.length);
    }
    // A cursor of the whole log does not page an actor's list.
    const first = await platform.api("GET", `/v1/audit?limit=1&from=${before}`);
    expect(
      (await platform.api("GET", `/v1/audit?actorId=${legacy.actorId}&cursor=${first.body.cursor}`)).status,
    ).toBe(400);
  });
});
