import { createHash } from "node:crypto";
import { AwsServiceError, type JsonService, requireString } from "./protocol.ts";

export interface LocalSecret {
  name: string;
  value: string;
  createdAt: Date;
}

const ACCOUNT = "000000000000";

/** AWS appends six random characters to a secret's ARN; here they derive from the name so they stay put. */
function arnOf(region: string, name: string): string {
  const suffix = createHash("sha256").update(name).digest("base64url").replace(/[-_]/g, "x").slice(0, 6);
  return `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${suffix}`;
}

function versionOf(secret: LocalSecret): string {
  const hex = createHash("sha256").update(`${secret.name}\0${secret.value}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Secrets Manager, `GetSecretValue` only: the functions read the JWT signing secret and nothing else. */
export function createSecretsManager(options: { region: string; secrets: LocalSecret[] }): JsonService {
  const lookup = (secretId: string) =>
    options.secrets.find(
      (secret) => secret.name === secretId || arnOf(options.region, secret.name) === secretId,
    );

  return {
    name: "Secrets Manager",
    targetPrefix: "secretsmanager",
    contentType: "application/x-amz-json-1.1",
    operations: {
      GetSecretValue(input) {
        const secretId = requireString(input, "SecretId");
        const secret = lookup(secretId);
        if (!secret) {
          throw new AwsServiceError(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
          );
        }
        const versionId = versionOf(secret);
        const { VersionId, VersionStage } = input;
        const wrongVersion = VersionId !== undefined && VersionId !== versionId;
        const wrongStage = VersionStage !== undefined && VersionStage !== "AWSCURRENT";
        if (wrongVersion || wrongStage) {
          throw new AwsServiceError(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret value for staging label or version.",
          );
        }
        return {
          ARN: arnOf(options.region, secret.name),
          Name: secret.name,
          VersionId: versionId,
          SecretString: secret.value,
          VersionStages: ["AWSCURRENT"],
          CreatedDate: secret.createdAt.getTime() / 1000,
        };
      },
    },
  };
}
