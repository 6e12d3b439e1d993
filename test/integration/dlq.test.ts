import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Platform, startPlatform, waitForJob } from "../support/platform.ts";
import { bearer, createTenant, send } from "./identity-support.ts";

/**
 * The worker and the DLQ consumer are the real handlers, behind switches: while `fragile.broken`, the worker
 * crashes on any batch that holds a step of a node named `fragile` (a platform failure, not the step's own:
 * nothing is recorded, the message comes back until SQS dead-letters it). While `dlqHold` is set, the DLQ
 * consumer's invocations wait, as a stuck consumer would, so messages stay in the SQS DLQ.
 */
const fragile = { broken: false };
let dlqHold: Promise<void> | undefined;
let releaseDlq = () => {};
let heldDlqBatches = 0;

// Imported on first use, once the twin has set the environment the handlers read at import.
const real = {
  worker: () => import("#functions/queues/steps").then((module) => module.handler),
  dlq: () => import("#functions/queues/steps-dlq").then((module) => module.handler),
};

async function worker(event: SQSEvent, context: Context) {
  const crashes = event.Records.some((record) => record.body.includes('"nodeId":"fragile"'));
  if (fragile.broken && crashes) throw new Error("simulated platform failure in the worker");
  return (await real.worker())(event, context);
}

async function dlq(event: SQSEvent, context: Context) {
  if (dlqHold !== undefined) {
    heldDlqBatches++;
    await dlqHold;
  }
  return (await real.dlq())(event, context);
}

const workflow = {
  name: "fragile",
  nodes: [{ id: "fragile", type: "code", code: "return { fine: true }" }],
  output: { fine: "{% $steps.fragile.output.fine %}" },
};

let platform: Platform;
let sqs: SQSClient;
let other: { token: string };

async function dlqDepth(): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: platform.twin.env.STEPS_DLQ_URL,
      AttributeNames: ["ApproximateNumberOfMessages"],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
}

beforeAll(async () => {
  // A worker crash on the fragile step: it must reach a worker, not run at the job's start.
  platform = await startPlatform({
    startChainMs: 0,
    functions: { worker, dlq },
    // Two receives a second apart, then the DLQ: seconds, not the stack's 5 × 12 minutes.
    queueOverrides: { steps: { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 } },
  });
  sqs = new SQSClient({});
  other = await createTenant(platform, "Bystander");
});

afterAll(async () => {
  releaseDlq();
  sqs?.destroy();
  await platform?.stop();
});

describe("dead letters on the twin", () => {
  it("fails the step of a message that exhausted its receives, lists it, and redrive re-runs the job", async () => {
    fragile.broken = true;
    const submitted = await platform.api("POST", "/v1/jobs", { workflow });
    expect(submitted.status).toBe(202);
    const { jobId } = submitted.body;

    const failed = await waitForJob(platform, jobId, ["failed"], 30_000);
    expect(failed.steps[0]).toMatchObject({
      nodeId: "fragile",
      status: "failed",
      error: { code: "DEAD_LETTERED", message: expect.stringContaining("dead-lettered") },
    });

    // The DLQ consumer took the message off the queue; the record is what is left to list.
    const listed = await vi.waitFor(
      async () => {
        const result = await platform.api("GET", "/v1/system/dlq");
        expect(result.status).toBe(200);
        const item = result.body.items.find((i: { jobId: string }) => i.jobId === jobId);
        expect(item).toBeDefined();
        return { body: result.body, item };
      },
      { timeout: 10_000 },
    );
    expect(listed.body.queue).toEqual({ name: "steps-dlq", visible: 0 });
    expect(listed.item).toMatchObject({
      nodeId: "fragile",
      attempt: 1,
      source: "recorded",
      reason: expect.stringContaining("dead-lettered"),
      receiveCount: expect.any(Number),
      messageId: expect.any(String),
      tenantId: expect.any(String),
    });
    expect(Date.parse(listed.item.deadLetteredAt)).toBeGreaterThan(Date.now() - 60_000);

    const status = await platform.api("GET", "/v1/system/status");
    expect(status.status).toBe(200);
    expect(status.body.dlq.recorded).toBeGreaterThanOrEqual(1);
    expect(status.body.dlq.count).toBe(status.body.dlq.queued + status.body.dlq.recorded);

    // Another tenant's admin neither sees the dead letter nor can re-run its job.
    const theirs = await send(platform.url, bearer(other.token), "GET", "/v1/system/dlq");
    expect(theirs.status).toBe(200);
    expect(theirs.body.items.map((i: { jobId: string }) => i.jobId)).not.toContain(jobId);
    const theirRedrive = await send(platform.url, bearer(other.token), "POST", "/v1/system/dlq/redrive");
    expect(theirRedrive.status).toBe(200);
    expect(theirRedrive.body).toEqual({ movedFromQueue: 0, rerunJobs: [], cleared: 0 });
    expect((await platform.api("GET", `/v1/jobs/${jobId}`)).body.status).toBe("failed");

    fragile.broken = false;
    const redrive = await platform.api("POST", "/v1/system/dlq/redrive");
    expect(redrive.status).toBe(200);
    expect(redrive.body).toMatchObject({ movedFromQueue: 0, rerunJobs: [jobId] });
    expect(redrive.body.cleared).toBeGreaterThanOrEqual(1);

    const done = await waitForJob(platform, jobId, ["succeeded"], 30_000);
    expect(done.output).toEqual({ fine: true });
    expect(done.steps[0]).toMatchObject({ nodeId: "fragile", status: "succeeded" });
    const after = await platform.api("GET", "/v1/system/dlq");
    expect(after.body.items.map((i: { jobId: string }) => i.jobId)).not.toContain(jobId);
  });

  it("lists messages still in the SQS DLQ and moves them back with a message move task", async () => {
    // Hold the DLQ consumer: occupy each of its pollers with a batch that waits, until a message sent to
    // the DLQ stays there.
    dlqHold = new Promise<void>((resolve) => {
      releaseDlq = resolve;
    });
    for (let n = 0; (await dlqDepth()) === 0; n++) {
      expect(n, "the DLQ consumer kept taking messages").toBeLessThan(10);
      await sqs.send(
        new SendMessageCommand({ QueueUrl: platform.twin.env.STEPS_DLQ_URL, MessageBody: `{"filler":${n}}` }),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(heldDlqBatches).toBeGreaterThan(0);

    fragile.broken = true;
    const { body } = await platform.api("POST", "/v1/jobs", { workflow });
    const jobId: string = body.jobId;

    const queued = await vi.waitFor(
      async () => {
        const result = await platform.api("GET", "/v1/system/dlq");
        const item = result.body.items.find((i: { jobId: string }) => i.jobId === jobId);
        expect(item).toBeDefined();
        // The depth is read before the peek, so the answer that first shows the item may not count it yet.
        expect(result.body.queue.visible).toBeGreaterThanOrEqual(2);
        return item;
      },
      { timeout: 20_000, interval: 250 },
    );
    expect(queued).toMatchObject({ nodeId: "fragile", attempt: 1, source: "queue" });
    // Not failed: no consumer has seen the dead letter yet.
    expect((await platform.api("GET", `/v1/jobs/${jobId}`)).body.status).not.toBe("failed");

    const status = await platform.api("GET", "/v1/system/status");
    expect(status.body.dlq.queued).toBeGreaterThanOrEqual(2);
    // A normal-priority job's steps go through the `steps` queue (beside steps-high and steps-low).
    const steps = status.body.queues.find((queue: { name: string }) => queue.name === "steps");
    expect(steps.dlq.oldestMessageAgeSeconds).toEqual(expect.any(Number));
    expect(steps.oldestMessageAgeSeconds).toBeNull();

    fragile.broken = false;
    const redrive = await platform.api("POST", "/v1/system/dlq/redrive");
    expect(redrive.status).toBe(200);
    expect(redrive.body.taskHandle).toEqual(expect.any(String));
    expect(redrive.body.movedFromQueue).toBeGreaterThanOrEqual(2);

    const done = await waitForJob(platform, jobId, ["succeeded"], 30_000);
    expect(done.steps[0]).toMatchObject({ status: "succeeded", attempt: 1 });
    expect(await dlqDepth()).toBe(0);

    releaseDlq();
    dlqHold = undefined;
  });
});
