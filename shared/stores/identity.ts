import { createHash, timingSafeEqual } from "node:crypto";
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Role } from "#events/auth";
import { dynamo } from "../aws.ts";
import { epochSeconds, nowIso, tableName } from "../db.ts";
import { conflict, isConditionalCheckFailed } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { keys } from "../keys.ts";

export interface TenantItem {
  id: string;
  name: string;
  createdAt: string;
}

export interface UserItem {
  id: string;
  tenantId: string;
  email: string;
  role: Role;
  passwordHash: string;
  platformAdmin: boolean;
  disabled?: boolean;
  createdAt: string;
}

export interface ApiKeyItem {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  prefix: string;
  secretHash: string;
  createdBy: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

export async function getTenant(tenantId: string): Promise<TenantItem | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.tenant(tenantId) }),
  );
  return Item === undefined ? undefined : { id: Item.id, name: Item.name, createdAt: Item.createdAt };
}

export async function putTenant(tenant: TenantItem): Promise<boolean> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...keys.tenant(tenant.id),
          gsi1pk: keys.tenantsIndex(),
          gsi1sk: tenant.id,
          type: "tenant",
          ...tenant,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/** Creates the user and claims its email in one transaction: emails are unique across the platform. */
export async function createUser(
  input: Omit<UserItem, "id" | "createdAt"> & { id?: string },
): Promise<UserItem> {
  const user: UserItem = {
    ...input,
    id: input.id ?? newId("u_"),
    email: input.email.toLowerCase(),
    createdAt: nowIso(),
  };
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: {
                ...keys.emailLookup(user.email),
                type: "email",
                tenantId: user.tenantId,
                userId: user.id,
              },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: {
                ...keys.user(user.tenantId, user.id),
                gsi1pk: keys.usersIndex(user.tenantId),
                gsi1sk: user.email,
                type: "user",
                ...user,
              },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (error instanceof Error && error.name === "TransactionCanceledException") {
      throw conflict(`A user with email ${user.email} already exists`);
    }
    throw error;
  }
  return user;
}

function toUser(item: Record<string, unknown>): UserItem {
  return {
    id: String(item.id),
    tenantId: String(item.tenantId),
    email: String(item.email),
    role: item.role as Role,
    passwordHash: String(item.passwordHash),
    platformAdmin: item.platformAdmin === true,
    disabled: item.disabled === true,
    createdAt: String(item.createdAt),
  };
}

export async function getUser(tenantId: string, userId: string): Promise<UserItem | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.user(tenantId, userId) }),
  );
  return Item === undefined ? undefined : toUser(Item);
}

export async function findUserByEmail(email: string): Promise<UserItem | undefined> {
  const { Item: lookup } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.emailLookup(email) }),
  );
  if (lookup === undefined) return undefined;
  return getUser(String(lookup.tenantId), String(lookup.userId));
}

// Refresh-token families: one item per login session, holding the generation that is currently valid.

export async function startRefreshFamily(
  tenantId: string,
  userId: string,
  ttlSeconds: number,
): Promise<string> {
  const familyId = randomToken(16);
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...keys.refreshFamily(tenantId, familyId),
        type: "refreshFamily",
        userId,
        gen: 0,
        revoked: false,
        ttl: epochSeconds() + ttlSeconds,
      },
    }),
  );
  return familyId;
}

/**
 * Moves the family from `gen` to `gen + 1`. A token of an older generation is a replay of a rotated token:
 * the whole family is revoked, so a stolen refresh token stops working for thief and owner alike.
 */
export async function rotateRefreshFamily(
  tenantId: string,
  familyId: string,
  userId: string,
  gen: number,
): Promise<"rotated" | "reused" | "revoked"> {
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.refreshFamily(tenantId, familyId),
        UpdateExpression: "SET gen = :next",
        ConditionExpression: "gen = :gen AND revoked = :false AND userId = :user",
        ExpressionAttributeValues: { ":gen": gen, ":next": gen + 1, ":false": false, ":user": userId },
      }),
    );
    return "rotated";
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.refreshFamily(tenantId, familyId) }),
  );
  if (Item === undefined || Item.revoked === true) return "revoked";
  await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.refreshFamily(tenantId, familyId),
      UpdateExpression: "SET revoked = :true",
      ExpressionAttributeValues: { ":true": true },
    }),
  );
  return "reused";
}

// API keys: `sb_<id>_<secret>`. Only a SHA-256 of the secret is stored.

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const match = /^sb_([a-z0-9]{8,40})_([A-Za-z0-9_-]{20,100})$/.exec(key);
  return match === null ? undefined : { id: match[1] as string, secret: match[2] as string };
}

export async function findApiKey(key: string): Promise<ApiKeyItem | undefined> {
  const parsed = parseApiKey(key);
  if (parsed === undefined) return undefined;
  const { Item: lookup } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.apiKeyLookup(parsed.id) }),
  );
  if (lookup === undefined) return undefined;
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.apiKey(String(lookup.tenantId), parsed.id) }),
  );
  if (Item === undefined) return undefined;
  const expected = Buffer.from(String(Item.secretHash), "hex");
  const actual = Buffer.from(hashSecret(parsed.secret), "hex");
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return Item as ApiKeyItem;
}

/** Written at most once a minute per key, so a busy key does not turn every request into a write. */
export async function touchApiKey(item: ApiKeyItem, now = new Date()): Promise<void> {
  if (item.lastUsedAt !== undefined && now.getTime() - Date.parse(item.lastUsedAt) < 60_000) return;
  await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.apiKey(item.tenantId, item.id),
      UpdateExpression: "SET lastUsedAt = :now",
      ExpressionAttributeValues: { ":now": nowIso(now) },
    }),
  );
}
