import { DeleteCommand, GetCommand, PutCommand, paginateQuery, UpdateCommand } from "@aws-sdk/lib-dynamodb";
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
  await countSubscriptions(tenantId, pk, 1, ttl);
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
  if (Attributes !== undefined) await countSubscriptions(tenantId, pk, -1);
}

/**
 * Moves the tenant's count of subscriptions: `n` in all, and apart by kind, `jobs` for those to one job and
 * `wide` for those to every job. `expiresAt` is the latest subscription's TTL: once it has passed, every
 * subscription counted has expired, even those whose $disconnect never came. When the last one goes, the
 * kinds start over at zero, so a count that held subscriptions from before the kinds were counted (whose
 * kinds no longer add up) is exact again.
 */
async function countSubscriptions(
  tenantId: string,
  subscribersPk: string,
  by: 1 | -1,
  expiresAt?: number,
): Promise<void> {
  const [kind, other] =
    subscribersPk === keys.tenantSubscribers(tenantId) ? ["wide", "jobs"] : ["jobs", "wide"];
  const { Attributes } = await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: keys.liveSubscriptions(tenantId),
      UpdateExpression: `ADD #n :by, #kind :by SET #other = if_not_exists(#other, :zero)${
        expiresAt === undefined ? "" : ", expiresAt = :at"
      }`,
      ExpressionAttributeNames: { "#n": "n", "#kind": kind, "#other": other },
      ExpressionAttributeValues: {
        ":by": by,
        ":zero": 0,
        ...(expiresAt === undefined ? {} : { ":at": expiresAt }),
      },
      ReturnValues: "ALL_NEW",
    }),
  );
  const drifted = Attributes !== undefined && (Attributes.jobs !== 0 || Attributes.wide !== 0);
  if (by === -1 && Number(Attributes?.n) === 0 && drifted) {
    try {
      await dynamo().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: keys.liveSubscriptions(tenantId),
          UpdateExpression: "SET jobs = :zero, wide = :zero",
          // A subscribe in between has counted itself and its kind: then the kinds stay as they are.
          ConditionExpression: "#n = :zero",
          ExpressionAttributeNames: { "#n": "n" },
          ExpressionAttributeValues: { ":zero": 0 },
        }),
      );
    } catch (error) {
      if ((error as Error).name !== "ConditionalCheckFailedException") throw error;
    }
  }
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
  if (Attributes !== undefined) await countSubscriptions(tenantId, pk, -1);
}

/** Which kinds of subscription a tenant holds: to single jobs, to every job. */
export interface Presence {
  jobs: boolean;
  tenant: boolean;
}

const NOBODY: Presence = { jobs: false, tenant: false };

/**
 * Which kinds of subscription the tenant may hold. Read consistently after the write being published, and a
 * subscription is counted before its replay reads the job, so an event that the replay does not carry is
 * always published to a subscriber counted here.
 */
export async function subscriptionPresence(tenantId: string): Promise<Presence> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: keys.liveSubscriptions(tenantId), ConsistentRead: true }),
  );
  const n = Number(Item?.n ?? 0);
  if (Item === undefined || n <= 0 || Number(Item.expiresAt ?? 0) < epochSeconds()) return NOBODY;
  const { jobs, wide } = Item;
  // The kinds add up to `n` unless the count holds subscriptions made before they were counted apart (or one
  // whose removal was counted twice); then either kind may be there.
  if (typeof jobs === "number" && typeof wide === "number" && jobs >= 0 && wide >= 0 && jobs + wide === n) {
    return { jobs: jobs > 0, tenant: wide > 0 };
  }
  return { jobs: true, tenant: true };
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

type SubscriptionItem = Record<string, unknown>;

/** The subscription items under one subscribers partition, read consistently; expired ones are left out. */
async function subscriptionsIn(pk: string): Promise<SubscriptionItem[]> {
  const items: SubscriptionItem[] = [];
  const now = epochSeconds();
  const pages = paginateQuery(
    { client: dynamo() },
    {
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": pk },
      ConsistentRead: true,
    },
  );
  for await (const page of pages) {
    // TTL deletion lags by up to days; an expired subscription is treated as gone.
    items.push(...(page.Items ?? []).filter((item) => !(typeof item.ttl === "number" && item.ttl < now)));
  }
  return items;
}

/** How subscribers are looked up: each read on its own, or shared by the jobs of one stream batch. */
export interface SubscriberReads {
  presence(tenantId: string): Promise<Presence>;
  /** The tenant's subscriptions to every job. */
  tenantWide(tenantId: string): Promise<SubscriptionItem[]>;
}

const tenantWide = (tenantId: string) => subscriptionsIn(keys.tenantSubscribers(tenantId));

export const directReads: SubscriberReads = { presence: subscriptionPresence, tenantWide };

/** One read per tenant, shared by its callers; a failed read is not kept, so the next caller reads again. */
function sharedPerTenant<T>(read: (tenantId: string) => Promise<T>): (tenantId: string) => Promise<T> {
  const known = new Map<string, Promise<T>>();
  return (tenantId) => {
    let result = known.get(tenantId);
    if (result === undefined) {
      result = read(tenantId);
      result.catch(() => known.delete(tenantId));
      known.set(tenantId, result);
    }
    return result;
  };
}

/**
 * Reads shared by the jobs of one stream batch. Start them only once every job of the batch is stored: each
 * is then as late as the one a job would make on its own, so it finds every subscription whose replay
 * missed a stored event (see `subscriptionPresence`).
 */
export function batchReads(): SubscriberReads {
  return { presence: sharedPerTenant(subscriptionPresence), tenantWide: sharedPerTenant(tenantWide) };
}

/**
 * Connections subscribed to this job, or to every job of its tenant. Read consistently, so a subscription
 * stored before an event was written is always found for it. `presence` leaves out the kinds the tenant
 * holds none of.
 */
export async function subscribersOf(
  tenantId: string,
  jobId: string,
  reads: SubscriberReads = directReads,
  presence: Presence = { jobs: true, tenant: true },
): Promise<Subscriber[]> {
  // The job's own subscribers first: their access was checked when they subscribed, so a connection that
  // holds both kinds is not restricted by its tenant-wide one.
  const partitions = await Promise.all([
    presence.jobs ? subscriptionsIn(keys.jobSubscribers(tenantId, jobId)) : [],
    presence.tenant ? reads.tenantWide(tenantId) : [],
  ]);
  const found = new Map<string, number>();
  const batched = new Map<string, boolean>();
  const owners = new Map<string, string | undefined>();
  for (const item of partitions.flat()) {
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
  return [...found].map(([connectionId, fromSeq]) => ({
    connectionId,
    fromSeq,
    batch: batched.get(connectionId) === true,
    ...(owners.get(connectionId) === undefined ? {} : { ownerId: owners.get(connectionId) }),
  }));
}

/**
 * The job's subscribers, looked up only for the kinds of subscription the tenant's count says it holds: while
 * it holds none, one read of the count and no Query.
 */
export async function listeningSubscribers(
  tenantId: string,
  jobId: string,
  reads: SubscriberReads = directReads,
): Promise<Subscriber[]> {
  const presence = await reads.presence(tenantId);
  if (!presence.jobs && !presence.tenant) return [];
  return subscribersOf(tenantId, jobId, reads, presence);
}
