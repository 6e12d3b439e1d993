import type { SNSClient } from "@aws-sdk/client-sns";
import type { Notification } from "#events/notifications";
import { ENV, requireEnv } from "../config.ts";

let sns: Promise<{ client: SNSClient; PublishCommand: typeof import("@aws-sdk/client-sns").PublishCommand }>;

/**
 * Default configuration: the endpoint comes from `AWS_ENDPOINT_URL_SNS` locally. Loaded on first publish,
 * so the api function (which queues test deliveries but never publishes) does not load the SNS client.
 */
function snsClient() {
  sns ??= import("@aws-sdk/client-sns").then(({ SNSClient, PublishCommand }) => ({
    client: new SNSClient({}),
    PublishCommand,
  }));
  return sns;
}

/**
 * Every notification also goes to the stage's SNS topic, which people subscribe to by e-mail (or a queue or
 * chat bridge). The `type` and `tenantId` attributes let a subscription's filter policy pick what it wants.
 */
export async function publishToTopic(notification: Notification): Promise<void> {
  const { client, PublishCommand } = await snsClient();
  await client.send(
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
