import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws.ts";
import { numberEnv } from "../config.ts";
import { tableName } from "../db.ts";
import { isConditionalCheckFailed } from "../errors.ts";

/** Open WebSocket connections one tenant may hold at once. */
export const MAX_CONNECTIONS_PER_TENANT = numberEnv("MAX_CONNECTIONS_PER_TENANT", 200);
/** API Gateway ends every WebSocket after two hours, so an older slot is one whose $disconnect was lost. */
const SLOT_LIFETIME_MS = 2 * 3600_000;

const slotsKey = (tenantId: string) => ({ pk: `T#${tenantId}#CONNSLOTS`, sk: "CONNSLOTS" });

interface Slots {
  /** connectionId → connectedAt (epoch ms). */
  held: Record<string, number>;
  version: number;
}

async function readSlots(tenantId: string): Promise<Slots> {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: slotsKey(tenantId), ConsistentRead: true }),
  );
  return { held: (Item?.held as Record<string, number>) ?? {}, version: Number(Item?.version ?? 0) };
}

/** One optimistic write of the tenant's slot item; false when another connect or disconnect got there first. */
async function writeSlots(tenantId: string, slots: Slots, held: Record<string, number>): Promise<boolean> {
  try {
    await dynamo().send(
      new PutCommand({
        TableName: tableName(),
        Item: { ...slotsKey(tenantId), type: "connectionSlots", held, version: slots.version + 1 },
        ConditionExpression: slots.version === 0 ? "attribute_not_exists(pk)" : "version = :v",
        ...(slots.version === 0 ? {} : { ExpressionAttributeValues: { ":v": slots.version } }),
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalCheckFailed(error)) return false;
    throw error;
  }
}

/**
 * Takes one of the tenant's connection slots for `connectionId`; false when all are held. One item per tenant
 * holds the live connections with when they opened, so a slot whose $disconnect never came frees itself after
 * the two hours no WebSocket outlives.
 */
export async function claimConnectionSlot(
  tenantId: string,
  connectionId: string,
  now = Date.now(),
): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const slots = await readSlots(tenantId);
    const held = Object.fromEntries(
      Object.entries(slots.held).filter(([, at]) => now - at < SLOT_LIFETIME_MS),
    );
    if (held[connectionId] === undefined && Object.keys(held).length >= MAX_CONNECTIONS_PER_TENANT) {
      return false;
    }
    held[connectionId] = now;
    if (await writeSlots(tenantId, slots, held)) return true;
  }
  throw new Error("Could not take a connection slot: too much contention");
}

export async function releaseConnectionSlot(tenantId: string, connectionId: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const slots = await readSlots(tenantId);
    if (slots.held[connectionId] === undefined) return;
    const { [connectionId]: _, ...held } = slots.held;
    if (await writeSlots(tenantId, slots, held)) return;
  }
  throw new Error("Could not release a connection slot: too much contention");
}
