import { GetCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { ApiKey, Role } from "#events/auth";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { keys } from "../keys.ts";
import { type ApiKeyItem, hashSecret } from "./identity.ts";
import { newestFirst } from "./page.ts";

/** admin > user > viewer: nobody may hand out more than they hold. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { admin: 3, user: 2, viewer: 1 };

/** What the API shows of a key: never the secret, never its hash. */
export function publicApiKey(item: ApiKeyItem): ApiKey {
  return {
    id: item.id,
    name: item.name,
    prefix: item.prefix,
    role: item.role,
    createdBy: item.createdBy,
    createdAt: item.createdAt,
    ...(item.expiresAt === undefined ? {} : { expiresAt: item.expiresAt }),
    ...(item.revokedAt === undefined ? {} : { revokedAt: item.revokedAt }),
    ...(item.lastUsedAt === undefined ? {} : { lastUsedAt: item.lastUsedAt }),
  };
}

function toApiKey(item: Record<string, unknown>): ApiKeyItem {
  const optional = (name: string) => (typeof item[name] === "string" ? { [name]: item[name] as string } : {});
  return {
    id: String(item.id),
    tenantId: String(item.tenantId),
    name: String(item.name),
    role: item.role as Role,
    prefix: String(item.prefix),
    secretHash: String(item.secretHash),
    createdBy: String(item.createdBy),
    createdAt: String(item.createdAt),
    ...optional("ownerId"),
    ...optional("expiresAt"),
    ...optional("revokedAt"),
    ...optional("lastUsedAt"),
  };
}

/** How far a key minted before owners were recorded is followed up its creators to find a person. */
const MAX_LEGACY_CHAIN = 8;

/**
 * The user a key acts for. Keys record it when minted; for an older key the chain of creators is followed
 * (a key's `createdBy` is a user id or a key id). `undefined` when the chain ends in nobody.
 */
export async function ownerOf(key: ApiKeyItem): Promise<string | undefined> {
  if (key.ownerId !== undefined) return key.ownerId;
  let creator = key.createdBy;
  for (let hop = 0; hop < MAX_LEGACY_CHAIN; hop++) {
    const parent = await getApiKey(key.tenantId, creator);
    if (parent === undefined) return creator;
    if (parent.ownerId !== undefined) return parent.ownerId;
    creator = parent.createdBy;
  }
  return undefined;
}

/**
 * Mints `sb_<id>_<secret>`. The id is lower-case alphanumeric (what `parseApiKey` accepts) and also names the
 * global lookup item the authorizer reads before it knows the tenant; the secret is 32 random bytes, of
 * which only a SHA-256 is stored. The full key exists only in the return value.
 */
export async function createApiKey(input: {
  /** An id minted beforehand (with `newId("k")`), for what must exist before the key does. */
  id?: string;
  tenantId: string;
  name: string;
  role: Role;
  createdBy: string;
  ownerId: string;
  expiresAt?: string;
}): Promise<{ item: ApiKeyItem; key: string }> {
  const id = input.id ?? newId("k");
  const secret = randomToken(32);
  const createdAt = nowIso();
  const item: ApiKeyItem = {
    id,
    tenantId: input.tenantId,
    name: input.name,
    role: input.role,
    // Enough to tell keys apart in a list; four of 43 secret characters leave 232 bits unknown.
    prefix: `sb_${id}_${secret.slice(0, 4)}`,
    secretHash: hashSecret(secret),
    createdBy: input.createdBy,
    ownerId: input.ownerId,
    createdAt,
    ...(input.expiresAt === undefined ? {} : { expiresAt: input.expiresAt }),
  };
  await dynamo().send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: tableName(),
            Item: {
              ...keys.apiKey(input.tenantId, id),
              type: "apiKey",
              gsi1pk: keys.apiKeysIndex(input.tenantId),
              gsi1sk: keys.apiKeySortKey(createdAt, id),
              gsi2pk: keys.apiKeysByCreatorIndex(input.tenantId, input.createdBy),
              gsi2sk: keys.apiKeySortKey(createdAt, id),
              ...item,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        {
          Put: {
            TableName: tableName(),
            // The owner rides on the lookup too, so the authorizer reads key and owner at once.
            Item: {
              ...keys.apiKeyLookup(id),
              type: "apiKeyLookup",
              tenantId: input.tenantId,
              ownerId: input.ownerId,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
      ],
    }),
  );
  return { item, key: `sb_${id}_${secret}` };
}

export async function getApiKey(tenantId: string, keyId: string): Promise<ApiKeyItem | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.apiKey(tenantId, keyId) }),
  );
  return Item === undefined ? undefined : toApiKey(Item);
}

/** Newest first: all of the tenant's keys, or only those `createdBy` minted. */
export async function listApiKeys(
  tenantId: string,
  options: { limit: number; cursor?: string; createdBy?: string },
): Promise<{ items: ApiKeyItem[]; cursor?: string }> {
  const index = options.createdBy === undefined ? "gsi1" : "gsi2";
  const partition =
    options.createdBy === undefined
      ? keys.apiKeysIndex(tenantId)
      : keys.apiKeysByCreatorIndex(tenantId, options.createdBy);
  return newestFirst({ index, partition, cursor: options.cursor, limit: options.limit, map: toApiKey });
}

/**
 * Marks the key revoked; the authorizer refuses it from then on. Revoking twice keeps the first time.
 * With `createdBy`, only a key that caller minted is found. `undefined` when there is no such key.
 */
export async function revokeApiKey(
  tenantId: string,
  keyId: string,
  options: { createdBy?: string } = {},
): Promise<ApiKeyItem | undefined> {
  try {
    const { Attributes } = await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.apiKey(tenantId, keyId),
        UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :now)",
        ConditionExpression:
          options.createdBy === undefined
            ? "attribute_exists(pk)"
            : "attribute_exists(pk) AND createdBy = :creator",
        ExpressionAttributeValues: {
          ":now": nowIso(),
          ...(options.createdBy === undefined ? {} : { ":creator": options.createdBy }),
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    return Attributes === undefined ? undefined : toApiKey(Attributes);
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/**
 * Revokes the live keys `creatorId` minted whose role ranks above `ceiling` (all of them without one): a
 * deleted user's keys die with it, and a demoted user's keys cannot keep the role it lost. Returns them.
 */
export async function revokeKeysCreatedBy(
  tenantId: string,
  creatorId: string,
  ceiling?: Role,
): Promise<ApiKeyItem[]> {
  const revoked: ApiKeyItem[] = [];
  let cursor: string | undefined;
  do {
    const page = await listApiKeys(tenantId, {
      createdBy: creatorId,
      limit: 100,
      ...(cursor ? { cursor } : {}),
    });
    const doomed = page.items.filter(
      (key) =>
        key.revokedAt === undefined && (ceiling === undefined || ROLE_RANK[key.role] > ROLE_RANK[ceiling]),
    );
    await Promise.all(doomed.map((key) => revokeApiKey(tenantId, key.id)));
    revoked.push(...doomed);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return revoked;
}
