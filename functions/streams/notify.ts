import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import middy from "@middy/core";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { TimelineEvent } from "#events/timeline";
import { notificationOf } from "#shared/notifications/derive";
import { dispatchNotification } from "#shared/notifications/service";
import { logger, publishMetrics, tracer } from "#shared/observability";
import { pageEvents } from "#shared/stores/jobs/timeline";

/** The timeline events a stream record of a timeline page adds: a rewritten page only its new ones. */
function addedEvents(record: DynamoDBStreamEvent["Records"][number]): TimelineEvent[] {
  const image = record.dynamodb?.NewImage;
  if (image === undefined || (record.eventName !== "INSERT" && record.eventName !== "MODIFY")) return [];
  const item = unmarshall(image as Record<string, AttributeValue>);
  if (item.type !== "timelinePage") return [];
  const old = record.dynamodb?.OldImage;
  const before = new Set(
    old === undefined ? [] : pageEvents(unmarshall(old as Record<string, AttributeValue>)).map((e) => e.seq),
  );
  const events: TimelineEvent[] = [];
  for (const raw of pageEvents(item)) {
    const parsed = TimelineEvent.safeParse(raw);
    if (parsed.success && !before.has(parsed.data.seq)) events.push(parsed.data);
  }
  return events;
}

/**
 * Turns the timeline pages the stream consumer stores into notifications: approvals requested, reviews that
 * went on with a notice, failed jobs. A record that fails is reported with every later one, so the retry
 * keeps the order and repeats nothing that a delivery id does not already make idempotent.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  for (const [index, record] of event.Records.entries()) {
    const image = record.dynamodb?.NewImage;
    if (image === undefined) continue;
    const tenantId = String(unmarshall(image as Record<string, AttributeValue>).tenantId);
    try {
      for (const timelineEvent of addedEvents(record)) {
        const notification = notificationOf(tenantId, timelineEvent);
        if (notification !== undefined) await dispatchNotification(notification);
      }
    } catch (error) {
      logger.error("Notification dispatch failed; the record will be retried", {
        sequenceNumber: record.dynamodb?.SequenceNumber,
        error: error as Error,
      });
      return {
        batchItemFailures: event.Records.slice(index).map((r) => ({
          itemIdentifier: r.dynamodb?.SequenceNumber ?? "",
        })),
      };
    }
  }
  return { batchItemFailures: [] };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(publishMetrics());
