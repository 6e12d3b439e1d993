import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKms, SECRETS_KEY_ALIAS } from "#infra/local/aws-services/kms";
import { type AwsServicesServer, startAwsServices } from "#infra/local/aws-services/server";
import { createLogger } from "#infra/local/log";
import { resetKmsClient, seal, unseal } from "#shared/secrets/envelope";

const region = "us-east-1";
let dataDir: string;
let server: AwsServicesServer;
let kms: KMSClient;
let keyArn: string;
const saved = { ...process.env };

async function start(): Promise<void> {
  const local = await createKms({ region, dataDir });
  keyArn = local.keyArn;
  server = await startAwsServices({ jsonServices: [local.service], log: createLogger({ quiet: true }) });
  kms = new KMSClient({
    endpoint: server.url,
    region,
    credentials: { accessKeyId: "twin", secretAccessKey: "twin" },
  });
  process.env.AWS_ENDPOINT_URL_KMS = server.url;
  resetKmsClient();
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "switchboard-kms-"));
  Object.assign(process.env, {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: "twin",
    AWS_SECRET_ACCESS_KEY: "twin",
    SECRETS_KMS_KEY_ID: SECRETS_KEY_ALIAS,
  });
  await start();
});

afterAll(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
  process.env = saved;
});

describe("the twin's KMS, through the real SDK client", () => {
  it("keeps its master key in the data directory", async () => {
    const material = Buffer.from((await readFile(join(dataDir, "kms-master-key"), "utf8")).trim(), "base64");
    expect(material).toHaveLength(32);
  });

  it("generates a 256-bit data key whose ciphertext decrypts to the same key under the same context", async () => {
    const context = { tenantId: "t1", name: "openai" };
    const generated = await kms.send(
      new GenerateDataKeyCommand({
        KeyId: SECRETS_KEY_ALIAS,
        KeySpec: "AES_256",
        EncryptionContext: context,
      }),
    );
    expect(generated.KeyId).toBe(keyArn);
    expect(generated.Plaintext).toHaveLength(32);
    const decrypted = await kms.send(
      new DecryptCommand({
        CiphertextBlob: generated.CiphertextBlob,
        EncryptionContext: { name: "openai", tenantId: "t1" },
      }),
    );
    expect(Buffer.from(decrypted.Plaintext ?? [])).toEqual(Buffer.from(generated.Plaintext ?? []));
    expect(decrypted.KeyId).toBe(keyArn);
  });

  it("answers InvalidCiphertextException when the encryption context differs or is missing", async () => {
    const { CiphertextBlob } = await kms.send(
      new GenerateDataKeyCommand({
        KeyId: keyArn,
        NumberOfBytes: 16,
        EncryptionContext: { tenantId: "t1", name: "a" },
      }),
    );
    await expect(
      kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: { tenantId: "t2", name: "a" } })),
    ).rejects.toMatchObject({ name: "InvalidCiphertextException" });
    await expect(kms.send(new DecryptCommand({ CiphertextBlob }))).rejects.toMatchObject({
      name: "InvalidCiphertextException",
    });
  });

  it("encrypts and decrypts small payloads, and refuses a tampered blob", async () => {
    const { CiphertextBlob } = await kms.send(
      new EncryptCommand({ KeyId: SECRETS_KEY_ALIAS, Plaintext: Buffer.from("hello") }),
    );
    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext ?? []).toString()).toBe("hello");
    const tampered = Buffer.from(CiphertextBlob ?? []);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    await expect(kms.send(new DecryptCommand({ CiphertextBlob: tampered }))).rejects.toMatchObject({
      name: "InvalidCiphertextException",
    });
  });

  it("checks its inputs as KMS does", async () => {
    await expect(kms.send(new GenerateDataKeyCommand({ KeyId: SECRETS_KEY_ALIAS }))).rejects.toMatchObject({
      name: "ValidationException",
    });
    await expect(
      kms.send(new GenerateDataKeyCommand({ KeyId: "alias/nope", KeySpec: "AES_256" })),
    ).rejects.toMatchObject({ name: "NotFoundException" });
  });
});

describe("envelope encryption of secrets", () => {
  it("seals with a data key and AES-256-GCM, and opens only with the same tenant and name", async () => {
    const sealed = await seal("sk-live-123456", { tenantId: "t1", name: "openai" });
    expect(JSON.stringify(sealed)).not.toContain("sk-live-123456");
    expect(sealed).toMatchObject({ alg: "AES-256-GCM", keyId: keyArn });
    expect(await unseal(sealed, { tenantId: "t1", name: "openai" })).toBe("sk-live-123456");
    await expect(unseal(sealed, { tenantId: "t2", name: "openai" })).rejects.toMatchObject({
      name: "InvalidCiphertextException",
    });
    await expect(unseal(sealed, { tenantId: "t1", name: "anthropic" })).rejects.toMatchObject({
      name: "InvalidCiphertextException",
    });
  });

  it("still opens what it sealed after the twin restarts with the same data directory", async () => {
    const sealed = await seal("survives restarts", { tenantId: "t1", name: "x" });
    await server.close();
    await start();
    expect(await unseal(sealed, { tenantId: "t1", name: "x" })).toBe("survives restarts");
  });
});
