import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadJob } from "#shared/stores/jobs";
import { addSdkHook, type Invocation, invocationScope, onInvocation } from "../bench/sdk-hooks.ts";
import { FakeProvider } from "../support/fake-providers.ts";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";

/**
 * A step message carries the job item that the commit which queued it wrote, so the worker that takes it
 * makes no read. A copy that has gone stale (a message delivered again after its step was recorded) only
 * loses the race on the version: the worker then reads the job, finds the step done, and changes nothing.
 */

let platform: Platform;
let openai: FakeProvider;
const savedAllow = process.env.SWITCHBOARD_ALLOW_HOSTS;

beforeAll(async () => {
  openai = await FakeProvider.start("openai");
  process.env.SWITCHBOARD_ALLOW_HOSTS = openai.hostPort;
  // The messages to the workers: no step runs at the job's start.
  platform = await startPlatform({ startChainMs: 0 });
  const secret = await platform.api("POST", "/v1/secrets", { name: "openai-key", value: "sk-snapshot-key" });
  expect(secret.status).toBeLessThan(300);
  const agent = await platform.api("POST", "/v1/agents", {
    name: "snap",
    provider: "openai",
    model: "gpt-4o",
    baseUrl: `${openai.url}/v1`,
    secret: "openai-key",
    maxTokens: 50,
  });
  expect(agent.status).toBeLessThan(300);
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  await openai?.close();
  process.env.SWITCHBOARD_ALLOW_HOSTS = savedAllow;
});

interface Seen {
  /** Step messages the platform sent, as parsed bodies. */
  sent: Record<string, unknown>[];
  /** Those of one job. */
  of: (jobId: string) => Record<string, unknown>[];
  /** Reads of a job item made by the worker. */
  workerJobReads: number;
  stop: () => void;
}

function watch(jobIdOf: () => string | undefined): Seen {
  const seen: Seen = {
    sent: [],
    of: (jobId) => seen.sent.filter((message) => message.jobId === jobId),
    workerJobReads: 0,
    stop: () => undefined,
  };
  const stop = addSdkHook("step-snapshot", async (call, next) => {
    if (call.commandName === "SendMessageBatchCommand") {
      for (const entry of call.input.Entries as { MessageBody: string }[]) {
        // The API sends the first message before the test knows the job's id: keep them all.
        seen.sent.push(JSON.parse(entry.MessageBody) as Record<string, unknown>);
      }
    }
    if (call.commandName === "GetItemCommand" && invocationScope.getStore()?.function === "worker") {
      const raw = call.input.Key as Record<string, unknown>;
      const key = ((raw.pk as { S?: string }).S === undefined ? raw : unmarshall(raw as never)) as {
        pk: string;
        sk: string;
      };
      if (key.sk === "A#JOB" && key.pk.endsWith(`#J#${jobIdOf()}`)) seen.workerJobReads++;
    }
    return next();
  });
  seen.stop = stop;
  return seen;
}

/** Sends `body` to the steps queue by hand and waits until a worker invocation has taken it. */
async function deliverAgain(body: Record<string, unknown>): Promise<void> {
  const marker = `again-${Date.now()}`;
  let done: (() => void) | undefined;
  const taken = new Promise<void>((resolve) => {
    done = resolve;
  });
  const off = onInvocation((invocation: Invocation) => {
    const records = (invocation.event as { Records?: { body?: string }[] } | undefined)?.Records ?? [];
    if (invocation.name === "worker" && records.some((r) => r.body?.includes(marker))) done?.();
  });
  try {
    // An unknown field is dropped by the message schema; it only lets this test find the invocation.
    await new SQSClient({}).send(
      new SendMessageCommand({
        QueueUrl: process.env.STEPS_QUEUE_URL,
        MessageBody: JSON.stringify({ ...body, marker }),
        MessageGroupId: String(body.tenantId),
      }),
    );
    await Promise.race([
      taken,
      new Promise((_, reject) => setTimeout(() => reject(new Error("the copy was not taken")), 30_000)),
    ]);
  } finally {
    off();
  }
}

/** The job item's version and timeline position, as stored. */
async function stored(jobId: string): Promise<{ version: number; seq: number }> {
  const loaded = await loadJob("default", jobId);
  if (loaded === undefined) throw new Error(`job ${jobId} not found`);
  return { version: loaded.meta.version, seq: loaded.meta.seq };
}

describe("step messages carry the job item", () => {
  it("so the worker reads nothing, and a stale copy of a code step changes nothing", async () => {
    let jobId: string | undefined;
    const seen = watch(() => jobId);
    try {
      const submitted = await platform.api("POST", "/v1/jobs", {
        workflow: {
          name: "snap-code",
          nodes: [{ id: "only", type: "code", code: "return input.n * 2", input: { n: "{% $input.n %}" } }],
          output: "{% $steps.only.output %}",
        },
        input: { n: 21 },
      });
      expect(submitted.status).toBe(202);
      jobId = submitted.body.id as string;
      const job = await waitForJob(platform, jobId, ["succeeded", "failed"]);
      expect(job, JSON.stringify(job.steps)).toMatchObject({ status: "succeeded", output: 42 });
      // The API's message came with the item it inserted; the worker decided on it without a read.
      expect(seen.of(jobId)).toHaveLength(1);
      const message = seen.of(jobId)[0] as Record<string, unknown> & { job: Record<string, unknown> };
      expect(message.job).toMatchObject({ id: jobId, version: 1, status: "queued" });
      expect(seen.workerJobReads).toBe(0);

      const before = await stored(jobId);
      await deliverAgain(message);
      // The copy ran on the old item, lost the race on its version, and the fresh read found nothing to do.
      expect(seen.workerJobReads).toBe(1);
      expect(await stored(jobId)).toEqual(before);
      expect((await platform.api("GET", `/v1/jobs/${jobId}`)).body).toMatchObject({
        status: "succeeded",
        output: 42,
      });
    } finally {
      seen.stop();
    }
  });

  it("and a stale copy of an agent step does not call the model again", async () => {
    openai.defaultReply = { text: "Hello.", usage: { input: 5, output: 2 } };
    let jobId: string | undefined;
    const seen = watch(() => jobId);
    try {
      const submitted = await platform.api("POST", "/v1/jobs", {
        workflow: {
          name: "snap-agent",
          nodes: [{ id: "ask", type: "agent", agent: "snap", input: { prompt: "Say hi" } }],
        },
      });
      expect(submitted.status).toBe(202);
      jobId = submitted.body.id as string;
      const job = await waitForJob(platform, jobId, ["succeeded", "failed"]);
      expect(job.status).toBe("succeeded");
      expect(openai.requests).toHaveLength(1);
      expect(seen.workerJobReads).toBe(0);
      expect(seen.of(jobId)).toHaveLength(1);
      const message = seen.of(jobId)[0] as Record<string, unknown>;
      expect(message.job).toMatchObject({ id: jobId, version: 1 });

      const before = await stored(jobId);
      await deliverAgain(message);
      // The claim on the old item failed its condition; the job, read afresh, had the step done.
      expect(seen.workerJobReads).toBe(1);
      expect(openai.requests).toHaveLength(1);
      expect(await stored(jobId)).toEqual(before);
      const after = (await platform.api("GET", `/v1/jobs/${jobId}`)).body;
      expect(after.status).toBe("succeeded");
      expect(after.steps[0]).toMatchObject({ nodeId: "ask", status: "succeeded", attempt: 1 });
    } finally {
      seen.stop();
    }
  });
});
