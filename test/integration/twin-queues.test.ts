import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTwin, type Twin } from "#infra/local/twin";

/** Every batch the worker and the DLQ consumer received, in order. */
const workerBatches: SQSRecord[][] = [];
const dlqRecords: SQSRecord[] = [];

function receivesOf(body: string): string[] {
  return workerBatches
    .flat()
    .filter((record) => record.body === body)
    .map((record) => record.attributes.ApproximateReceiveCount);
}

async function worker(event: SQSEvent): Promise<SQSBatchResponse> {
  workerBatches.push(event.Records);
  const firstReceive = (record: SQSRecord) => record.attributes.ApproximateReceiveCount === "1";
  if (event.Records.some((record) => record.body.startsWith("throw-once") && firstReceive(record))) {
    throw new Error("worker crashed");
  }
  const failed = event.Records.filter(
    (record) =>
      record.body.startsWith("always-fail") || (record.body.startsWith("fail-once") && firstReceive(record)),
  );
  return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
}

let twin: Twin;
let dataDir: string;
let sqs: SQSClient;
let queueUrl: string;

async function send(...bodies: string[]): Promise<void> {
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: bodies.map((body, index) => ({
        Id: String(index),
        MessageBody: body,
        MessageAttributes: { kind: { DataType: "String", StringValue: "test" } },
      })),
    }),
  );
}

async function queueIsEmpty(url: string): Promise<boolean> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Attributes?.ApproximateNumberOfMessages === "0" &&
    Attributes?.ApproximateNumberOfMessagesNotVisible === "0"
  );
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-queues-"));
  twin = await startTwin({
    port: 0,
    dataDir,
    quiet: true,
    bootstrap: false,
    loadEntries: false,
    web: false,
    functions: {
      worker,
      dlq: async (event: SQSEvent) => {
        dlqRecords.push(...event.Records);
        return { batchItemFailures: [] };
      },
      fanout: async () => ({ batchItemFailures: [] }),
    },
    queueOverrides: { steps: { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 } },
  });
  // A client with default configuration, as a function builds it: the twin's environment supplies the endpoint.
  sqs = new SQSClient({});
  queueUrl = twin.env.STEPS_QUEUE_URL ?? "";
});

afterAll(async () => {
  sqs?.destroy();
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("SQS event source", () => {
  it("delivers complete SQS records", async () => {
    await send("complete-record");
    await vi.waitFor(() => expect(receivesOf("complete-record")).toEqual(["1"]), { timeout: 10_000 });
    const record = workerBatches.flat().find((item) => item.body === "complete-record");
    expect(record).toMatchObject({
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:steps",
      awsRegion: "us-east-1",
      md5OfBody: createHash("md5").update("complete-record").digest("hex"),
      messageAttributes: {
        kind: { dataType: "String", stringValue: "test", stringListValues: [], binaryListValues: [] },
      },
    });
    expect(record?.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(record?.receiptHandle).not.toBe("");
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(Number(record?.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThan(0);
    expect(record?.attributes.SenderId).toBeTruthy();
  });

  it("redelivers only the record a handler reports in batchItemFailures", async () => {
    await send("partial-ok-1", "fail-once-partial", "partial-ok-2");

    await vi.waitFor(() => expect(receivesOf("fail-once-partial")).toEqual(["1", "2"]), { timeout: 10_000 });
    // Two visibility timeouts: long enough for a wrongly kept record to come back.
    await new Promise((resolve) => setTimeout(resolve, 2_200));

    expect(receivesOf("partial-ok-1")).toEqual(["1"]);
    expect(receivesOf("partial-ok-2")).toEqual(["1"]);
    expect(receivesOf("fail-once-partial")).toEqual(["1", "2"]);
    expect(await queueIsEmpty(queueUrl)).toBe(true);
  });

  it("deletes nothing from a batch whose handler throws", async () => {
    await send("throw-once", "throw-companion-1", "throw-companion-2");

    await vi.waitFor(() => expect(receivesOf("throw-once")).toEqual(["1", "2"]), { timeout: 10_000 });
    const crashed = workerBatches.find((batch) =>
      batch.some(
        (record) => record.body === "throw-once" && record.attributes.ApproximateReceiveCount === "1",
      ),
    );
    const companions = (crashed ?? [])
      .filter((record) => record.body !== "throw-once")
      .map((record) => record.body);
    for (const body of companions) {
      await vi.waitFor(() => expect(receivesOf(body)).toContain("2"), { timeout: 10_000 });
    }
    await vi.waitFor(async () => expect(await queueIsEmpty(queueUrl)).toBe(true), { timeout: 10_000 });
  });

  it("moves a record that keeps failing to the DLQ after maxReceiveCount receives", async () => {
    await send("always-fail-dlq");

    await vi.waitFor(() => expect(dlqRecords.map((record) => record.body)).toContain("always-fail-dlq"), {
      timeout: 15_000,
    });
    expect(receivesOf("always-fail-dlq")).toEqual(["1", "2"]);
    const dead = dlqRecords.find((record) => record.body === "always-fail-dlq");
    expect(dead?.eventSourceARN).toBe("arn:aws:sqs:us-east-1:000000000000:steps-dlq");
    await vi.waitFor(async () => expect(await queueIsEmpty(twin.env.STEPS_DLQ_URL ?? "")).toBe(true), {
      timeout: 10_000,
    });
  });
});
