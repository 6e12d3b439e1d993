import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepMessage } from "#events/steps";
import { processBatchMessage, startFanOut } from "#shared/jobs/chunk-run";
import { processStepMessage } from "#shared/jobs/worker";
import { addSdkHook } from "../bench/sdk-hooks.ts";
import { type Platform, startPlatform } from "../support/platform.ts";

/**
 * The batch path on the twin, with the steps queue's deliveries in the test's hands: every step message
 * sent is kept here (with its delay) and the worker function swallows what the queue delivers, so each test
 * delivers the messages itself, as often and as late as it wants.
 */
let platform: Platform;
const delivered: { message: StepMessage; delaySeconds: number }[] = [];
let stopCapture: (() => void) | undefined;

beforeAll(async () => {
  stopCapture = addSdkHook("capture-step-messages", async (call, next) => {
    if (call.commandName === "SendMessageBatchCommand") {
      const entries = (call.input as { Entries: { MessageBody: string; DelaySeconds?: number }[] }).Entries;
      for (const entry of entries) {
        const parsed = StepMessage.safeParse(JSON.parse(entry.MessageBody));
        if (parsed.success) delivered.push({ message: parsed.data, delaySeconds: entry.DelaySeconds ?? 0 });
      }
    }
    return next();
  });
  platform = await startPlatform({
    functions: { worker: async () => ({ batchItemFailures: [] }) },
  });
});

afterAll(async () => {
  stopCapture?.();
  await platform?.stop();
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Takes the messages the twin delivered for a job so far. */
function take(jobId: string): StepMessage[] {
  const mine = delivered.filter((d) => d.message.jobId === jobId);
  for (const d of mine) delivered.splice(delivered.indexOf(d), 1);
  return mine.map((d) => d.message);
}

async function submitFanOut(n: number): Promise<{ jobId: string; batch: StepMessage }> {
  const submitted = await platform.api("POST", "/v1/jobs", {
    workflow: {
      name: "batch",
      nodes: [{ id: "each", type: "code", forEach: "{% $input.ids %}", code: "return item * 10" }],
    },
    input: { ids: Array.from({ length: n }, (_, i) => i) },
  });
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  const jobId = submitted.body.jobId as string;
  const batch = await until("the batch message", () => delivered.find((d) => d.message.jobId === jobId));
  take(jobId);
  return { jobId, batch: batch.message };
}

const getJob = async (jobId: string) => (await platform.api("GET", `/v1/jobs/${jobId}`)).body;

async function ended(jobId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await getJob(jobId);
    if (["succeeded", "failed", "cancelled", "timed_out"].includes(job.status) || Date.now() > deadline)
      return job;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function itemsOf(job: any) {
  return job.steps.filter((s: any) => s.nodeId === "each" && s.itemIndex !== undefined);
}

function expectAllOnce(job: any, n: number) {
  expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
  expect(job.output).toEqual({ each: Array.from({ length: n }, (_, i) => i * 10) });
  const items = itemsOf(job);
  expect(items).toHaveLength(n);
  expect(items.every((s: any) => s.status === "succeeded" && s.attempt === 1)).toBe(true);
}

describe("forEach items run in batches per chunk", () => {
  it("sends one message per chunk when the fan-out starts, naming every item at attempt 1", async () => {
    const { batch } = await submitFanOut(5);
    expect(batch.itemIndex).toBeUndefined();
    expect(batch.items).toEqual([0, 1, 2, 3, 4].map((i) => ({ i, a: 1 })));
  });

  it("claims only the items still queued at their attempt, and a repeat of the batch changes nothing", async () => {
    const { jobId, batch } = await submitFanOut(5);
    // Item 2 runs first on its own message (a sweeper re-send, say): the batch must leave it alone.
    await processStepMessage({ ...batch, items: undefined, itemIndex: 2 } as StepMessage);
    const report = await processBatchMessage(batch);
    expect(report).toEqual({ claimed: [0, 1, 3, 4], recorded: [0, 1, 3, 4], released: [], held: [] });
    const job = await ended(jobId);
    expectAllOnce(job, 5);

    const again = await processBatchMessage(batch);
    expect(again).toEqual({ claimed: [], recorded: [], released: [], held: [] });
    expect((await getJob(jobId)).seq).toBe(job.seq);
    expect(take(jobId)).toEqual([]);
  });

  it("runs each item once when the same batch is delivered twice at once", async () => {
    const { jobId, batch } = await submitFanOut(20);
    const [a, b] = await Promise.all([processBatchMessage(batch), processBatchMessage(batch)]);
    const claimed = [...a.claimed, ...b.claimed].sort((x, y) => x - y);
    expect(claimed).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect([...a.recorded, ...b.recorded].sort((x, y) => x - y)).toEqual(claimed);
    const job = await ended(jobId);
    expectAllOnce(job, 20);
    // The delivery that found items held sends them again for when their leases lapse; by then they are
    // recorded, so that message changes nothing.
    const held = [...a.held, ...b.held];
    const back = take(jobId);
    expect(back.flatMap((m) => m.items?.map((item) => item.i) ?? [])).toEqual(held);
    const later = () => new Date(Date.now() + 5 * 60_000);
    for (const message of back)
      expect(await processBatchMessage(message, { now: later })).toEqual({
        claimed: [],
        recorded: [],
        released: [],
        held: [],
      });
    expect((await getJob(jobId)).seq).toBe(job.seq);
  });

  it("finishes a batch whose invocation died after its claim, once the lease lapses", async () => {
    const { jobId, batch } = await submitFanOut(8);
    let died = 0;
    const remove = addSdkHook("die-after-claim", async (call, next) => {
      if (call.commandName === "PutItemCommand") {
        const raw = (call.input as { Item?: Record<string, unknown> }).Item ?? {};
        const item = (raw.pk as { S?: string } | undefined)?.S === undefined ? raw : unmarshall(raw as never);
        const steps = Object.values((item.it ?? {}) as Record<string, { s: string }>);
        if (item.jobId === jobId && item.type === "jobChunk" && steps.some((s) => s.s === "succeeded")) {
          died++;
          throw new Error("the invocation died before recording its results");
        }
      }
      return next();
    });
    try {
      await expect(processBatchMessage(batch)).rejects.toThrow("died before recording");
    } finally {
      remove();
    }
    expect(died).toBe(1);
    const claimed = itemsOf(await getJob(jobId));
    expect(claimed.every((s: any) => s.status === "running" && s.attempt === 1)).toBe(true);

    // While the lease is live, a redelivery takes nothing over and comes back when the leases lapse.
    const early = await processBatchMessage(batch);
    expect(early.claimed).toEqual([]);
    expect(early.held).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const sent = delivered.filter((d) => d.message.jobId === jobId);
    expect(sent.map((d) => d.delaySeconds > 60)).toEqual([true]);
    const [back] = take(jobId);
    expect(back?.items?.map((item) => item.i)).toEqual(early.held);

    const later = () => new Date(Date.now() + 5 * 60_000);
    const report = await processBatchMessage(back as StepMessage, { now: later });
    expect(report.recorded).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expectAllOnce(await ended(jobId), 8);
  });

  it("sends a batch back untouched when the invocation has no time left for one item", async () => {
    const { jobId, batch } = await submitFanOut(4);
    const report = await processBatchMessage(batch, { deadline: Date.now() });
    expect(report).toEqual({ claimed: [], recorded: [], released: [], held: [], deferred: true });
    expect(itemsOf(await getJob(jobId)).map((s: any) => s.status)).toEqual(Array(4).fill("queued"));
    expect(take(jobId)).toEqual([batch]);
  });

  it("releases the claimed items it has no time for, as one batch at the same attempt", async () => {
    const { jobId, batch } = await submitFanOut(6);
    // The claim happens now; by the time the first item would start, the invocation's time is up.
    let calls = 0;
    const clock = () => new Date(Date.now() + (calls++ === 0 ? 0 : 200_000));
    const report = await processBatchMessage(batch, { deadline: Date.now() + 100_000, now: clock });
    expect(report).toEqual({
      claimed: [0, 1, 2, 3, 4, 5],
      recorded: [],
      released: [0, 1, 2, 3, 4, 5],
      held: [],
    });
    const items = itemsOf(await getJob(jobId));
    expect(items.map((s: any) => [s.status, s.attempt])).toEqual(Array(6).fill(["queued", 1]));
    const again = take(jobId);
    expect(again.map((m) => m.items)).toEqual([[0, 1, 2, 3, 4, 5].map((i) => ({ i, a: 1 }))]);
    expect(await processBatchMessage(again[0] as StepMessage)).toMatchObject({
      recorded: [0, 1, 2, 3, 4, 5],
    });
    expectAllOnce(await ended(jobId), 6);
  });

  it("leaves a wide first fan-out to the worker, which makes it once however often its message comes", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => i);
    const submitted = await platform.api("POST", "/v1/jobs", {
      workflow: {
        name: "deferred",
        nodes: [{ id: "each", type: "code", forEach: "{% $input.ids %}", code: "return item * 10" }],
      },
      input: { ids },
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    expect(submitted.body.status).toBe("queued");
    const jobId = submitted.body.jobId as string;
    const [fanOut] = await until("the fan-out message", () => {
      const mine = delivered.filter((d) => d.message.jobId === jobId);
      return mine.length > 0 ? take(jobId) : undefined;
    });
    expect(fanOut).toMatchObject({ nodeId: "each", attempt: 1, fanOut: true });
    expect(fanOut?.items).toBeUndefined();
    const queued = await getJob(jobId);
    expect(queued.steps.filter((s: any) => s.itemIndex !== undefined)).toEqual([]);

    const made = await Promise.all([startFanOut(fanOut as StepMessage), startFanOut(fanOut as StepMessage)]);
    expect(made.filter(Boolean)).toHaveLength(1);
    expect(await startFanOut(fanOut as StepMessage)).toBe(false);
    const batches = take(jobId);
    expect(batches.map((m) => m.items?.length)).toEqual([100, 50]);
    for (const batch of batches) await processBatchMessage(batch);
    expectAllOnce(await ended(jobId), 150);
  });
});
