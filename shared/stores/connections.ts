import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { numberEnv } from "../config.ts";
import { epochSeconds, nowIso, tableName } from "../db.ts";
import { keys } from "../keys.ts";

/** API Gateway closes a WebSocket after two hours; the items outlive it a little in case $disconnect is missed. */
export const CONNECTION_TTL_SECONDS = 3 * 3600;

export type SubscriptionTarget = { jobId: string } | { all: true };

function subscribersPk(tenantId: string, target: SubscriptionTarget): string {
  return "jobId" in target ? keys.jobSubscribers(tenantId, target.jobId) : keys.tenantSubscribers(tenantId);
}

export async function putConnection(
  tenantId: string,
  connectionId: string,
  principal: { principalId: string; role: string },
): Promise<void> {
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...keys.connection(tenantId, connectionId),
        type: "connection",
        tenantId,
        connectionId,
        principalId: principal.principalId,
        role: principal.role,
        connectedAt: nowIso(),
        subscriptions: [],
        ttl: epochSeconds() + CONNECTION_TTL_SECONDS,
      },
    }),
  );
}

/** A connection may follow at most this many targets (jobs, or its tenant's every job) at once. */
export const maxSubscriptionsPerConnection = () => numberEnv("MAX_SUBSCRIPTIONS_PER_CONNECTION", 100);

export class SubscriptionLimitError extends Error {
  override name = "SubscriptionLimitError";
}

/**
 * `fromSeq`: the fanout sends this subscriber the events after it (the subscribe's `since`, or the job's seq
 * when it asked for none). Throws SubscriptionLimitError when the connection already follows the most it may.
 */
export async function addSubscription(
  tenantId: string,
  connectionId: string,
  target: SubscriptionTarget,
  fromSeq?: number,
  batch?: boolean,
  /** A tenant-wide subscription of a caller limited to its own jobs (owner-only access). */
  ownerId?: string,
) {
  const pk = subscribersPk(tenantId, target);
  const max = maxSubscriptionsPerConnection();
  // The connection remembers its subscriptions so $disconnect can remove them without a scan; the same
  // conditional write holds the per-connection limit, so concurrent subscribes cannot pass it together.
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.connection(tenantId, connectionId),
        UpdateExpression: "SET subscriptions = list_append(if_not_exists(subscriptions, :empty), :pk)",
        ConditionExpression:
          "attribute_exists(pk) AND NOT contains(subscriptions, :one) AND " +
          "(attribute_not_exists(subscriptions) OR size(subscriptions) < :max)",
        ExpressionAttributeValues: { ":empty": [], ":pk": [pk], ":one": pk, ":max": max },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== "ConditionalCheckFailedException") throw error;
    const { Item } = await dynamo().send(
      new GetCommand({
        TableName: tableName(),
        Key: keys.connection(tenantId, connectionId),
        ProjectionExpression: "subscriptions",
        ConsistentRead: true,
      }),
    );
    const held = (Item?.subscriptions as string[] | undefined) ?? [];
    if (Item !== undefined && !held.includes(pk) && held.length >= max) {
      throw new SubscriptionLimitError(
        `A connection may hold at most ${max} subscriptions (the subscriptions-per-connection limit); unsubscribe from one first`,
      );
    }
  }
  const ttl = epochSeconds() + CONNECTION_TTL_SECONDS;
  // Counted before it exists: a count too high costs a lookup, one too low would lose events.
  await countSubscriptions(tenantId, 1, ttl);
  const { Attributes } = await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...keys.subscription(pk, connectionId),
        type: "subscription",
        tenantId,
        connectionId,
        ...(fromSeq === undefined ? {} : { fromSeq }),
        ...(batch === true ? { batch: true } : {}),
        ...(ownerId === undefined ? {} : { ownerId }),
        ttl,
      },
      ReturnValues: "ALL_OLD",
    }),
  );
  // A repeat subscribe replaced its own subscription: it was counted already.
  if (Attributes !== undefined) await countSubscriptions(tenantId, -1);
}

/**
 * Moves the tenant's count of subscriptions. `expiresAt` is the latest subscription's TTL: once it has
 * passed, every subscription counted has expired, even those whose $disconnect never came.
 */
async function countSubscriptions(tenantId: string, by: 1 | -1, expiresAt?: number): Promise<void> {
  await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.liveSubscriptions(tenantId),
      UpdateExpression: `ADD #n :by${expiresAt === undefined ? "" : " SET expiresAt = :at"}`,
      ExpressionAttributeNames: { "#n": "n" },
      ExpressionAttributeValues: { ":by": by, ...(expiresAt === undefined ? {} : { ":at": expiresAt }) },
    }),
  );
}

/** Deletes a subscription item, and uncounts it when it was there. */
async function deleteSubscription(tenantId: string, pk: string, connectionId: string): Promise<void> {
  const { Attributes } = await dynamo().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: keys.subscription(pk, connectionId),
      ReturnValues: "ALL_OLD",
    }),
  );
  if (Attributes !== undefined) await countSubscriptions(tenantId, -1);
}

/**
 * Whether any connection of the tenant may be subscribed to anything. Read consistently after the write
 * being published, and a subscription is counted before its replay reads the job, so an event that
 * the replay does not carry is always published to a subscriber counted here.
 */
export async function hasSubscribers(tenantId: string): Promise<boolean> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.liveSubscriptions(tenantId), ConsistentRead: true }),
  );
  if (Item === undefined) return false;
  return Number(Item.n ?? 0) > 0 && Number(Item.expiresAt ?? 0) >= epochSeconds();
}

export async function removeSubscription(tenantId: string, connectionId: string, target: SubscriptionTarget) {
  const pk = subscribersPk(tenantId, target);
  await deleteSubscription(tenantId, pk, connectionId);
  // Give the slot back: DynamoDB removes list entries by position, so find it and remove it only if that
  // position still holds it (a concurrent change makes the condition fail, and the next read tries again).
  for (let attempt = 0; attempt < 3; attempt++) {
    const { Item } = await dynamo().send(
      new GetCommand({
        TableName: tableName(),
        Key: keys.connection(tenantId, connectionId),
        ProjectionExpression: "subscriptions",
        ConsistentRead: true,
      }),
    );
    const index = ((Item?.subscriptions as string[] | undefined) ?? []).indexOf(pk);
    if (index < 0) return;
    try {
      await dynamo().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: keys.connection(tenantId, connectionId),
          UpdateExpression: `REMOVE subscriptions[${index}]`,
          ConditionExpression: `subscriptions[${index}] = :pk`,
          ExpressionAttributeValues: { ":pk": pk },
        }),
      );
      return;
    } catch (error) {
      if ((error as Error).name !== "ConditionalCheckFailedException") throw error;
    }
  }
}

export async function deleteConnection(tenantId: string, connectionId: string): Promise<void> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.connection(tenantId, connectionId) }),
  );
  const subscriptions = (Item?.subscriptions as string[] | undefined) ?? [];
  await Promise.all(subscriptions.map((pk) => deleteSubscription(tenantId, pk, connectionId)));
  await dynamo().send(
    new DeleteCommand({ TableName: tableName(), Key: keys.connection(tenantId, connectionId) }),
  );
}

export interface Subscriber {
  connectionId: string;
  /** Send only events after this sequence number (earlier ones were replayed). */
  fromSeq: number;
  /** The client takes several events per frame. */
  batch: boolean;
  /** Send only events of jobs this principal created: an `all` subscription under owner-only access. */
  ownerId?: string;
}

/**
 * Connections subscribed to this job, or to every job of its tenant. Read consistently, so a subscription
 * stored before an event was written is always found for it.
 */
export async function subscribersOf(tenantId: string, jobId: string): Promise<Subscriber[]> {
  // The job's own subscribers first: their access was checked when they subscribed, so a connection that
  // holds both kinds is not restricted by its tenant-wide one.
  const partitions = [keys.jobSubscribers(tenantId, jobId), keys.tenantSubscribers(tenantId)];
  const found = new Map<string, number>();
  const batched = new Map<string, boolean>();
  const owners = new Map<string, string | undefined>();
  const now = epochSeconds();
  for (const pk of partitions) {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamo().send(
        new QueryCommand({
          TableName: tableName(),
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pk },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        // TTL deletion lags by up to days; an expired subscription is treated as gone.
        if (typeof item.ttl === "number" && item.ttl < now) continue;
        const id = String(item.connectionId);
        const fromSeq = typeof item.fromSeq === "number" ? item.fromSeq : 0;
        // Subscribed both to the job and to the tenant: the tenant-wide subscription sends everything.
        found.set(id, Math.min(found.get(id) ?? fromSeq, fromSeq));
        // Batch frames only when every subscription of the connection asked for them.
        batched.set(id, (batched.get(id) ?? true) && item.batch === true);
        const ownerId = typeof item.ownerId === "string" ? item.ownerId : undefined;
        // Restricted only when every subscription of the connection that matched is restricted.
        owners.set(id, owners.has(id) ? owners.get(id) && ownerId : ownerId);
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
  }
  return [...found].map(([connectionId, fromSeq]) => ({
    connectionId,
    fromSeq,
    batch: batched.get(connectionId) === true,
    ...(owners.get(connectionId) === undefined ? {} : { ownerId: owners.get(connectionId) }),
  }));
}
