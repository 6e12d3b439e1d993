import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamo } from "#shared/aws";
import { tableName } from "#shared/db";
import { keys } from "#shared/keys";
import {
  addSubscription,
  deleteConnection,
  listeningSubscribers,
  putConnection,
  removeSubscription,
  subscriptionPresence,
} from "#shared/stores/connections";
import { addSdkHook } from "../bench/sdk-hooks.ts";
import { type Platform, SocketClient, startPlatform, waitForJob } from "../support/platform.ts";

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform();
});

afterAll(async () => {
  await platform?.stop();
});

const principal = { principalId: "u_presence", role: "admin" };

async function liveCount(tenantId: string) {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.liveSubscriptions(tenantId), ConsistentRead: true }),
  );
  return { n: Item?.n, jobs: Item?.jobs, wide: Item?.wide };
}

describe("the tenant's subscription count, by kind", () => {
  it("counts subscriptions to one job and to every job apart, through subscribe, repeat and removal", async () => {
    const tenant = "presence-kinds";
    await putConnection(tenant, "c-all", principal);
    await putConnection(tenant, "c-job", principal);
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: false, tenant: false });

    await addSubscription(tenant, "c-all", { all: true });
    expect(await liveCount(tenant)).toEqual({ n: 1, jobs: 0, wide: 1 });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: false, tenant: true });

    await addSubscription(tenant, "c-job", { jobId: "j_one" });
    await addSubscription(tenant, "c-job", { jobId: "j_one" });
    expect(await liveCount(tenant)).toEqual({ n: 2, jobs: 1, wide: 1 });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: true, tenant: true });

    await removeSubscription(tenant, "c-job", { jobId: "j_one" });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: false, tenant: true });
    await addSubscription(tenant, "c-job", { jobId: "j_two" });
    await deleteConnection(tenant, "c-all");
    expect(await liveCount(tenant)).toEqual({ n: 1, jobs: 1, wide: 0 });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: true, tenant: false });
    await deleteConnection(tenant, "c-job");
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: false, tenant: false });
  });

  it("assumes either kind while the count holds subscriptions that were not counted by kind", async () => {
    const tenant = "presence-before-kinds";
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...keys.liveSubscriptions(tenant), n: 1, expiresAt },
      }),
    );
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: true, tenant: true });
    await putConnection(tenant, "c-all", principal);
    await addSubscription(tenant, "c-all", { all: true });
    expect(await liveCount(tenant)).toEqual({ n: 2, jobs: 0, wide: 1 });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: true, tenant: true });
  });

  it("counts kinds exactly again once the subscriptions from before them have all gone", async () => {
    const tenant = "presence-heals";
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    // As the count was kept before: a job subscription counted in `n` only.
    await putConnection(tenant, "c-old", principal);
    await addSubscription(tenant, "c-old", { jobId: "j_old" });
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...keys.liveSubscriptions(tenant), n: 1, expiresAt },
      }),
    );
    await putConnection(tenant, "c-all", principal);
    await addSubscription(tenant, "c-all", { all: true });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: true, tenant: true });
    await deleteConnection(tenant, "c-all");
    await deleteConnection(tenant, "c-old");
    expect(await liveCount(tenant)).toEqual({ n: 0, jobs: 0, wide: 0 });
    await putConnection(tenant, "c-new", principal);
    await addSubscription(tenant, "c-new", { all: true });
    expect(await liveCount(tenant)).toEqual({ n: 1, jobs: 0, wide: 1 });
    expect(await subscriptionPresence(tenant)).toEqual({ jobs: false, tenant: true });
  });
});

describe("listening subscribers (token stream, notifications)", () => {
  it("reads only the count while the tenant holds no subscription, and only the partitions it holds", async () => {
    const tenant = "presence-lookups";
    const calls: string[] = [];
    // Only this tenant's requests: the twin's pollers and sweeper make theirs in this process too.
    const remove = addSdkHook("presence-lookups", async (call, next) => {
      if (JSON.stringify(call.input).includes(tenant)) calls.push(call.commandName);
      return next();
    });
    try {
      expect(await listeningSubscribers(tenant, "j_watched")).toEqual([]);
      expect(calls).toEqual(["GetItemCommand"]);
      await putConnection(tenant, "c-job", principal);
      await addSubscription(tenant, "c-job", { jobId: "j_watched" }, 3, true);
      calls.length = 0;
      expect(await listeningSubscribers(tenant, "j_watched")).toEqual([
        { connectionId: "c-job", fromSeq: 3, batch: true },
      ]);
      expect(calls).toEqual(["GetItemCommand", "QueryCommand"]);
    } finally {
      remove();
    }
  });
});

describe("the fanout's subscriber reads", () => {
  it("with only a tenant-wide subscriber, reads no job's subscribers and the tenant's once per batch", async () => {
    const socket = await SocketClient.open(platform.wsUrl, platform.token);
    const queries: string[] = [];
    let presenceReads = 0;
    const remove = addSdkHook("presence-reads", async (call, next) => {
      const input = call.input as {
        ExpressionAttributeValues?: Record<string, unknown>;
        Key?: { pk?: unknown };
      };
      if (call.commandName === "QueryCommand") queries.push(String(input.ExpressionAttributeValues?.[":pk"]));
      if (call.commandName === "GetItemCommand" && JSON.stringify(input.Key?.pk).includes("#LIVE")) {
        presenceReads++;
      }
      return next();
    });
    try {
      socket.send({ action: "subscribe", all: true, batch: true });
      await socket.waitFor((m) => m.type === "subscribed" && m.all === true);
      const workflow = { name: "presence-probe", nodes: [{ id: "a", type: "code", code: "return 1" }] };
      const submitted = await Promise.all(
        Array.from({ length: 6 }, () => platform.api("POST", "/v1/jobs", { workflow, input: {} })),
      );
      const ids = submitted.map((r) => {
        expect(r.status).toBe(202);
        return r.body.id as string;
      });
      for (const id of ids) {
        await waitForJob(platform, id, ["succeeded"]);
        const events = (m: { type: string; events?: { status?: string }[]; status?: string }) =>
          m.type === "batch" ? (m.events ?? []) : [m];
        await socket.waitFor((m) => m.jobId === id && events(m).some((e) => e.status === "succeeded"));
      }
    } finally {
      remove();
      await socket.close();
    }
    const subscriberQueries = queries.filter((pk) => pk.includes("#SUB#"));
    expect(subscriberQueries.filter((pk) => pk.includes("#SUB#J#"))).toEqual([]);
    expect(subscriberQueries.length).toBeGreaterThan(0);
    expect(subscriberQueries.every((pk) => pk.endsWith("#SUB#ALL"))).toBe(true);
    // One presence read and one tenant-wide read per batch that had events (the subscribe's own replay
    // reads neither).
    expect(subscriberQueries.length).toBe(presenceReads);
  });
});
