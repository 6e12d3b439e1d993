import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  APIGatewayClient,
  BadRequestException,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeysCommand,
  GetUsagePlansCommand,
  NotFoundException,
} from "@aws-sdk/client-api-gateway";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createApiGateway, usagePlanId } from "#infra/local/aws-services/api-gateway";
import { USAGE_NAMESPACE } from "#infra/local/env";
import { startTwin, type Twin } from "#infra/local/twin";
import { USAGE_PLANS, usagePlanLimits, usagePlanName } from "#infra/stack/limits";
import { provisionUsageBucket, releaseUsageBucket } from "#shared/auth/usage-buckets";
import { usageKeyName, usageKeyValue } from "#shared/auth/usage-keys";

let twin: Twin;
let dataDir: string;
// Clients with default configuration, as the functions build them: only the twin's environment points them here.
let secrets: SecretsManagerClient;
let sqs: SQSClient;
let s3: S3Client;
let apiGateway: APIGatewayClient;

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
  apiGateway = new APIGatewayClient({});
});

afterAll(async () => {
  for (const client of [secrets, sqs, s3, apiGateway]) client?.destroy();
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

describe("API Gateway control plane through the default client", () => {
  const planIdOf = async (plan: (typeof USAGE_PLANS)[number]) => {
    const { items } = await apiGateway.send(new GetUsagePlansCommand({}));
    return items?.find((p) => p.name === usagePlanName(USAGE_NAMESPACE, plan))?.id ?? "";
  };

  it("lists the stack's usage plans, with their limits, on the twin's stage", async () => {
    const { items } = await apiGateway.send(new GetUsagePlansCommand({}));
    expect(items?.map((p) => p.name)).toEqual(
      USAGE_PLANS.map((plan) => usagePlanName(USAGE_NAMESPACE, plan)),
    );
    for (const plan of USAGE_PLANS) {
      const limits = usagePlanLimits[plan];
      expect(items?.find((p) => p.name === usagePlanName(USAGE_NAMESPACE, plan))).toMatchObject({
        apiStages: [{ apiId: "local", stage: "local" }],
        throttle: { rateLimit: limits.rateLimit, burstLimit: limits.burstLimit },
        quota: { limit: limits.quota.limit, period: limits.quota.period, offset: 0 },
      });
    }
  });

  it("creates an API key, refuses its value twice or malformed, and lists it by name with or without values", async () => {
    const value = "abcdefghij0123456789AAAA";
    const created = await apiGateway.send(new CreateApiKeyCommand({ name: "svc-one", value, enabled: true }));
    expect(created).toMatchObject({ name: "svc-one", value, enabled: true, stageKeys: [] });
    expect(created.id).toMatch(/^[a-z0-9]+$/);
    expect(created.createdDate).toBeInstanceOf(Date);

    await expect(
      apiGateway.send(new CreateApiKeyCommand({ name: "svc-two", value, enabled: true })),
    ).rejects.toBeInstanceOf(ConflictException);
    await expect(
      apiGateway.send(new CreateApiKeyCommand({ name: "short", value: "too-short" })),
    ).rejects.toBeInstanceOf(BadRequestException);

    const withValues = await apiGateway.send(
      new GetApiKeysCommand({ nameQuery: "svc-", includeValues: true }),
    );
    expect(withValues.items?.map((k) => [k.name, k.value])).toEqual([["svc-one", value]]);
    const without = await apiGateway.send(new GetApiKeysCommand({ nameQuery: "svc-one" }));
    expect(without.items?.[0]?.value).toBeUndefined();
    // Disabled unless asked otherwise, as in API Gateway.
    const quiet = await apiGateway.send(new CreateApiKeyCommand({ name: "svc-quiet" }));
    expect(quiet.enabled).toBe(false);
    expect(quiet.value).toMatch(/^[A-Za-z0-9]{20,}$/);
  });

  it("adds a key to one plan per stage, and answers NotFound for an unknown plan or key", async () => {
    const key = await apiGateway.send(
      new CreateApiKeyCommand({ name: "svc-plan", value: "planplanplanplanplan0001", enabled: true }),
    );
    const viewer = await planIdOf("viewer");
    const added = await apiGateway.send(
      new CreateUsagePlanKeyCommand({ usagePlanId: viewer, keyId: key.id, keyType: "API_KEY" }),
    );
    expect(added).toMatchObject({ id: key.id, type: "API_KEY", name: "svc-plan" });
    await expect(
      apiGateway.send(
        new CreateUsagePlanKeyCommand({ usagePlanId: viewer, keyId: key.id, keyType: "API_KEY" }),
      ),
    ).rejects.toBeInstanceOf(ConflictException);
    await expect(
      apiGateway.send(
        new CreateUsagePlanKeyCommand({
          usagePlanId: await planIdOf("admin"),
          keyId: key.id,
          keyType: "API_KEY",
        }),
      ),
    ).rejects.toBeInstanceOf(ConflictException);
    await expect(
      apiGateway.send(
        new CreateUsagePlanKeyCommand({ usagePlanId: "nope42", keyId: key.id, keyType: "API_KEY" }),
      ),
    ).rejects.toBeInstanceOf(NotFoundException);
    await expect(
      apiGateway.send(
        new CreateUsagePlanKeyCommand({ usagePlanId: viewer, keyId: "missing", keyType: "API_KEY" }),
      ),
    ).rejects.toBeInstanceOf(NotFoundException);
    const plans = await apiGateway.send(new GetUsagePlansCommand({ keyId: key.id }));
    expect(plans.items?.map((p) => p.id)).toEqual([viewer]);
  });

  it("deletes a key, taking it out of its plan, and answers NotFound the second time", async () => {
    const key = await apiGateway.send(
      new CreateApiKeyCommand({ name: "svc-gone", value: "gonegonegonegonegone0001", enabled: true }),
    );
    await apiGateway.send(
      new CreateUsagePlanKeyCommand({
        usagePlanId: await planIdOf("user"),
        keyId: key.id,
        keyType: "API_KEY",
      }),
    );
    await apiGateway.send(new DeleteApiKeyCommand({ apiKey: key.id }));
    expect((await apiGateway.send(new GetApiKeysCommand({ nameQuery: "svc-gone" }))).items).toEqual([]);
    expect((await apiGateway.send(new GetUsagePlansCommand({ keyId: key.id }))).items).toEqual([]);
    await expect(apiGateway.send(new DeleteApiKeyCommand({ apiKey: key.id }))).rejects.toBeInstanceOf(
      NotFoundException,
    );
  });

  it("lets the application provision a bucket twice and release it twice, converging each time", async () => {
    const subject = { kind: "apiKey", keyId: "k0twice", role: "user" } as const;
    const first = await provisionUsageBucket(subject);
    expect(await provisionUsageBucket(subject)).toBe(first);
    const name = usageKeyName(USAGE_NAMESPACE, subject);
    const listed = await apiGateway.send(new GetApiKeysCommand({ nameQuery: name, includeValues: true }));
    expect(listed.items).toEqual([
      expect.objectContaining({ id: first, enabled: true, value: usageKeyValue(USAGE_NAMESPACE, subject) }),
    ]);
    expect(
      (await apiGateway.send(new GetUsagePlansCommand({ keyId: first }))).items?.map((p) => p.id),
    ).toEqual([await planIdOf("user")]);
    await releaseUsageBucket(subject);
    await releaseUsageBucket(subject);
    expect((await apiGateway.send(new GetApiKeysCommand({ nameQuery: name }))).items).toEqual([]);
  });

  it("keeps keys and plan memberships in the data directory across a restart", async () => {
    const file = join(dataDir, "apigateway-restart", "keys.json");
    const plans = [
      {
        id: usagePlanId("p-tenant"),
        name: "p-tenant",
        apiStages: [{ apiId: "local", stage: "local" }],
        limits: usagePlanLimits.tenant,
      },
    ];
    const before = createApiGateway({ plans, file });
    const raw = (body: unknown, url: string) => ({
      method: "POST",
      url,
      headers: {},
      body: Buffer.from(JSON.stringify(body)),
      signal: new AbortController().signal,
    });
    const created = JSON.parse(
      String(
        (
          await before.service.handle(
            raw({ name: "t", value: "restartrestartrestart1", enabled: true }, "/apikeys"),
          )
        ).body,
      ),
    );
    await before.service.handle(
      raw({ keyId: created.id, keyType: "API_KEY" }, `/usageplans/${plans[0]?.id}/keys`),
    );
    const stage = { apiId: "local", stage: "local" };
    const after = createApiGateway({ plans, file });
    expect(after.usageFor("restartrestartrestart1", stage)).toMatchObject({
      keyId: created.id,
      plan: { name: "p-tenant" },
    });
    expect(after.usageFor("restartrestartrestart1", { apiId: "local", stage: "other" })).toBeUndefined();
    expect(after.usageFor("unknownunknownunknown1", stage)).toBeUndefined();
  });
});
