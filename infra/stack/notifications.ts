import { CfnOutput } from "aws-cdk-lib";
import { Alias } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import type { Settings } from "./settings.ts";

/**
 * The stage's notifications topic: every approval request, review notice and failed job is published
 * here as well as to the tenants' webhooks. People subscribe by e-mail (or a queue, or a chat bridge),
 * and a subscription filter policy on the `type` and `tenantId` attributes picks what each one gets.
 */
export class Notifications extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: { settings: Settings }) {
    super(scope, id);
    this.topic = new Topic(this, "Topic", {
      displayName: `Switchboard ${props.settings.stage} notifications`,
      // SNS-managed key: only the functions publish, and they need no key grant for it.
      masterKey: Alias.fromAliasName(this, "SnsKey", "alias/aws/sns"),
      enforceSSL: true,
    });
    new CfnOutput(scope, "NotificationsTopicArn", {
      value: this.topic.topicArn,
      description:
        "Subscribe to approval requests, review notices and failed jobs (aws sns subscribe --protocol email)",
    });
  }
}
