import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
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

/**
 * `fromSeq`: the job's sequence number when the subscription was made. Events up to it reach the client by
 * replay, so the fanout sends only later ones live, and a lagging stream cannot put an old event ahead of
 * the replay.
 */
export async function addSubscription(
  tenantId: string,
  connectionId: string,
  target: SubscriptionTarget,
  fromSeq?: number,
  /** A tenant-wide subscription of a caller limited to its own jobs (owner-only access). */
  ownerId?: string,
) {
  const pk = subscribersPk(tenantId, target);
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      Item: {
        ...keys.subscription(pk, connectionId),
        type: "subscription",
        tenantId,
        connectionId,
        ...(fromSeq === undefined ? {} : { fromSeq }),
        ...(ownerId === undefined ? {} : { ownerId }),
        ttl: epochSeconds() + CONNECTION_TTL_SECONDS,
      },
    }),
  );
  // The connection remembers its subscriptions so $disconnect can remove them without a scan.
  await dynamo()
    .send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.connection(tenantId, connectionId),
        UpdateExpression: "SET subscriptions = list_append(if_not_exists(subscriptions, :empty), :pk)",
        ConditionExpression: "attribute_exists(pk) AND NOT contains(subscriptions, :one)",
        ExpressionAttributeValues: { ":empty": [], ":pk": [pk], ":one": pk },
      }),
    )
    .catch((error: Error) => {
      if (error.name !== "ConditionalCheckFailedException") throw error;
    });
}

export async function removeSubscription(tenantId: string, connectionId: string, target: SubscriptionTarget) {
  await dynamo().send(
    new DeleteCommand({
      TableName: tableName(),
      Key: keys.subscription(subscribersPk(tenantId, target), connectionId),
    }),
  );
}

export async function deleteConnection(tenantId: string, connectionId: string): Promise<void> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.connection(tenantId, connectionId) }),
  );
  const subscriptions = (Item?.subscriptions as string[] | undefined) ?? [];
  await Promise.all(
    subscriptions.map((pk) =>
      dynamo().send(new DeleteCommand({ TableName: tableName(), Key: keys.subscription(pk, connectionId) })),
    ),
  );
  await dynamo().send(
    new DeleteCommand({ TableName: tableName(), Key: keys.connection(tenantId, connectionId) }),
  );
}

export interface Subscriber {
  connectionId: string;
  /** Send only events after this sequence number (earlier ones were replayed). */
  fromSeq: number;
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
  const found = new Map<string, Subscriber>();
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
        const ownerId = typeof item.ownerId === "string" ? item.ownerId : undefined;
        const seen = found.get(id);
        // Subscribed both to the job and to the tenant: the tenant-wide subscription sends everything.
        found.set(id, {
          connectionId: id,
          fromSeq: Math.min(seen?.fromSeq ?? fromSeq, fromSeq),
          ...(ownerId !== undefined && (seen === undefined || seen.ownerId !== undefined) ? { ownerId } : {}),
        });
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
  }
  return [...found.values()];
}
