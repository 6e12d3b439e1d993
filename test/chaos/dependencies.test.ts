import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamo } from "#shared/aws";
import { tableName } from "#shared/db";
import { keys } from "#shared/keys";
import { subscribersOf } from "#shared/stores/connections";
import { addSdkHook, invocationScope } from "../bench/sdk-hooks.ts";
import { SocketClient } from "../support/platform.ts";
import {
  type ChaosPlatform,
  chain,
  healAll,
  judge,
  report,
  startChaosPlatform,
  submit,
  type Verdict,
} from "./harness.ts";

let chaos: ChaosPlatform;
const verdicts: Verdict[] = [];

beforeAll(async () => {
  chaos = await startChaosPlatform();
});

afterAll(async () => {
  report(verdicts);
  await chaos?.stop();
});

describe("dependency faults", () => {
  it("finishes every job while DynamoDB throttles a third of the platform's calls", async () => {
    let throttled = 0;
    let calls = 0;
    // Inside the SDK's retry loop, so each throttle is retried with backoff as a real one is; a call whose
    // every attempt is throttled fails into the platform's own error handling.
    const remove = addSdkHook(
      "chaos-throttle",
      async (call, next) => {
        if (call.clientName === "DynamoDBClient" && invocationScope.getStore() !== undefined) {
          calls++;
          if (Math.random() < 0.35) {
            throttled++;
            const error = new Error(
              "The level of configured provisioned throughput for the table was exceeded",
            );
            error.name = "ProvisionedThroughputExceededException";
            throw Object.assign(error, { $fault: "client", $metadata: { httpStatusCode: 400 } });
          }
        }
        return next();
      },
      "attempt",
    );
    const stamp = Date.now();
    let ids: string[] = [];
    try {
      ids = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          submit(
            chaos.client,
            { workflow: chain("chaos-throttled", 3), input: { n: i } },
            `throttle-${stamp}-${i}`,
          ),
        ),
      );
      // The fault lasts until the jobs have had their chance to finish under it.
      await healAll(chaos.client, ids, { deadlineMs: 20_000, sweepWhenQuiet: false });
    } finally {
      remove();
    }
    const faultEnded = Date.now();
    const healed = await healAll(chaos.client, ids, { deadlineMs: 40_000 });
    const verdict = await judge(
      chaos.client,
      "DynamoDB throttling (35% of attempts)",
      ids,
      healed,
      faultEnded,
      `${throttled} of ${calls} attempts throttled`,
    );
    verdicts.push(verdict);
    expect(throttled).toBeGreaterThan(10);
    expect(verdict).toMatchObject({ lost: 0, duplicate: 0, stuck: 0, failed: 0, succeeded: 10 });
  }, 120_000);

  it("drops a subscribed connection that vanished without $disconnect when the fanout gets 410", async () => {
    const me = await chaos.client.me();
    let gone = 0;
    let firstGoneAt = 0;
    const remove = addSdkHook("chaos-count-gone", async (call, next) => {
      try {
        return await next();
      } catch (error) {
        if (call.commandName === "PostToConnectionCommand" && (error as Error).name === "GoneException") {
          gone++;
          firstGoneAt ||= Date.now();
        }
        throw error;
      }
    });
    const stale = await SocketClient.open(chaos.platform.wsUrl, chaos.platform.token);
    const staleId = chaos.faults.connections.at(-1) as string;
    stale.send({ action: "subscribe", all: true });
    await stale.waitFor((m) => m.type === "subscribed");
    const live = await SocketClient.open(chaos.platform.wsUrl, chaos.platform.token);
    live.send({ action: "subscribe", all: true });
    await live.waitFor((m) => m.type === "subscribed");
    try {
      // The client vanishes and API Gateway never tells the platform: the connection and its subscription stay.
      chaos.faults.dropDisconnect = true;
      stale.socket.terminate();
      for (let i = 0; i < 100 && !chaos.faults.droppedDisconnects.includes(staleId); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      chaos.faults.dropDisconnect = false;
      expect(chaos.faults.droppedDisconnects).toContain(staleId);
      const connection = keys.connection(me.tenantId, staleId);
      const before = await dynamo().send(
        new GetCommand({ TableName: tableName(), Key: connection, ConsistentRead: true }),
      );
      expect(before.Item).toBeDefined();

      const jobId = await submit(
        chaos.client,
        { workflow: chain("chaos-stale-socket", 2) },
        `stale-${Date.now()}`,
      );
      await live.waitFor(
        (m) => m.type === "job.status_changed" && m.jobId === jobId && m.status === "succeeded",
        20_000,
      );
      const healed = await healAll(chaos.client, [jobId], { sweepWhenQuiet: false });
      let after = await dynamo().send(
        new GetCommand({ TableName: tableName(), Key: connection, ConsistentRead: true }),
      );
      for (let i = 0; i < 50 && after.Item !== undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await dynamo().send(
          new GetCommand({ TableName: tableName(), Key: connection, ConsistentRead: true }),
        );
      }
      const removedAt = Date.now();
      expect(gone).toBeGreaterThan(0);
      expect(after.Item).toBeUndefined();
      const subscribers = await subscribersOf(me.tenantId, jobId);
      expect(subscribers.map((s) => s.connectionId)).not.toContain(staleId);
      // The live client saw the whole timeline, in order, despite the dead one next to it.
      const seqs = live.messages.filter((m) => m.jobId === jobId && m.seq !== undefined).map((m) => m.seq);
      expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
      const verdict = await judge(
        chaos.client,
        "stale WebSocket connection",
        [jobId],
        { ...healed, endedAt: removedAt },
        firstGoneAt,
        `${gone} x 410 Gone; heal = first 410 to connection deleted`,
      );
      verdicts.push(verdict);
      expect(verdict).toMatchObject({ lost: 0, duplicate: 0, stuck: 0, failed: 0, succeeded: 1 });
    } finally {
      remove();
      chaos.faults.dropDisconnect = false;
      await live.close();
    }
  });
});
