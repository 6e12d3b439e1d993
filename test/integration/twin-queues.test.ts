import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
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

describe("fair queues (MessageGroupId on a standard queue)", () => {
  /** A queue no consumer polls, so the test's own receives see exactly what SQS would hand a consumer. */
  async function freshQueue(name: string): Promise<string> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    return QueueUrl ?? "";
  }

  async function sendGrouped(
    url: string,
    group: string,
    count: number,
    prefix: string,
  ): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (let start = 0; start < count; start += 10) {
      const entries = Array.from({ length: Math.min(10, count - start) }, (_, index) => ({
        Id: String(index),
        MessageBody: `${prefix}-${start + index}`,
        MessageGroupId: group,
      }));
      const { Successful = [], Failed = [] } = await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }),
      );
      expect(Failed).toEqual([]);
      for (const sent of Successful)
        ids.set(entries[Number(sent.Id)]?.MessageBody ?? "", sent.MessageId ?? "");
    }
    return ids;
  }

  async function receiveBatch(url: string): Promise<Message[]> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return Messages;
  }

  it("delivers a quiet group's messages ahead of another group's backlog", async () => {
    const url = await freshQueue("fair-backlog");
    const sentBefore = Date.now();
    const noisy = await sendGrouped(url, "tenant-noisy", 60, "noisy");
    const quiet = await sendGrouped(url, "tenant-quiet", 3, "quiet");

    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe("63");

    const received: Message[][] = [];
    for (let n = 0; n < 20 && received.flat().length < 63; n++) received.push(await receiveBatch(url));
    const order = received.flat().map((message) => message.Body ?? "");
    // Every message once, none lost or doubled.
    expect([...order].sort()).toEqual([...noisy.keys(), ...quiet.keys()].sort());
    // Sent after 60 noisy messages, the quiet ones come in the second receive (behind one window, not sixty).
    const quietAt = order.flatMap((body, index) => (body.startsWith("quiet") ? [index] : []));
    expect(quietAt).toHaveLength(3);
    expect(Math.max(...quietAt)).toBeLessThan(20);

    for (const message of received.flat()) {
      const body = message.Body ?? "";
      const group = body.startsWith("quiet") ? "tenant-quiet" : "tenant-noisy";
      expect(message.Attributes?.MessageGroupId).toBe(group);
      // The id the sender got, and its send time, whether or not the message waited in the front.
      expect(message.MessageId).toBe((body.startsWith("quiet") ? quiet : noisy).get(body));
      expect(Number(message.Attributes?.SentTimestamp)).toBeGreaterThanOrEqual(sentBefore - 1000);
      expect(Number(message.Attributes?.SentTimestamp)).toBeLessThanOrEqual(Date.now());
    }
  });

  it("balances two backlogged groups by what each has in flight", async () => {
    const url = await freshQueue("fair-two-backlogs");
    await sendGrouped(url, "a", 40, "a");
    await sendGrouped(url, "b", 40, "b");
    const first: Message[] = [];
    for (let n = 0; n < 4; n++) first.push(...(await receiveBatch(url)));
    const fromB = first.filter((message) => message.Body?.startsWith("b")).length;
    // Without fairness the first forty would all be a's; with it b gets about half of them.
    expect(fromB).toBeGreaterThanOrEqual(15);
    expect(fromB).toBeLessThanOrEqual(25);
  });

  it("keeps a held message's body, attributes and their digests", async () => {
    const url = await freshQueue("fair-attributes");
    await sendGrouped(url, "filler", 10, "filler");
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: "held-with-attributes",
        MessageGroupId: "other",
        MessageAttributes: {
          kind: { DataType: "String", StringValue: "test" },
          blob: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
        },
      }),
    );
    expect(sent.MD5OfMessageBody).toBe(createHash("md5").update("held-with-attributes").digest("hex"));
    const all: Message[] = [];
    for (let n = 0; n < 4 && !all.some((m) => m.Body === "held-with-attributes"); n++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ["All"],
          MessageSystemAttributeNames: ["MessageGroupId"],
        }),
      );
      all.push(...Messages);
      if (Messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
          }),
        );
      }
    }
    const held = all.find((message) => message.Body === "held-with-attributes");
    expect(held?.MessageId).toBe(sent.MessageId);
    expect(held?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(held?.Attributes?.MessageGroupId).toBe("other");
    expect(held?.MessageAttributes?.kind?.StringValue).toBe("test");
  });
});
