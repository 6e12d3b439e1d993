import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addSdkHook, invocationScope } from "../bench/sdk-hooks.ts";
import {
  type ChaosPlatform,
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
const ITEMS = 40;

describe("results racing on one job", () => {
  it("records every one of many concurrent results for one job, with duplicate and delayed deliveries", async () => {
    const sqs = new SQSClient({});
    let copies = 0;
    // Every step message is delivered again, by hand, once at once and once late: the duplicates race the
    // originals for the same job item, and the late ones arrive after their result was recorded.
    const remove = addSdkHook("chaos-racing-results", async (call, next) => {
      const result = await next();
      if (
        invocationScope.getStore() !== undefined &&
        call.commandName === "SendMessageBatchCommand" &&
        call.input.QueueUrl === stepsQueueUrl()
      ) {
        for (const entry of call.input.Entries as { MessageBody: string; DelaySeconds?: number }[]) {
          // A batch message carries a chunk's items: each of them is delivered again with it.
          const carried = (JSON.parse(entry.MessageBody) as { items?: unknown[] }).items?.length ?? 1;
          for (const extra of [0, 2]) {
            copies += carried;
            await sqs.send(
              new SendMessageCommand({
                QueueUrl: stepsQueueUrl(),
                MessageBody: entry.MessageBody,
                DelaySeconds: (entry.DelaySeconds ?? 0) + extra,
              }),
            );
          }
        }
      }
      return result;
    });
    const workflow = {
      name: "chaos-wide",
      nodes: [
        { id: "each", type: "code" as const, code: "return item", forEach: "{% $input.ids %}" },
        { id: "sum", type: "code" as const, dependsOn: ["each"], code: "return steps.each.output.length" },
      ],
      output: { all: "{% $steps.each.output %}", count: "{% $steps.sum.output %}" },
    };
    const ids = Array.from({ length: ITEMS }, (_, i) => i);
    const started = Date.now();
    try {
      const jobIds = [await submit(chaos.client, { workflow, input: { ids } }, `wide-${started}`)];
      const healed = await healAll(chaos.client, jobIds, { sweepWhenQuiet: false, deadlineMs: 200_000 });
      const verdict = await judge(
        chaos.client,
        "concurrent results on one job",
        jobIds,
        healed,
        started,
        `${copies} copies sent`,
      );
      verdicts.push(verdict);
      expect(copies).toBeGreaterThanOrEqual(2 * ITEMS);
      expect(verdict).toMatchObject({
        lost: 0,
        duplicate: 0,
        stuck: 0,
        failed: 0,
        succeeded: 1,
        extraAttempts: 0,
      });
      const job = await chaos.client.jobs.get(jobIds[0] as string);
      expect(job.output).toEqual({ all: ids, count: ITEMS });
      // No item lost its result to a race: every one succeeded at its first attempt, none by the sweeper.
      const items = job.steps.filter((step) => step.nodeId === "each" && step.itemIndex !== undefined);
      expect(items).toHaveLength(ITEMS);
      expect(items.every((step) => step.status === "succeeded" && step.attempt === 1)).toBe(true);
      const events = await chaos.client.jobs.events(jobIds[0] as string);
      const succeededItems = new Set(
        events.items
          .filter((e) => e.type === "step.status_changed" && e.nodeId === "each" && e.status === "succeeded")
          .map((e) => (e as { itemIndex?: number }).itemIndex)
          .filter((index) => index !== undefined),
      );
      expect(succeededItems.size).toBe(ITEMS);
      expect(events.items.some((e) => e.type === "job.note" && e.message.includes("lease"))).toBe(false);
    } finally {
      remove();
      sqs.destroy();
    }
  }, 240_000);
});
