import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
  ReceiveMessageCommand,
  ResourceNotFoundException,
  SendMessageBatchCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type AwsServicesServer, startAwsServices } from "#infra/local/aws-services/server";
import { createSqsFront } from "#infra/local/aws-services/sqs";
import { createLogger } from "#infra/local/log";

const REGION = "us-east-1";

let fauxqs: FauxqsServer;
let services: AwsServicesServer;
let sqs: SQSClient;
let counter = 0;

/** A queue with its own DLQ (and no consumer), named uniquely so the tests do not share messages. */
async function queuePair() {
  const suffix = `${Date.now()}-${counter++}`;
  const create = async (name: string, attributes: Record<string, string> = {}) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
    );
    return { url: QueueUrl as string, arn: Attributes?.QueueArn as string };
  };
  const dlq = await create(`move-dlq-${suffix}`);
  const source = await create(`move-src-${suffix}`, {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 }),
  });
  return { dlq, source };
}

async function send(url: string, bodies: string[]) {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.slice(i, i + 10).map((body, index) => ({
          Id: String(index),
          MessageBody: body,
          MessageAttributes: { kind: { DataType: "String", StringValue: `kind-${body}` } },
        })),
      }),
    );
  }
}

async function drain(url: string) {
  const received: { body: string; kind?: string }[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) return received;
    received.push(
      ...Messages.map((m) => ({ body: m.Body ?? "", kind: m.MessageAttributes?.kind?.StringValue })),
    );
  }
}

async function depth(url: string) {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
}

async function latestTask(sourceArn: string): Promise<ListMessageMoveTasksResultEntry | undefined> {
  const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn }));
  return Results[0];
}

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  let origin = "";
  services = await startAwsServices({
    jsonServices: [
      createSqsFront({ fauxqsPort: fauxqs.port, publicOrigin: () => origin, defaultRegion: REGION }),
    ],
    log: createLogger({ quiet: true }),
  });
  origin = services.url;
  sqs = new SQSClient({
    endpoint: services.url,
    region: REGION,
    credentials: { accessKeyId: "twin", secretAccessKey: "twin" },
  });
});

afterAll(async () => {
  sqs?.destroy();
  await services?.close();
  await fauxqs?.stop();
});

describe("message move tasks on the twin's SQS", () => {
  it("moves every message of a DLQ back to its source queue, attributes included", async () => {
    const { dlq, source } = await queuePair();
    const bodies = Array.from({ length: 23 }, (_, i) => `m${i}`);
    await send(dlq.url, bodies);

    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }));
    expect(TaskHandle).toEqual(expect.any(String));

    await vi.waitFor(async () => expect((await latestTask(dlq.arn))?.Status).toBe("COMPLETED"), {
      timeout: 10_000,
    });
    const task = await latestTask(dlq.arn);
    expect(task).toMatchObject({
      SourceArn: dlq.arn,
      ApproximateNumberOfMessagesMoved: 23,
      ApproximateNumberOfMessagesToMove: 23,
      StartedTimestamp: expect.any(Number),
    });
    // A finished task has no handle left to cancel, and no destination was named.
    expect(task?.TaskHandle).toBeUndefined();
    expect(task?.DestinationArn).toBeUndefined();
    expect(await depth(dlq.url)).toBe(0);
    const moved = await drain(source.url);
    expect(moved.map((m) => m.body).sort()).toEqual([...bodies].sort());
    expect(moved.every((m) => m.kind === `kind-${m.body}`)).toBe(true);
  });

  it("moves to a named destination at the requested rate", async () => {
    const { dlq } = await queuePair();
    const other = await queuePair();
    await send(
      dlq.url,
      Array.from({ length: 6 }, (_, i) => `r${i}`),
    );

    const started = Date.now();
    await sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: dlq.arn,
        DestinationArn: other.source.arn,
        MaxNumberOfMessagesPerSecond: 2,
      }),
    );
    const running = await latestTask(dlq.arn);
    expect(running).toMatchObject({
      Status: "RUNNING",
      TaskHandle: expect.any(String),
      DestinationArn: other.source.arn,
      MaxNumberOfMessagesPerSecond: 2,
    });

    await vi.waitFor(async () => expect((await latestTask(dlq.arn))?.Status).toBe("COMPLETED"), {
      timeout: 10_000,
    });
    // Six messages at two a second take three windows: at least two seconds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect((await drain(other.source.url)).length).toBe(6);
  });

  it("allows one running task per source, and cancels one on request", async () => {
    const { dlq, source } = await queuePair();
    await send(
      dlq.url,
      Array.from({ length: 20 }, (_, i) => `c${i}`),
    );
    const { TaskHandle } = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: dlq.arn, MaxNumberOfMessagesPerSecond: 1 }),
    );

    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlq.arn }))).rejects.toMatchObject({
      name: "UnsupportedOperation",
    });
    await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
    await vi.waitFor(async () => expect((await latestTask(dlq.arn))?.Status).toBe("CANCELLED"), {
      timeout: 5_000,
    });
    const moved = (await latestTask(dlq.arn))?.ApproximateNumberOfMessagesMoved ?? 0;
    expect(moved).toBeLessThan(20);
    expect((await drain(source.url)).length).toBe(moved);
  });

  it("refuses a source that is not a dead-letter queue, and one that does not exist", async () => {
    const { source } = await queuePair();
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: source.arn }))).rejects.toMatchObject({
      name: "UnsupportedOperation",
    });

    const missing = await sqs
      .send(
        new StartMessageMoveTaskCommand({ SourceArn: `arn:aws:sqs:${REGION}:000000000000:no-such-queue` }),
      )
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    await expect(
      sqs.send(new ListMessageMoveTasksCommand({ SourceArn: `arn:aws:sqs:${REGION}:000000000000:gone` })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
