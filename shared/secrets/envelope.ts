import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { ENV, requireEnv } from "../config.ts";
import { withoutRequestLog } from "../sdk.ts";

/**
 * KMS envelope encryption of tenant credentials. Each value gets its own data key from GenerateDataKey;
 * the value is sealed locally with AES-256-GCM and only the KMS-encrypted copy of the data key is kept.
 * The encryption context `{tenantId, name}` is bound twice: by KMS to the data key, so a blob moved to
 * another tenant or name cannot be decrypted, and as GCM's additional data.
 */

export interface SealedSecret {
  alg: "AES-256-GCM";
  /** The KMS key that encrypted the data key (an ARN, as KMS reports it). */
  keyId: string;
  /** KMS ciphertext of the data key, base64. */
  encryptedKey: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

export interface SecretContext {
  tenantId: string;
  name: string;
}

let kms: KMSClient | undefined;

/** Default configuration: the endpoint comes from `AWS_ENDPOINT_URL_KMS` locally. */
function kmsClient(): KMSClient {
  kms ??= withoutRequestLog(new KMSClient({}));
  return kms;
}

function context(ctx: SecretContext): Record<string, string> {
  return { tenantId: ctx.tenantId, name: ctx.name };
}

function aad(ctx: SecretContext): Buffer {
  return Buffer.from(JSON.stringify([ctx.tenantId, ctx.name]), "utf8");
}

export async function seal(plaintext: string, ctx: SecretContext): Promise<SealedSecret> {
  const dataKey = await kmsClient().send(
    new GenerateDataKeyCommand({
      KeyId: requireEnv(ENV.secretsKeyId),
      KeySpec: "AES_256",
      EncryptionContext: context(ctx),
    }),
  );
  if (!dataKey.Plaintext || !dataKey.CiphertextBlob) throw new Error("KMS returned no data key");
  const key = Buffer.from(dataKey.Plaintext);
  try {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    cipher.setAAD(aad(ctx));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return {
      alg: "AES-256-GCM",
      keyId: dataKey.KeyId ?? requireEnv(ENV.secretsKeyId),
      encryptedKey: Buffer.from(dataKey.CiphertextBlob).toString("base64"),
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      ciphertext: ciphertext.toString("base64"),
    };
  } finally {
    key.fill(0);
    dataKey.Plaintext.fill(0);
  }
}

export async function unseal(sealed: SealedSecret, ctx: SecretContext): Promise<string> {
  const { Plaintext } = await kmsClient().send(
    new DecryptCommand({
      CiphertextBlob: Buffer.from(sealed.encryptedKey, "base64"),
      KeyId: sealed.keyId,
      EncryptionContext: context(ctx),
    }),
  );
  if (!Plaintext) throw new Error("KMS returned no plaintext");
  const key = Buffer.from(Plaintext);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64"));
    decipher.setAAD(aad(ctx));
    decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
    return Buffer.concat([
      decipher.update(Buffer.from(sealed.ciphertext, "base64")),
      decipher.final(),
    ]).toString("utf8");
  } finally {
    key.fill(0);
    Plaintext.fill(0);
  }
}

/** Tests swap endpoints between runs. */
export function resetKmsClient(): void {
  kms = undefined;
}
