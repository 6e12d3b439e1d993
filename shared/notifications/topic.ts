import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import type { Notification } from "#events/notifications";
import { ENV, requireEnv } from "../config.ts";

let sns: SNSClient | undefined;

/** Default configuration: the endpoint comes from `AWS_ENDPOINT_URL_SNS` locally. */
function snsClient(): SNSClient {
  sns ??= new SNSClient({});
  return sns;
}

/**
 * Every notification also goes to the stage's SNS topic, which people subscribe to by e-mail (or a queue or
 * chat bridge). The `type` and `tenantId` attributes let a subscription's filter policy pick what it wants.
 */
export async function publishToTopic(notification: Notification): Promise<void> {
  await snsClient().send(
    new PublishCommand({
      TopicArn: requireEnv(ENV.notificationsTopicArn),
      Subject: `Switchboard ${notification.type} (${notification.tenantId})`.slice(0, 100),
      Message: JSON.stringify(notification, null, 2),
      MessageAttributes: {
        type: { DataType: "String", StringValue: notification.type },
        tenantId: { DataType: "String", StringValue: notification.tenantId },
      },
    }),
  );
}
