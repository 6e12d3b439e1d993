import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addSdkHook, invocationScope } from "../bench/sdk-hooks.ts";
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

const stepsQueueUrl = () => process.env.STEPS_QUEUE_URL as string;

describe("delivery faults", () => {
  it("does each step once when every step message is delivered twice", async () => {
    const sqs = new SQSClient({});
    let duplicates = 0;
    // Each message the platform sends to the steps queue is sent again, by hand, with the same body.
    const remove = addSdkHook("chaos-duplicate", async (call, next) => {
      const result = await next();
      const fromPlatform = invocationScope.getStore() !== undefined;
      if (
        fromPlatform &&
        call.commandName === "SendMessageBatchCommand" &&
        call.input.QueueUrl === stepsQueueUrl()
      ) {
        for (const entry of call.input.Entries as { MessageBody: string; DelaySeconds?: number }[]) {
          duplicates++;
          await sqs.send(
            new SendMessageCommand({
              QueueUrl: stepsQueueUrl(),
              MessageBody: entry.MessageBody,
              DelaySeconds: entry.DelaySeconds,
            }),
          );
        }
      }
      return result;
    });
    const diamond = {
      name: "chaos-diamond",
      nodes: [
        { id: "a", type: "code" as const, code: "return 1" },
        { id: "b", type: "code" as const, code: "return 2", dependsOn: ["a"] },
        { id: "c", type: "code" as const, code: "return 3", dependsOn: ["a"] },
        {
          id: "d",
          type: "code" as const,
          code: "return steps.b.output + steps.c.output",
          dependsOn: ["b", "c"],
        },
      ],
      output: { sum: "{% $steps.d.output %}" },
    };
    const started = Date.now();
    try {
      const ids = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          submit(chaos.client, { workflow: diamond }, `dup-${started}-${i}`),
        ),
      );
      const healed = await healAll(chaos.client, ids, { sweepWhenQuiet: false, deadlineMs: 45_000 });
      const verdict = await judge(
        chaos.client,
        "duplicate deliveries",
        ids,
        healed,
        started,
        `${duplicates} duplicates sent`,
      );
      verdicts.push(verdict);
      // At least each job's first message (sent by the API) was doubled; the worker runs a lone next step
      // inline, so not every step has a message of its own.
      expect(duplicates).toBeGreaterThanOrEqual(8);
      expect(verdict).toMatchObject({
        lost: 0,
        duplicate: 0,
        stuck: 0,
        failed: 0,
        succeeded: 8,
        extraAttempts: 0,
      });
      const job = await chaos.client.jobs.get(ids[0] as string);
      expect(job.output).toEqual({ sum: 5 });
    } finally {
      remove();
      sqs.destroy();
    }
  });

  it("heals a job whose worker died after claiming a step, through the sweeper", async () => {
    const workflow = chain("chaos-killed", 3);
    // A timeout past PURE_UNCLAIMED_MAX_SECONDS: the doomed code step is claimed before it runs, as a
    // step with effects always is (a shorter one runs unclaimed, and its redelivery simply runs it again).
    const doomed = workflow.nodes.map((n) =>
      n.id === "s2"
        ? { ...n, id: "doomed", timeoutSeconds: 90 }
        : n.id === "s3"
          ? { ...n, dependsOn: ["doomed"] }
          : n,
    );
    chaos.faults.killNodes.add("doomed");
    const stamp = Date.now();
    const ids = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        submit(
          chaos.client,
          { workflow: { ...workflow, nodes: doomed }, input: { n: i } },
          `kill-${stamp}-${i}`,
        ),
      ),
    );
    const deadline = Date.now() + 20_000;
    while (chaos.faults.kills.length < ids.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    chaos.faults.killNodes.clear();
    const lastKill = Math.max(...chaos.faults.kills.map((k) => k.at));
    // The first sweep's clock goes past every lease: it finds the killed attempts (all claimed before the
    // last kill) and starts their second attempts. Later sweeps run on the real clock: on a busy machine a
    // second attempt may still be running then, and its lease must stand.
    const healed = await healAll(chaos.client, ids, {
      deadlineMs: 45_000,
      sweepAt: (n) => new Date(Date.now() + (n === 0 ? 10 * 60_000 : 0)),
    });
    const verdict = await judge(
      chaos.client,
      "worker killed mid-step",
      ids,
      healed,
      lastKill,
      `${chaos.faults.kills.length} workers died after claiming`,
    );
    verdicts.push(verdict);
    expect(chaos.faults.kills).toHaveLength(4);
    expect(verdict).toMatchObject({ lost: 0, duplicate: 0, stuck: 0, failed: 0, succeeded: 4 });
    expect(healed.sweeps).toBeGreaterThan(0);
    for (const id of ids) {
      const job = await chaos.client.jobs.get(id);
      expect(job.steps.find((s) => s.nodeId === "doomed")).toMatchObject({ status: "succeeded", attempt: 2 });
      expect(job.steps.find((s) => s.nodeId === "s3")).toMatchObject({ status: "succeeded", attempt: 1 });
      const notes = (await chaos.client.jobs.events(id)).items.filter((e) => e.type === "job.note");
      expect(notes.some((n) => n.type === "job.note" && /lease/i.test(n.message))).toBe(true);
    }
  });

  it("heals jobs whose messages were lost when the queue service restarted", async () => {
    const fauxqs = chaos.platform.twin.fauxqs;
    // Every step waits two seconds first, so its message sits (delayed) in the queue when the restart comes.
    const workflow = {
      name: "chaos-restart",
      nodes: [
        { id: "pause", type: "wait" as const, seconds: 2 },
        ...chain("x", 2).nodes.map((n) => (n.id === "s1" ? { ...n, dependsOn: ["pause"] } : n)),
      ],
    };
    const stamp = Date.now();
    const before = await Promise.all(
      Array.from({ length: 6 }, (_, i) => submit(chaos.client, { workflow }, `restart-${stamp}-${i}`)),
    );
    // The restart: SQS refuses every call for two seconds, and comes back with its queues (the twin creates
    // them on start) but none of their messages: `reset` empties every queue, delayed and in-flight included.
    let down = true;
    const remove = addSdkHook(
      "chaos-sqs-down",
      async (call, next) => {
        if (down && call.clientName === "SQSClient") {
          const error = new Error("connect ECONNREFUSED 127.0.0.1");
          error.name = "TimeoutError";
          throw Object.assign(error, { code: "ECONNREFUSED", $metadata: {} });
        }
        return next();
      },
      "attempt",
    );
    fauxqs.reset();
    // Jobs submitted while the queue is down: the API writes them, then fails to send; the client retries.
    const during = Array.from({ length: 3 }, (_, i) =>
      submit(chaos.client, { workflow: chain("chaos-during", 2) }, `during-${stamp}-${i}`),
    );
    await new Promise((r) => setTimeout(r, 2_000));
    fauxqs.reset();
    down = false;
    const faultEnded = Date.now();
    remove();
    const ids = [...before, ...(await Promise.all(during))];
    const healed = await healAll(chaos.client, ids, { deadlineMs: 40_000 });
    const verdict = await judge(
      chaos.client,
      "queue restarted (2 s down, purged)",
      ids,
      healed,
      faultEnded,
      `${before.length} waiting + ${ids.length - before.length} submitted while down`,
    );
    verdicts.push(verdict);
    expect(verdict).toMatchObject({ lost: 0, duplicate: 0, stuck: 0, failed: 0, succeeded: ids.length });
    expect(healed.sweeps).toBeGreaterThan(0);
  }, 90_000);
});
