import { createHash, timingSafeEqual } from "node:crypto";
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Role, User } from "#events/auth";
import { dynamo } from "../aws.ts";
import { encodeCursor, epochSeconds, nowIso, tableName } from "../db.ts";
import { conflict, isConditionalCheckFailed } from "../errors.ts";
import { newId, randomToken } from "../ids.ts";
import { keys } from "../keys.ts";
import { startKey } from "./page.ts";

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
  updatedAt?: string;
  /** Sessions (access and refresh tokens) issued before this instant no longer work: set on a password change. */
  sessionsRevokedAt?: string;
}

export interface ApiKeyItem {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  prefix: string;
  secretHash: string;
  createdBy: string;
  /**
   * The person the key acts for: its creator, or for a key minted by a key, that key's owner. Absent on keys
   * minted before owners were recorded; those are resolved through `createdBy`.
   */
  ownerId?: string;
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

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

function newUser(input: Omit<UserItem, "id" | "createdAt"> & { id?: string }): UserItem {
  return { ...input, id: input.id ?? newId("u_"), email: input.email.toLowerCase(), createdAt: nowIso() };
}

/** The user item and the claim on its email: emails are unique across the platform. */
function userWrites(user: UserItem): TransactItem[] {
  return [
    {
      Put: {
        TableName: tableName(),
        Item: { ...keys.emailLookup(user.email), type: "email", tenantId: user.tenantId, userId: user.id },
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
  ];
}

async function writeUser(user: UserItem, extra: TransactItem[] = []): Promise<void> {
  try {
    await dynamo().send(new TransactWriteCommand({ TransactItems: [...extra, ...userWrites(user)] }));
  } catch (error) {
    if (error instanceof Error && error.name === "TransactionCanceledException") {
      throw conflict(`A user with email ${user.email} already exists`);
    }
    throw error;
  }
}

/** Creates the user and claims its email in one transaction. */
export async function createUser(
  input: Omit<UserItem, "id" | "createdAt"> & { id?: string },
): Promise<UserItem> {
  const user = newUser(input);
  await writeUser(user);
  return user;
}

/**
 * A new tenant and its first admin in one transaction, so a taken email leaves no tenant without an admin
 * behind. Tenant ids are generated: a name is a label, not an identity.
 */
export async function createTenantWithAdmin(input: {
  /** An id minted beforehand (with `newId("t")`), for what must exist before the tenant does. */
  id?: string;
  name: string;
  adminEmail: string;
  adminPasswordHash: string;
}): Promise<{ tenant: TenantItem; admin: UserItem }> {
  const tenant: TenantItem = { id: input.id ?? newId("t"), name: input.name, createdAt: nowIso() };
  const admin = newUser({
    tenantId: tenant.id,
    email: input.adminEmail,
    role: "admin",
    passwordHash: input.adminPasswordHash,
    platformAdmin: false,
  });
  await writeUser(admin, [
    {
      Put: {
        TableName: tableName(),
        Item: {
          ...keys.tenant(tenant.id),
          gsi1pk: keys.tenantsIndex(),
          gsi1sk: tenant.id,
          type: "tenant",
          ...tenant,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    },
  ]);
  return { tenant, admin };
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
    ...(typeof item.updatedAt === "string" ? { updatedAt: item.updatedAt } : {}),
    ...(typeof item.sessionsRevokedAt === "string" ? { sessionsRevokedAt: item.sessionsRevokedAt } : {}),
  };
}

/** What the API shows of a user: never the password hash. */
export function publicUser(user: UserItem): User {
  return {
    id: user.id,
    tenantId: user.tenantId,
    email: user.email,
    role: user.role,
    disabled: user.disabled === true,
    createdAt: user.createdAt,
    ...(user.updatedAt === undefined ? {} : { updatedAt: user.updatedAt }),
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

/** The tenant's users, by email. */
export async function listUsers(
  tenantId: string,
  page: { limit: number; cursor?: string },
): Promise<{ items: UserItem[]; cursor?: string }> {
  const partition = keys.usersIndex(tenantId);
  const result = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      IndexName: "gsi1",
      KeyConditionExpression: "gsi1pk = :pk",
      ExpressionAttributeValues: { ":pk": partition },
      Limit: page.limit,
      ExclusiveStartKey: startKey(page.cursor, "gsi1pk", partition),
    }),
  );
  const cursor = encodeCursor(result.LastEvaluatedKey);
  return { items: (result.Items ?? []).map(toUser), ...(cursor === undefined ? {} : { cursor }) };
}

export interface UserChanges {
  role?: Role;
  passwordHash?: string;
  disabled?: boolean;
}

/** Applies the changes to an existing user; `undefined` when there is no such user in the tenant. */
export async function updateUser(
  tenantId: string,
  userId: string,
  changes: UserChanges,
  now = new Date(),
): Promise<UserItem | undefined> {
  const set: string[] = ["updatedAt = :now"];
  const values: Record<string, unknown> = { ":now": nowIso(now) };
  if (changes.role !== undefined) {
    set.push("#role = :role");
    values[":role"] = changes.role;
  }
  if (changes.disabled !== undefined) {
    set.push("disabled = :disabled");
    values[":disabled"] = changes.disabled;
  }
  if (changes.passwordHash !== undefined) {
    // A new password ends every session started with the old one.
    set.push("passwordHash = :hash", "sessionsRevokedAt = :now");
    values[":hash"] = changes.passwordHash;
  }
  try {
    const { Attributes } = await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.user(tenantId, userId),
        UpdateExpression: `SET ${set.join(", ")}`,
        ConditionExpression: "attribute_exists(pk)",
        ...(changes.role === undefined ? {} : { ExpressionAttributeNames: { "#role": "role" } }),
        ExpressionAttributeValues: values,
        ReturnValues: "ALL_NEW",
      }),
    );
    return Attributes === undefined ? undefined : toUser(Attributes);
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/**
 * Deletes the user and frees its email in one transaction. Its tokens stop working at once, because every
 * request and every refresh reads the user again.
 */
export async function deleteUser(tenantId: string, userId: string): Promise<UserItem | undefined> {
  const user = await getUser(tenantId, userId);
  if (user === undefined) return undefined;
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Delete: {
              TableName: tableName(),
              Key: keys.user(tenantId, userId),
              ConditionExpression: "attribute_exists(pk)",
            },
          },
          {
            Delete: {
              TableName: tableName(),
              Key: keys.emailLookup(user.email),
              // Only the claim this user holds: never another account's.
              ConditionExpression: "attribute_not_exists(pk) OR userId = :user",
              ExpressionAttributeValues: { ":user": userId },
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (error instanceof Error && error.name === "TransactionCanceledException") return undefined;
    throw error;
  }
  return user;
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
        createdAt: nowIso(),
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
  return (await findApiKeyAndOwner(key))?.key;
}

/**
 * The key, and its owner when the lookup item names one (keys minted since owners are recorded): both are
 * read at once after the lookup, so checking the owner adds no round trip. `owner` is `undefined` when
 * that user is gone; `ownerId` is absent for an older key, whose owner the caller resolves.
 */
export async function findApiKeyAndOwner(
  key: string,
): Promise<{ key: ApiKeyItem; ownerId?: string; owner?: UserItem } | undefined> {
  const parsed = parseApiKey(key);
  if (parsed === undefined) return undefined;
  const { Item: lookup } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.apiKeyLookup(parsed.id) }),
  );
  if (lookup === undefined) return undefined;
  const tenantId = String(lookup.tenantId);
  const ownerId = typeof lookup.ownerId === "string" ? lookup.ownerId : undefined;
  const [{ Item }, owner] = await Promise.all([
    dynamo().send(new GetCommand({ TableName: tableName(), Key: keys.apiKey(tenantId, parsed.id) })),
    ownerId === undefined ? Promise.resolve(undefined) : getUser(tenantId, ownerId),
  ]);
  if (Item === undefined) return undefined;
  const expected = Buffer.from(String(Item.secretHash), "hex");
  const actual = Buffer.from(hashSecret(parsed.secret), "hex");
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return {
    key: Item as ApiKeyItem,
    ...(ownerId === undefined ? {} : { ownerId }),
    ...(owner === undefined ? {} : { owner }),
  };
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
