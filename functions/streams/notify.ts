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

/**
 * Turns inserted timeline events into notifications: approvals requested, reviews that went on with a
 * notice, failed jobs. A record that fails is reported with every later one, so the retry keeps the order
 * and repeats nothing that a delivery id does not already make idempotent.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  for (const [index, record] of event.Records.entries()) {
    const image = record.dynamodb?.NewImage;
    if (record.eventName !== "INSERT" || image === undefined) continue;
    const item = unmarshall(image as Record<string, AttributeValue>);
    if (item.type !== "event") continue;
    const parsed = TimelineEvent.safeParse(item.event);
    if (!parsed.success) continue;
    const notification = notificationOf(String(item.tenantId), parsed.data);
    if (notification === undefined) continue;
    try {
      await dispatchNotification(notification);
    } catch (error) {
      logger.error("Notification dispatch failed; the record will be retried", {
        jobId: notification.jobId,
        type: notification.type,
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
