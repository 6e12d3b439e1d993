import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { TimelineEvent } from "#events/timeline";
import { subscribersAllowed } from "./auth/ownership.ts";
import { logger } from "./observability.ts";
import { sendToConnection } from "./sockets.ts";
import { deleteConnection, subscribersOf } from "./stores/connections.ts";

/** Sends one inserted timeline event to every connection subscribed to its job or its tenant. */
export async function publishEvent(record: DynamoDBRecord): Promise<number> {
  const image = record.dynamodb?.NewImage;
  if (record.eventName !== "INSERT" || image === undefined) return 0;
  const item = unmarshall(image as Record<string, AttributeValue>);
  if (item.type !== "event") return 0;
  const parsed = TimelineEvent.safeParse(item.event);
  if (!parsed.success) {
    logger.error("Timeline event does not match its schema; not sent", { pk: item.pk, sk: item.sk });
    return 0;
  }
  const tenantId = String(item.tenantId);
  const subscribers = await subscribersAllowed(
    tenantId,
    parsed.data.jobId,
    await subscribersOf(tenantId, parsed.data.jobId),
  );
  let sent = 0;
  await Promise.all(
    subscribers.map(async ({ connectionId, fromSeq }) => {
      if (parsed.data.seq <= fromSeq) return;
      if ((await sendToConnection(connectionId, parsed.data)) === "sent") sent++;
      else await deleteConnection(tenantId, connectionId);
    }),
  );
  return sent;
}
