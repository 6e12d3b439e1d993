import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Limits, ScopeLimits } from "#events/limits";
import { dynamo } from "../aws.ts";
import { epochSeconds, nowIso, tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import { usageKeys } from "../stores/usage.ts";

/**
 * The limits and their counters, in the tenant's usage partition: the limits (`LIMITS`), one item per
 * scope and minute window (`W#<scope>#<window>`, gone an hour later by TTL), and what each job has spent
 * or reserved (`JB#<job>`, and `JB#<job>#<agent>` per agent), kept as long as usage is.
 */
const limitsSk = "LIMITS";
export const windowSk = (scope: string, window: string) => `W#${scope}#${window}`;
export const jobSk = (jobId: string, agentId?: string) =>
  agentId === undefined ? `JB#${jobId}` : `JB#${jobId}#${agentId}`;
const WINDOW_TTL_SECONDS = 3600;

function scopeOf(item: Record<string, unknown> | undefined): ScopeLimits {
  return {
    ...(typeof item?.tokensPerMinute === "number" ? { tokensPerMinute: item.tokensPerMinute } : {}),
    ...(typeof item?.jobUsd === "number" ? { jobUsd: item.jobUsd } : {}),
  };
}

export async function getLimits(tenantId: string): Promise<Limits> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: { pk: usageKeys.pk(tenantId), sk: limitsSk } }),
  );
  const agents = (Item?.agents ?? {}) as Record<string, Record<string, unknown>>;
  return {
    ...scopeOf(Item),
    agents: Object.entries(agents)
      .map(([agentId, value]) => ({ agentId, agent: String(value.agent ?? agentId), ...scopeOf(value) }))
      .filter((agent) => agent.tokensPerMinute !== undefined || agent.jobUsd !== undefined)
      .sort((a, b) => a.agent.localeCompare(b.agent)),
    ...(typeof Item?.updatedAt === "string" ? { updatedAt: Item.updatedAt } : {}),
  };
}

/** Replaces the limits item; the caller merged the change into what it read, conditioned on that read. */
export async function writeLimits(
  tenantId: string,
  limits: Limits,
  seen: string | undefined,
): Promise<boolean> {
  const { agents, updatedAt: _updatedAt, ...tenant } = limits;
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          pk: usageKeys.pk(tenantId),
          sk: limitsSk,
          type: "limits",
          tenantId,
          ...tenant,
          agents: Object.fromEntries(agents.map(({ agentId, ...rest }) => [agentId, rest])),
          updatedAt: nowIso(),
        },
        ...(seen === undefined
          ? { ConditionExpression: "attribute_not_exists(pk)" }
          : { ConditionExpression: "updatedAt = :seen", ExpressionAttributeValues: { ":seen": seen } }),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/**
 * Adds `amount` to a counter only if the counter then stays within `limit` (or, with `whenEmpty`, if it
 * was empty): one conditional write, so concurrent reservations cannot pass the limit together. Returns
 * the counter's new value, or undefined when it had no room.
 */
export async function reserve(
  tenantId: string,
  sk: string,
  field: "tokens" | "usd",
  amount: number,
  limit: number,
  options: { whenEmpty: boolean; ttl?: number },
): Promise<number | undefined> {
  try {
    const { Attributes } = await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: usageKeys.pk(tenantId), sk },
        UpdateExpression: `ADD #field :amount SET #type = :type, tenantId = :tenant${options.ttl === undefined ? "" : ", #ttl = :ttl"}`,
        ConditionExpression: `attribute_not_exists(#field) OR #field <= :room${options.whenEmpty ? " OR #field <= :zero" : ""}`,
        ExpressionAttributeNames: {
          "#field": field,
          "#type": "type",
          ...(options.ttl === undefined ? {} : { "#ttl": "ttl" }),
        },
        ExpressionAttributeValues: {
          ":amount": amount,
          ":room": limit - amount,
          ":type": "limitCounter",
          ":tenant": tenantId,
          ...(options.whenEmpty ? { ":zero": 0 } : {}),
          ...(options.ttl === undefined ? {} : { ":ttl": options.ttl }),
        },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(Attributes?.[field] ?? amount);
  } catch (error) {
    if (isConditionalCheckFailed(error)) return undefined;
    throw error;
  }
}

/** Adds to a counter without a condition: a settlement (actual minus estimate) or a release (minus the reservation). */
export async function adjust(
  tenantId: string,
  sk: string,
  field: "tokens" | "usd",
  amount: number,
): Promise<void> {
  if (amount === 0) return;
  await dynamo().send(
    new UpdateCommand({
      TableName: tableName(),
      Key: { pk: usageKeys.pk(tenantId), sk },
      UpdateExpression: "ADD #field :amount",
      ExpressionAttributeNames: { "#field": field },
      ExpressionAttributeValues: { ":amount": amount },
    }),
  );
}

export const windowTtl = (now: Date) => epochSeconds(now) + WINDOW_TTL_SECONDS;

/** A counter's value, read consistently. */
export async function counterValue(tenantId: string, sk: string, field: "tokens" | "usd"): Promise<number> {
  const { Item } = await dynamo().send(
    new GetCommand({
      TableName: tableName(),
      Key: { pk: usageKeys.pk(tenantId), sk },
      ConsistentRead: true,
    }),
  );
  return Number(Item?.[field] ?? 0);
}
