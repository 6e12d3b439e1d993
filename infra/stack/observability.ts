/**
 * One CloudWatch dashboard and the alarms an operator must hear about, all sent to one encrypted SNS topic.
 */
import { Duration } from "aws-cdk-lib";
import type { RestApi } from "aws-cdk-lib/aws-apigateway";
import type { WebSocketApi } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { FunctionName } from "#infra/manifest";
import { deadLetterQueue } from "./dead-letter-queue.ts";
import { type Functions, functionNames, pascal } from "./functions.ts";
import type { StreamConsumer } from "./jobs.ts";
import type { Settings } from "./settings.ts";

/** A step message older than this has waited far longer than any worker batch takes. */
export const oldestMessageAlarmSeconds = 300;
/**
 * The EMF metric the DLQ consumer records per dead letter (functions/queues/steps-dlq.ts), in the
 * namespace the functions' POWERTOOLS_METRICS_NAMESPACE names, with Powertools' `service` dimension.
 */
export const deadLetterMetric = { namespace: "Switchboard", name: "DeadLetters" } as const;

/** Fanout lag that users would notice as a frozen dashboard. */
export const iteratorAgeAlarmMs = 60_000;

export interface ObservabilityProps {
  settings: Settings;
  functions: Functions;
  restApi: RestApi;
  webSocketApi: WebSocketApi;
  /** `dlqConsumer` names the function that drains the DLQ, if one does. */
  queues: readonly { name: string; queue: Queue; dlq: Queue; dlqConsumer?: FunctionName }[];
  streams: readonly StreamConsumer[];
  /** Queues of last resort (async and stream failures): any message there needs a person. */
  parked: readonly { name: string; queue: Queue }[];
}

export class Observability extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { settings, functions, restApi, webSocketApi, queues, streams, parked } = props;

    // CloudWatch can only publish to an encrypted topic through a customer managed key that lets it.
    const key = new Key(this, "AlarmTopicKey", {
      description: "Switchboard alarm topic encryption",
      enableKeyRotation: true,
      removalPolicy: settings.dataRemovalPolicy,
    });
    key.grant(new ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey");
    this.topic = new Topic(this, "AlarmTopic", {
      displayName: `Switchboard ${settings.stage} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (settings.alarmEmail !== undefined) {
      const undelivered = deadLetterQueue(this, "UndeliveredAlarms", {
        holds: "alarm notifications SNS could not deliver to the e-mail subscription",
      });
      this.topic.addSubscription(
        new EmailSubscription(settings.alarmEmail, { deadLetterQueue: undelivered }),
      );
    }
    const action = new SnsAction(this.topic);

    const alarm = (alarmId: string, metric: IMetric, threshold: number, description: string) => {
      const a = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    for (const { name, queue, dlq, dlqConsumer } of queues) {
      const Name = pascal(name);
      if (dlqConsumer !== undefined) {
        // The DLQ consumer empties its queue within seconds, so depth would almost never be seen; the
        // metric it emits for every dead letter it records is. SQS's NumberOfMessagesSent does not count
        // messages moved by a redrive policy, so it cannot stand in.
        alarm(
          `${Name}DeadLetters`,
          new Metric({
            namespace: deadLetterMetric.namespace,
            metricName: deadLetterMetric.name,
            dimensionsMap: { service: dlqConsumer },
            statistic: "Sum",
            period: minute,
          }),
          1,
          `Steps of ${name} failed every delivery and were dead-lettered. See GET /v1/system/dlq, then redrive.`,
        );
      } else {
        alarm(
          `${Name}DlqDepth`,
          dlq.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: "Maximum" }),
          1,
          `Messages in the ${name} DLQ: steps failed every delivery. See GET /v1/system/dlq, then redrive.`,
        );
      }
      alarm(
        `${Name}OldestMessage`,
        queue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: "Maximum" }),
        oldestMessageAlarmSeconds,
        `The oldest ${name} message waited ${oldestMessageAlarmSeconds} s: workers are not keeping up or not running.`,
      );
    }
    for (const { name, queue } of parked) {
      alarm(
        `${pascal(name)}Depth`,
        queue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: "Maximum" }),
        1,
        `Messages in ${name}: invocations or stream batches were given up on.`,
      );
    }
    for (const name of functionNames) {
      const fn = functions.get(name);
      const Name = pascal(name);
      alarm(
        `${Name}Errors`,
        fn.metricErrors({ period: fiveMinutes, statistic: "Sum" }),
        1,
        `The ${name} function threw.`,
      );
      alarm(
        `${Name}Throttles`,
        fn.metricThrottles({ period: fiveMinutes, statistic: "Sum" }),
        1,
        `The ${name} function was throttled: account concurrency or a mapping's maxConcurrency is too low.`,
      );
    }
    const iteratorAge = (name: FunctionName) =>
      new Metric({
        namespace: "AWS/Lambda",
        metricName: "IteratorAge",
        dimensionsMap: { FunctionName: functions.get(name).functionName },
        statistic: "Maximum",
        period: minute,
      });
    for (const { spec } of streams) {
      alarm(
        `${pascal(spec.function)}IteratorAge`,
        iteratorAge(spec.function),
        iteratorAgeAlarmMs,
        `The ${spec.function} stream consumer is more than ${iteratorAgeAlarmMs / 1000} s behind the table.`,
      );
    }
    alarm(
      "Api5xx",
      restApi.metricServerError({ period: fiveMinutes, statistic: "Sum" }),
      5,
      "The REST API answered 5xx at least five times in five minutes.",
    );

    const fns = functionNames.map((n) => functions.get(n));
    const perFunction = (metric: (fn: (typeof fns)[number]) => IMetric) => fns.map(metric);
    const ws = (metricName: string) =>
      new Metric({
        namespace: "AWS/ApiGateway",
        metricName,
        dimensionsMap: { ApiId: webSocketApi.apiId },
        statistic: "Sum",
      });

    this.dashboard = new Dashboard(this, "Dashboard", { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new TextWidget({ markdown: `# Switchboard ${settings.stage}`, width: 24, height: 1 }),
      new AlarmStatusWidget({ title: "Alarms", alarms: this.alarms, width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "REST requests and errors",
        left: [restApi.metricCount({ statistic: "Sum" })],
        right: [
          restApi.metricClientError({ statistic: "Sum" }),
          restApi.metricServerError({ statistic: "Sum" }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: "REST latency (ms)",
        left: ["p50", "p90", "p99"].map((statistic) => restApi.metricLatency({ statistic })),
        width: 8,
      }),
      new GraphWidget({
        title: "WebSocket",
        left: [ws("ConnectCount"), ws("MessageCount")],
        right: [ws("ClientError"), ws("IntegrationError"), ws("ExecutionError")],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Queue depth",
        left: queues.map(({ queue }) =>
          queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" }),
        ),
        right: queues.map(({ queue }) =>
          queue.metricApproximateNumberOfMessagesNotVisible({ statistic: "Maximum" }),
        ),
        width: 8,
      }),
      new GraphWidget({
        title: "Oldest message (s)",
        left: queues.map(({ queue }) => queue.metricApproximateAgeOfOldestMessage({ statistic: "Maximum" })),
        width: 8,
      }),
      new GraphWidget({
        title: "Parked messages (DLQs and failure queues)",
        left: [
          ...queues.map(({ dlq }) => dlq.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" })),
          ...parked.map(({ queue }) =>
            queue.metricApproximateNumberOfMessagesVisible({ statistic: "Maximum" }),
          ),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Function errors",
        left: perFunction((fn) => fn.metricErrors({ statistic: "Sum" })),
        width: 8,
      }),
      new GraphWidget({
        title: "Function throttles",
        left: perFunction((fn) => fn.metricThrottles({ statistic: "Sum" })),
        width: 8,
      }),
      new GraphWidget({
        title: "Function duration p99 (ms)",
        left: perFunction((fn) => fn.metricDuration({ statistic: "p99" })),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Stream iterator age (ms)",
        left: streams.map(({ spec }) => iteratorAge(spec.function)),
        width: 12,
      }),
      new GraphWidget({
        title: "Concurrent executions",
        left: [
          new MathExpression({
            expression: "SUM(METRICS())",
            label: "all functions",
            usingMetrics: Object.fromEntries(
              fns.map((fn, i) => [
                `c${i}`,
                new Metric({
                  namespace: "AWS/Lambda",
                  metricName: "ConcurrentExecutions",
                  dimensionsMap: { FunctionName: fn.functionName },
                  statistic: "Maximum",
                }),
              ]),
            ),
          }),
        ],
        width: 12,
      }),
    );
  }
}
