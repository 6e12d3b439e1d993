import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type {
  DeliveryStatus,
  NotificationDelivery,
  NotificationEventType,
  NotificationTarget,
} from "#events/notifications";
import { dynamo } from "../aws.ts";
import { epochSeconds, tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import type { SealedSecret } from "../secrets/envelope.ts";
import { fillPage, startKey } from "./page.ts";

/** Deliveries are kept this long for the listing, then expire. */
export const DELIVERY_TTL_SECONDS = 30 * 24 * 3600;

/**
 * Targets live in the tenant's partition (`NT#<id>`): a tenant has few, and the stream consumer reads them
 * all with one key-condition query. Each target's deliveries get a partition of their own, newest last.
 */
export const notificationKeys = {
  target: (tenantId: string, targetId: string) => ({ pk: `T#${tenantId}`, sk: `NT#${targetId}` }),
  targetsPk: (tenantId: string) => `T#${tenantId}`,
  deliveriesPk: (tenantId: string, targetId: string) => `T#${tenantId}#NT#${targetId}`,
  delivery: (tenantId: string, targetId: string, deliveryId: string) => ({
    pk: `T#${tenantId}#NT#${targetId}`,
    sk: `D#${deliveryId}`,
  }),
};

export interface StoredTarget extends NotificationTarget {
  tenantId: string;
  secret: SealedSecret;
}

const TARGET_FIELDS = ["id", "url", "events", "description", "createdAt", "createdBy"] as const;

export function publicTarget(target: StoredTarget): NotificationTarget {
  const shown: Record<string, unknown> = { type: target.type };
  for (const field of TARGET_FIELDS) if (target[field] !== undefined) shown[field] = target[field];
  return shown as NotificationTarget;
}

function toTarget(item: Record<string, unknown>): StoredTarget {
  const fields = Object.fromEntries(
    TARGET_FIELDS.map((f) => [f, item[f]]).filter(([, v]) => v !== undefined),
  );
  return {
    ...(fields as Omit<NotificationTarget, "type">),
    type: "webhook",
    tenantId: String(item.tenantId),
    secret: item.secret as SealedSecret,
  };
}

export async function putTarget(target: StoredTarget): Promise<void> {
  await dynamo().send(
    new PutCommand({
      TableName: tableName(),
      // `type` on an item is its kind, as everywhere in the table; the target's own type is `targetType`.
      Item: {
        ...notificationKeys.target(target.tenantId, target.id),
        ...target,
        type: "notificationTarget",
        targetType: target.type,
      },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
}

export async function getTarget(tenantId: string, targetId: string): Promise<StoredTarget | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: notificationKeys.target(tenantId, targetId) }),
  );
  return Item === undefined ? undefined : toTarget(Item);
}

/** True when there was a target to delete. Its deliveries expire by their TTL. */
export async function deleteTarget(tenantId: string, targetId: string): Promise<boolean> {
  try {
    await dynamo().send(
      new DeleteCommand({
        TableName: tableName(),
        Key: notificationKeys.target(tenantId, targetId),
        ConditionExpression: "attribute_exists(pk)",
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

export async function listTargets(
  tenantId: string,
  options: { cursor?: string | undefined; limit: number },
): Promise<{ items: StoredTarget[]; cursor?: string }> {
  const pk = notificationKeys.targetsPk(tenantId);
  const page = await fillPage(
    {
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "NT#" },
      ScanIndexForward: false,
    },
    { limit: options.limit, start: startKey(options.cursor, "pk", pk), keyAttributes: ["pk", "sk"] },
  );
  return { ...page, items: page.items.map(toTarget) };
}

/** Every target of the tenant that wants this event: read consistently, so a target just made counts. */
export async function targetsFor(tenantId: string, type: NotificationEventType): Promise<StoredTarget[]> {
  const targets: StoredTarget[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": notificationKeys.targetsPk(tenantId), ":prefix": "NT#" },
        ConsistentRead: true,
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const target = toTarget(item);
      if (target.events.includes(type)) targets.push(target);
    }
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return targets;
}

export interface StoredDelivery extends NotificationDelivery {
  tenantId: string;
  /** The exact body sent on every attempt, so the signature and the receiver's dedupe stay the same. */
  body: string;
}

const DELIVERY_FIELDS = [
  "id",
  "targetId",
  "jobId",
  "status",
  "attempts",
  "lastStatusCode",
  "lastError",
  "nextAttemptAt",
  "createdAt",
  "updatedAt",
  "deliveredAt",
] as const;

export function publicDelivery(item: Record<string, unknown>): NotificationDelivery {
  const shown: Record<string, unknown> = { type: item.eventType };
  for (const field of DELIVERY_FIELDS) if (item[field] !== undefined) shown[field] = item[field];
  return shown as NotificationDelivery;
}

/** Records a delivery once; false when it already exists (the stream handed the same event over again). */
export async function insertDelivery(delivery: StoredDelivery, now = new Date()): Promise<boolean> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...notificationKeys.delivery(delivery.tenantId, delivery.targetId, delivery.id),
          ...delivery,
          type: "notificationDelivery",
          eventType: delivery.type,
          ttl: epochSeconds(now) + DELIVERY_TTL_SECONDS,
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

export async function getDelivery(
  tenantId: string,
  targetId: string,
  deliveryId: string,
): Promise<StoredDelivery | undefined> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: notificationKeys.delivery(tenantId, targetId, deliveryId),
      ConsistentRead: true,
    }),
  );
  if (Item === undefined) return undefined;
  return { ...publicDelivery(Item), tenantId: String(Item.tenantId), body: String(Item.body) };
}

/**
 * Records one attempt's outcome, conditioned on the attempt count it started from: of two workers holding
 * the same message, only one records, and the other stops.
 */
export async function recordAttempt(
  delivery: Pick<StoredDelivery, "tenantId" | "targetId" | "id" | "attempts">,
  outcome: {
    status: DeliveryStatus;
    lastStatusCode?: number | undefined;
    lastError?: string | undefined;
    nextAttemptAt?: string | undefined;
    at: string;
  },
): Promise<boolean> {
  const sets = ["#status = :status", "attempts = :next", "updatedAt = :at"];
  const removes: string[] = [];
  const values: Record<string, unknown> = {
    ":status": outcome.status,
    ":next": delivery.attempts + 1,
    ":seen": delivery.attempts,
    ":at": outcome.at,
    ":pending": "pending",
  };
  for (const field of ["lastStatusCode", "lastError", "nextAttemptAt"] as const) {
    if (outcome[field] === undefined) removes.push(field);
    else {
      sets.push(`${field} = :${field}`);
      values[`:${field}`] = outcome[field];
    }
  }
  if (outcome.status === "delivered") sets.push("deliveredAt = :at");
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: notificationKeys.delivery(delivery.tenantId, delivery.targetId, delivery.id),
        UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
        ConditionExpression: "attempts = :seen AND #status = :pending",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

export async function listDeliveries(
  tenantId: string,
  targetId: string,
  options: { cursor?: string | undefined; limit: number },
): Promise<{ items: NotificationDelivery[]; cursor?: string }> {
  const pk = notificationKeys.deliveriesPk(tenantId, targetId);
  const page = await fillPage(
    {
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "D#" },
      ScanIndexForward: false,
      ConsistentRead: true,
    },
    { limit: options.limit, start: startKey(options.cursor, "pk", pk), keyAttributes: ["pk", "sk"] },
  );
  return { ...page, items: page.items.map(publicDelivery) };
}
