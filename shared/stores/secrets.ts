import { DeleteCommand, GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Secret } from "#events/agents";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { isConditionalCheckFailed, notFound } from "../errors.ts";
import { type SealedSecret, seal, unseal } from "../secrets/envelope.ts";

/**
 * Stored provider and tool credentials. Only the sealed form is written; listings never read the
 * ciphertext fields, and the plaintext exists only inside the step that asked for it.
 */
export const secretKeys = {
  pk: (tenantId: string) => `T#${tenantId}#SECRETS`,
  sk: (name: string) => `S#${name}`,
};

function toSecret(item: Record<string, unknown>): Secret {
  return {
    id: String(item.name),
    name: String(item.name),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    createdBy: String(item.createdBy),
  };
}

/** Creates the secret, or replaces its value (rotation) keeping its creation time. */
export async function putSecret(
  tenantId: string,
  name: string,
  value: string,
  actorId: string,
): Promise<Secret> {
  const sealed = await seal(value, { tenantId, name });
  const now = nowIso();
  const { Attributes } = await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: { pk: secretKeys.pk(tenantId), sk: secretKeys.sk(name) },
      UpdateExpression:
        "SET #type = :type, tenantId = :tenant, #name = :name, sealed = :sealed, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), createdBy = if_not_exists(createdBy, :actor), updatedBy = :actor",
      ExpressionAttributeNames: { "#type": "type", "#name": "name" },
      ExpressionAttributeValues: {
        ":type": "secret",
        ":tenant": tenantId,
        ":name": name,
        ":sealed": sealed,
        ":now": now,
        ":actor": actorId,
      },
      ReturnValues: "ALL_NEW",
    }),
  );
  return toSecret(Attributes ?? {});
}

export async function listSecrets(tenantId: string): Promise<Secret[]> {
  const out: Secret[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": secretKeys.pk(tenantId) },
        // The sealed value stays in the table.
        ProjectionExpression: "#name, createdAt, updatedAt, createdBy",
        ExpressionAttributeNames: { "#name": "name" },
        ExclusiveStartKey,
      }),
    );
    out.push(...(page.Items ?? []).map(toSecret));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return out;
}

export async function deleteSecret(tenantId: string, name: string): Promise<void> {
  try {
    await dynamo().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: { pk: secretKeys.pk(tenantId), sk: secretKeys.sk(name) },
        ConditionExpression: "attribute_exists(pk)",
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) throw notFound("Secret", name);
    throw error;
  }
}

export async function secretExists(tenantId: string, name: string): Promise<boolean> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: secretKeys.pk(tenantId), sk: secretKeys.sk(name) },
      ProjectionExpression: "pk",
    }),
  );
  return Item !== undefined;
}

/** The plaintext, for the step that needs it, or undefined when there is no such secret. */
export async function readSecret(tenantId: string, name: string): Promise<string | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: { pk: secretKeys.pk(tenantId), sk: secretKeys.sk(name) } }),
  );
  if (Item === undefined) return undefined;
  return unseal(Item.sealed as SealedSecret, { tenantId, name });
}
