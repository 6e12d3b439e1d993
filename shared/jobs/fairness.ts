import { QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { numberEnv } from "../config.ts";
import { tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";
import { keys } from "../keys.ts";

/**
 * Fairness between tenants: each may have at most this many Lambda steps running at once (0 turns the limit
 * off). Steps over the limit go back to the queue for a few seconds, so one tenant's burst cannot take every
 * worker while another tenant's steps wait behind it.
 */
export const tenantRunningLimit = () => numberEnv("TENANT_MAX_RUNNING_STEPS", 25);

export interface RunSlot {
  tenantId: string;
  slot: number;
  holder: string;
}

/**
 * Takes one of the tenant's running-step slots for `holder` until `leaseSeconds` from now. Slots are leases,
 * not a counter: a worker that dies holding one loses it when the lease runs out, so nothing can leak, and
 * no two claims write the same item unless they picked the same free slot.
 * Returns undefined when every slot is taken.
 */
export async function acquireRunSlot(
  tenantId: string,
  holder: string,
  leaseSeconds: number,
  now = new Date(),
): Promise<RunSlot | undefined | "unlimited"> {
  const limit = tenantRunningLimit();
  if (limit <= 0) return "unlimited";
  for (let attempt = 0; attempt < 3; attempt++) {
    const { Items = [] } = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": keys.runSlots(tenantId) },
        ConsistentRead: true,
      }),
    );
    const held = new Set(
      Items.filter(
        (item) => typeof item.holder === "string" && String(item.leaseUntil) > now.toISOString(),
      ).map((item) => Number(String(item.sk).slice("SLOT#".length))),
    );
    const free = Array.from({ length: limit }, (_, slot) => slot).filter((slot) => !held.has(slot));
    if (free.length === 0) return undefined;
    const slot = free[Math.floor(Math.random() * free.length)] as number;
    try {
      await dynamo().send(
        new UpdateCommand({
          TableName: tableName(),
          Key: keys.runSlot(tenantId, slot),
          UpdateExpression: "SET holder = :holder, leaseUntil = :lease, #type = :type",
          ConditionExpression: "attribute_not_exists(holder) OR leaseUntil <= :now",
          ExpressionAttributeNames: { "#type": "type" },
          ExpressionAttributeValues: {
            ":holder": holder,
            ":lease": new Date(now.getTime() + leaseSeconds * 1000).toISOString(),
            ":now": now.toISOString(),
            ":type": "runSlot",
          },
        }),
      );
      return { tenantId, slot, holder };
    } catch (error) {
      // Another claim took the same slot first: look again.
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
  return undefined;
}

/** Gives a slot back. A slot whose lease ran out and was taken by someone else is left alone. */
export async function releaseRunSlot(slot: RunSlot | "unlimited" | undefined): Promise<void> {
  if (slot === undefined || slot === "unlimited") return;
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: keys.runSlot(slot.tenantId, slot.slot),
        UpdateExpression: "REMOVE holder, leaseUntil",
        ConditionExpression: "holder = :holder",
        ExpressionAttributeValues: { ":holder": slot.holder },
      }),
    );
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}
