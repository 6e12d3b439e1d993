import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AwsServiceError, type JsonService, requireString } from "./protocol.ts";

/**
 * KMS, the operations envelope encryption uses: GenerateDataKey, Encrypt and Decrypt, over the JSON 1.1
 * protocol (`X-Amz-Target: TrentService.<Operation>`), with blobs as base64 as the SDK sends them.
 *
 * One symmetric key, whose 256-bit material is generated into `<dataDir>/kms-master-key` on the first start
 * and reused after, so secrets sealed before a restart still open. Ciphertext blobs are this twin's own
 * format (version, key id, IV, GCM tag, ciphertext) and the encryption context is the GCM additional data:
 * a different context on Decrypt fails with InvalidCiphertextException, as in AWS.
 *
 * Differences from AWS: no key policies, grants or rotation; one key, found by its id, ARN or the alias below.
 */

export const KMS_ACCOUNT = "000000000000";
/** The alias the twin gives its key; SECRETS_KMS_KEY_ID points at it locally. */
export const SECRETS_KEY_ALIAS = "alias/switchboard-secrets";
const MASTER_KEY_FILE = "kms-master-key";
const BLOB_VERSION = 1;
const KEY_ID_LENGTH = 36;
/** KMS's own limit on Encrypt's plaintext. */
const MAX_PLAINTEXT_BYTES = 4096;

async function masterKey(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, MASTER_KEY_FILE);
  try {
    const key = Buffer.from((await readFile(path, "utf8")).trim(), "base64");
    if (key.length === 32) return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const key = randomBytes(32);
  await writeFile(path, `${key.toString("base64")}\n`, { mode: 0o600 });
  return key;
}

/** A UUID-shaped key id derived from the material, so it stays the same across restarts. */
function keyIdOf(material: Buffer): string {
  const hex = createHash("sha256").update("switchboard-kms-key-id").update(material).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The context as AAD: keys sorted, so the same pairs in any order give the same bytes (KMS ignores order). */
function contextAad(context: unknown): Buffer {
  if (context === undefined || context === null) return Buffer.alloc(0);
  if (typeof context !== "object" || Array.isArray(context)) {
    throw new AwsServiceError("ValidationException", "EncryptionContext must be a map of strings");
  }
  const entries = Object.entries(context as Record<string, unknown>);
  for (const [, value] of entries) {
    if (typeof value !== "string")
      throw new AwsServiceError("ValidationException", "EncryptionContext values must be strings");
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), "utf8");
}

function base64Blob(input: Record<string, unknown>, field: string): Buffer {
  const value = requireString(input, field);
  const blob = Buffer.from(value, "base64");
  if (blob.length === 0) throw new AwsServiceError("ValidationException", `${field} is empty`);
  return blob;
}

export interface LocalKms {
  service: JsonService;
  keyId: string;
  keyArn: string;
}

export async function createKms(options: { region: string; dataDir: string }): Promise<LocalKms> {
  const material = await masterKey(options.dataDir);
  const keyId = keyIdOf(material);
  const keyArn = `arn:aws:kms:${options.region}:${KMS_ACCOUNT}:key/${keyId}`;
  const aliasArn = `arn:aws:kms:${options.region}:${KMS_ACCOUNT}:${SECRETS_KEY_ALIAS}`;

  const resolveKey = (reference: string): string => {
    if ([keyId, keyArn, SECRETS_KEY_ALIAS, aliasArn].includes(reference)) return keyArn;
    const what = reference.startsWith("alias/") || reference.includes(":alias/") ? "Alias" : "Key";
    throw new AwsServiceError("NotFoundException", `${what} '${reference}' does not exist`);
  };

  const encrypt = (plaintext: Buffer, context: unknown): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", material, iv);
    cipher.setAAD(contextAad(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([
      Buffer.from([BLOB_VERSION]),
      Buffer.from(keyId, "ascii"),
      iv,
      cipher.getAuthTag(),
      sealed,
    ]);
  };

  const decrypt = (blob: Buffer, context: unknown): Buffer => {
    const invalid = () => new AwsServiceError("InvalidCiphertextException", "");
    if (blob.length < 1 + KEY_ID_LENGTH + 12 + 16 || blob[0] !== BLOB_VERSION) throw invalid();
    if (blob.subarray(1, 1 + KEY_ID_LENGTH).toString("ascii") !== keyId) throw invalid();
    const iv = blob.subarray(1 + KEY_ID_LENGTH, 1 + KEY_ID_LENGTH + 12);
    const tag = blob.subarray(1 + KEY_ID_LENGTH + 12, 1 + KEY_ID_LENGTH + 28);
    const sealed = blob.subarray(1 + KEY_ID_LENGTH + 28);
    try {
      const decipher = createDecipheriv("aes-256-gcm", material, iv);
      decipher.setAAD(contextAad(context));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(sealed), decipher.final()]);
    } catch {
      // A wrong encryption context and a tampered blob look the same, as they do in AWS.
      throw invalid();
    }
  };

  const service: JsonService = {
    name: "KMS",
    targetPrefix: "TrentService",
    contentType: "application/x-amz-json-1.1",
    operations: {
      GenerateDataKey(input) {
        const arn = resolveKey(requireString(input, "KeyId"));
        const { KeySpec, NumberOfBytes } = input;
        if ((KeySpec === undefined) === (NumberOfBytes === undefined)) {
          throw new AwsServiceError(
            "ValidationException",
            "Please specify either number of bytes or key spec.",
          );
        }
        let length: number;
        if (KeySpec !== undefined) {
          if (KeySpec !== "AES_256" && KeySpec !== "AES_128") {
            throw new AwsServiceError(
              "ValidationException",
              `Value '${String(KeySpec)}' at 'keySpec' failed to satisfy constraint`,
            );
          }
          length = KeySpec === "AES_256" ? 32 : 16;
        } else {
          if (
            typeof NumberOfBytes !== "number" ||
            !Number.isInteger(NumberOfBytes) ||
            NumberOfBytes < 1 ||
            NumberOfBytes > 1024
          ) {
            throw new AwsServiceError("ValidationException", "NumberOfBytes must be between 1 and 1024");
          }
          length = NumberOfBytes;
        }
        const plaintext = randomBytes(length);
        return {
          KeyId: arn,
          Plaintext: plaintext.toString("base64"),
          CiphertextBlob: encrypt(plaintext, input.EncryptionContext).toString("base64"),
        };
      },
      Encrypt(input) {
        const arn = resolveKey(requireString(input, "KeyId"));
        const plaintext = base64Blob(input, "Plaintext");
        if (plaintext.length > MAX_PLAINTEXT_BYTES) {
          throw new AwsServiceError(
            "ValidationException",
            `Plaintext must be at most ${MAX_PLAINTEXT_BYTES} bytes`,
          );
        }
        return {
          KeyId: arn,
          CiphertextBlob: encrypt(plaintext, input.EncryptionContext).toString("base64"),
          EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
        };
      },
      Decrypt(input) {
        const blob = base64Blob(input, "CiphertextBlob");
        if (input.KeyId !== undefined && resolveKey(String(input.KeyId)) !== keyArn) {
          throw new AwsServiceError(
            "IncorrectKeyException",
            "The key ID in the request does not identify the key that encrypted the ciphertext.",
          );
        }
        if (input.EncryptionAlgorithm !== undefined && input.EncryptionAlgorithm !== "SYMMETRIC_DEFAULT") {
          throw new AwsServiceError(
            "IncorrectKeyException",
            "The encryption algorithm does not match the key.",
          );
        }
        return {
          KeyId: keyArn,
          Plaintext: decrypt(blob, input.EncryptionContext).toString("base64"),
          EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
        };
      },
    },
  };
  return { service, keyId, keyArn };
}
