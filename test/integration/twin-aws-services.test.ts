import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTwin, type Twin } from "#infra/local/twin";

let twin: Twin;
let dataDir: string;
// Clients with default configuration, as the functions build them: only the twin's environment points them here.
let secrets: SecretsManagerClient;
let sqs: SQSClient;
let s3: S3Client;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "twin-aws-"));
  twin = await startTwin({
    port: 0,
    dataDir,
    quiet: true,
    bootstrap: false,
    loadEntries: false,
    web: false,
    functions: { worker: async () => ({ batchItemFailures: [] }) },
  });
  secrets = new SecretsManagerClient({});
  sqs = new SQSClient({});
  s3 = new S3Client({});
});

afterAll(async () => {
  for (const client of [secrets, sqs, s3]) client?.destroy();
  await twin?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("Secrets Manager", () => {
  it("serves the generated JWT secret by name and by ARN", async () => {
    const byName = await secrets.send(new GetSecretValueCommand({ SecretId: twin.env.JWT_SECRET_ID }));
    const byArn = await secrets.send(new GetSecretValueCommand({ SecretId: byName.ARN }));
    const kept = (await readFile(join(dataDir, "jwt-secret"), "utf8")).trim();

    expect(byName.SecretString).toBe(kept);
    expect(kept.length).toBeGreaterThanOrEqual(64);
    expect(byName).toMatchObject({ Name: "switchboard/jwt", VersionStages: ["AWSCURRENT"] });
    expect(byName.ARN).toMatch(
      /^arn:aws:secretsmanager:us-east-1:000000000000:secret:switchboard\/jwt-\w{6}$/,
    );
    expect(byName.CreatedDate).toBeInstanceOf(Date);
    expect(byArn.SecretString).toBe(kept);
  });

  it("answers ResourceNotFoundException for an unknown secret", async () => {
    const error = await secrets.send(new GetSecretValueCommand({ SecretId: "nope" })).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error).toMatchObject({ name: "ResourceNotFoundException", $metadata: { httpStatusCode: 400 } });
  });

  it("refuses operations it does not serve", async () => {
    await expect(
      secrets.send(new DescribeSecretCommand({ SecretId: "switchboard/jwt" })),
    ).rejects.toMatchObject({
      name: "UnknownOperationException",
    });
  });
});

describe("SQS through the default client", () => {
  it("hands out queue URLs on the SDK's endpoint, so no call is redirected", async () => {
    const warn = vi.spyOn(console, "warn");
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: "steps" }));
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "hello" }));

    expect(QueueUrl).toBe(twin.env.STEPS_QUEUE_URL);
    expect(QueueUrl).toBe(`${twin.env.AWS_ENDPOINT_URL_SQS}/000000000000/steps`);
    expect(sent.MessageId).toBeTruthy();
    expect(warn.mock.calls.flat().join(" ")).not.toContain("differs from SQSClient resolved endpoint");
    warn.mockRestore();
  });
});

describe("S3 through the default client", () => {
  it("stores and returns an object in the payload bucket", async () => {
    const Bucket = twin.env.PAYLOAD_BUCKET;
    await s3.send(new PutObjectCommand({ Bucket, Key: "jobs/j1/input.json", Body: '{"big":true}' }));
    const object = await s3.send(new GetObjectCommand({ Bucket, Key: "jobs/j1/input.json" }));

    expect(await object.Body?.transformToString()).toBe('{"big":true}');
  });
});
