/**
 * Bind helpers: each one sets the environment variable that names a resource and grants exactly the
 * actions that go with it, in one call, so no compute can learn a name without the permission or the
 * other way round. `bindAccess` applies one line of the access table (`access.ts`).
 */
import { Aws, Stack } from "aws-cdk-lib";
import type { WebSocketStage } from "aws-cdk-lib/aws-apigatewayv2";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { type IGrantable, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { IConstruct } from "constructs";
import { manifest, type QueueSpec } from "#infra/manifest";
import { ENV } from "#shared/config";
import { type Access, scheduleEnv } from "./access.ts";
import { allowWildcard } from "./nag.ts";

/** Anything that runs code: a Lambda function or a container. */
export interface Bindable extends IGrantable, IConstruct {
  addEnvironment(name: string, value: string): unknown;
}

const allow = (
  target: Bindable,
  actions: string[],
  resources: string[],
  conditions?: Record<string, unknown>,
) => target.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions, resources, conditions }));

export interface TableBinding {
  table: Table;
  key: IKey;
}

const tableRead = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:ConditionCheckItem",
];
const tableWrite = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
];

/**
 * Item access on the table and on each manifest index by name (no `index/*`), and the table key's use by
 * DynamoDB on the caller's behalf. No Scan: lists are queries on indexes.
 */
export function bindTable(target: Bindable, { table, key }: TableBinding, mode: "r" | "rw"): void {
  target.addEnvironment(ENV.tableName, table.tableName);
  const indexes = manifest.table.indexes.map((i) => `${table.tableArn}/index/${i.name}`);
  allow(target, mode === "rw" ? [...tableRead, ...tableWrite] : tableRead, [table.tableArn, ...indexes]);
  allow(
    target,
    mode === "rw"
      ? [
          "kms:Decrypt",
          "kms:DescribeKey",
          "kms:Encrypt",
          "kms:GenerateDataKey",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
        ]
      : ["kms:Decrypt", "kms:DescribeKey"],
    [key.keyArn],
  );
}

export interface QueueBinding {
  spec: QueueSpec;
  queue: IQueue;
  dlq: IQueue;
}

/** Send to the queue; reading its attributes lets the system status report depth. */
export function bindQueueSend(target: Bindable, { spec, queue }: QueueBinding): void {
  target.addEnvironment(spec.urlEnv, queue.queueUrl);
  allow(target, ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"], [queue.queueArn]);
}

/**
 * Peek at and redrive a DLQ. A message move task needs receive, delete and attributes on the DLQ and send
 * on the queue the messages return to.
 */
export function bindDlqRedrive(target: Bindable, { spec, queue, dlq }: QueueBinding): void {
  target.addEnvironment(spec.dlq.urlEnv, dlq.queueUrl);
  allow(
    target,
    [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
      "sqs:CancelMessageMoveTask",
    ],
    [dlq.queueArn],
  );
  allow(target, ["sqs:SendMessage"], [queue.queueArn]);
}

export function bindSecret(target: Bindable, secret: ISecret, envName: string): void {
  target.addEnvironment(envName, secret.secretArn);
  secret.grantRead(target);
}

/** Envelope encryption of provider credentials: `encrypt` makes data keys, `decrypt` opens them. */
export function bindKey(
  target: Bindable,
  key: IKey,
  envName: string,
  mode: "encrypt" | "decrypt" | "encrypt-decrypt",
): void {
  target.addEnvironment(envName, key.keyArn);
  const encrypt = mode === "decrypt" ? [] : ["kms:GenerateDataKey", "kms:Encrypt"];
  const decrypt = mode === "encrypt" ? [] : ["kms:Decrypt"];
  allow(target, [...encrypt, ...decrypt, "kms:DescribeKey"], [key.keyArn]);
}

export function bindBucket(target: Bindable, bucket: IBucket, envName: string, mode: "r" | "rw"): void {
  target.addEnvironment(envName, bucket.bucketName);
  const objects = bucket.arnForObjects("*");
  allow(target, mode === "rw" ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"], [objects]);
  allowWildcard(target, {
    resource: objects,
    reason:
      "Claim-check payload keys are minted per message at run time, so the grant covers the objects of this one " +
      "bucket, for GetObject/PutObject only.",
  });
}

/** Post to, look up and drop connections of this WebSocket stage only. */
export function bindConnections(target: Bindable, stage: WebSocketStage): void {
  target.addEnvironment(ENV.wsCallbackUrl, stage.callbackUrl);
  stage.grantManagementApiAccess(target);
  const api = Stack.of(stage).formatArn({ service: "execute-api", resource: stage.api.apiId });
  allowWildcard(target, {
    resource: `${api}/${stage.stageName}/*/@connections/*`,
    reason:
      "Connection ids are minted by API Gateway at $connect, so ManageConnections names this API's stage and " +
      "its @connections path; the id and HTTP verb (POST/GET/DELETE) are the only wildcards.",
  });
}

export interface TaskBinding {
  clusterArn: string;
  clusterName: string;
  taskDefinitionArn: string;
  passRoleArns: string[];
  subnetIds: string;
  securityGroupIds: string;
  containerName: string;
  /** Tasks in public subnets need a public IP to reach ECR, CloudWatch Logs and the AWS and model APIs. */
  assignPublicIp: "ENABLED" | "DISABLED";
}

/** `run` starts the step task; both modes may watch and stop tasks, and only on this cluster. */
export function bindTasks(target: Bindable, tasks: TaskBinding, mode: "run" | "stop"): void {
  const onCluster = { ArnEquals: { "ecs:cluster": tasks.clusterArn } };
  target.addEnvironment(ENV.ecsCluster, tasks.clusterArn);
  if (mode === "run") {
    target.addEnvironment(ENV.taskDefinition, tasks.taskDefinitionArn);
    target.addEnvironment(ENV.taskSubnets, tasks.subnetIds);
    target.addEnvironment(ENV.taskSecurityGroups, tasks.securityGroupIds);
    target.addEnvironment(ENV.taskContainerName, tasks.containerName);
    target.addEnvironment(ENV.taskAssignPublicIp, tasks.assignPublicIp);
    allow(target, ["ecs:RunTask"], [tasks.taskDefinitionArn], onCluster);
    allow(target, ["iam:PassRole"], tasks.passRoleArns, {
      StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" },
    });
  }
  const taskArns = Stack.of(target).formatArn({
    service: "ecs",
    resource: "task",
    resourceName: `${tasks.clusterName}/*`,
  });
  allow(target, ["ecs:DescribeTasks", "ecs:StopTask"], [taskArns], onCluster);
  if (mode === "run") {
    // RunTask with tags also needs TagResource on the new task, allowed only as part of RunTask.
    allow(target, ["ecs:TagResource"], [taskArns], { StringEquals: { "ecs:CreateAction": "RunTask" } });
  }
  allowWildcard(target, {
    resource: taskArns,
    reason:
      "Task ids exist only once RunTask returns; the grant is limited to tasks of this one cluster (ecs:cluster).",
  });
}

/** Converse/ConverseStream are authorised by these two actions. */
export function bindModels(target: Bindable): void {
  const stack = Stack.of(target);
  const foundationModels = `arn:${Aws.PARTITION}:bedrock:*::foundation-model/*`;
  const inferenceProfiles = stack.formatArn({
    service: "bedrock",
    resource: "inference-profile",
    resourceName: "*",
  });
  allow(
    target,
    ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
    [foundationModels, inferenceProfiles],
  );
  const reason =
    "Agents pick their Bedrock model at run time (DESIGN: agent config); cross-region inference profiles route " +
    "to foundation models in other regions, hence the region wildcard on foundation-model.";
  allowWildcard(target, { resource: foundationModels, reason });
  allowWildcard(target, { resource: inferenceProfiles, reason });
}

export interface UserScheduleBinding {
  groupName: string;
  groupArnForSchedules: string;
  roleArn: string;
  failureQueueArn: string;
  targetArn: string | undefined;
}

/** Create, read and delete schedules in the user group, and hand them the role that may call the target. */
export function bindUserSchedules(target: Bindable, schedules: UserScheduleBinding): void {
  target.addEnvironment(scheduleEnv.groupName, schedules.groupName);
  target.addEnvironment(scheduleEnv.roleArn, schedules.roleArn);
  target.addEnvironment(scheduleEnv.dlqArn, schedules.failureQueueArn);
  if (schedules.targetArn !== undefined) target.addEnvironment(scheduleEnv.targetArn, schedules.targetArn);
  allow(
    target,
    [
      "scheduler:CreateSchedule",
      "scheduler:UpdateSchedule",
      "scheduler:DeleteSchedule",
      "scheduler:GetSchedule",
    ],
    [schedules.groupArnForSchedules],
  );
  allow(target, ["iam:PassRole"], [schedules.roleArn], {
    StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" },
  });
  allowWildcard(target, {
    resource: schedules.groupArnForSchedules,
    reason:
      "User schedules are named when users create them; the grant covers schedules of this stack's group only.",
  });
}

/** Publish to the stage's notifications topic, and nothing else on it. */
export function bindTopic(target: Bindable, topic: ITopic): void {
  target.addEnvironment(ENV.notificationsTopicArn, topic.topicArn);
  allow(target, ["sns:Publish"], [topic.topicArn]);
}

/**
 * The collections' vector bucket. QueryVectors with metadata also needs GetVectors, as AWS documents;
 * indexes are named at run time (one per collection), so vector actions cover this bucket's indexes.
 */
export function bindVectors(target: Bindable, vectors: VectorBinding, mode: "manage" | "use"): void {
  target.addEnvironment(ENV.vectorBucket, vectors.bucketName);
  const indexes = `${vectors.bucketArn}/index/*`;
  allow(
    target,
    [
      "s3vectors:PutVectors",
      "s3vectors:QueryVectors",
      "s3vectors:GetVectors",
      "s3vectors:DeleteVectors",
      ...(mode === "manage" ? ["s3vectors:CreateIndex", "s3vectors:DeleteIndex", "s3vectors:GetIndex"] : []),
    ],
    [vectors.bucketArn, indexes],
  );
  allowWildcard(target, {
    resource: indexes,
    reason:
      "Each collection gets its own S3 Vectors index, created at run time; the grant covers the indexes of this one vector bucket.",
  });
}

export interface VectorBinding {
  bucketName: string;
  bucketArn: string;
}

export interface UsageKeyBinding {
  /** The stack's name: the usage plans are `<namespace>-<plan>` (shared/auth/usage-keys.ts). */
  namespace: string;
}

/**
 * `name` only tells the function how usage keys are named. `manage` lets it create API keys, find them by
 * name, put them in a usage plan and delete them. API Gateway's control plane is authorised by HTTP verb on
 * the resource path; the plans cannot be named by id here, because the function would then depend on the
 * plans, which depend on the stage, whose deployment depends on the function's integrations.
 */
export function bindUsageKeys(target: Bindable, binding: UsageKeyBinding, mode: "name" | "manage"): void {
  target.addEnvironment(ENV.usageNamespace, binding.namespace);
  if (mode !== "manage") return;
  const path = (resource: string) => `arn:${Aws.PARTITION}:apigateway:${Aws.REGION}::${resource}`;
  allow(target, ["apigateway:POST", "apigateway:GET"], [path("/apikeys")]);
  allow(target, ["apigateway:DELETE"], [path("/apikeys/*")]);
  allow(target, ["apigateway:GET"], [path("/usageplans")]);
  allow(target, ["apigateway:POST"], [path("/usageplans/*/keys")]);
  allowWildcard(target, {
    resource: path("/apikeys/*"),
    reason:
      "API key ids are minted by API Gateway when a tenant or a Switchboard API key is created; DELETE is the only verb allowed on them.",
  });
  allowWildcard(target, {
    resource: path("/usageplans/*/keys"),
    reason:
      "Adding a key to a usage plan (POST only); the plan ids cannot be referenced without a dependency cycle through the stage, and the function finds its plans by the stack's name.",
  });
}

export interface BindTargets {
  table: TableBinding;
  queues: ReadonlyMap<string, QueueBinding>;
  jwtSecret: ISecret;
  providerKey: IKey;
  payloads: IBucket;
  connections: WebSocketStage;
  tasks: TaskBinding;
  userSchedules: UserScheduleBinding;
  vectors: VectorBinding;
  usageKeys: UsageKeyBinding;
  notifications: ITopic;
}

const queueBinding = (targets: BindTargets, name: string): QueueBinding => {
  const binding = targets.queues.get(name);
  if (binding === undefined)
    throw new Error(`Access names queue "${name}", which the manifest does not have`);
  return binding;
};

/** Turns one access-table line into environment and grants. */
export function bindAccess(target: Bindable, access: Access, targets: BindTargets): void {
  if (access.table) bindTable(target, targets.table, access.table);
  for (const name of Object.keys(access.queues ?? {})) bindQueueSend(target, queueBinding(targets, name));
  for (const name of Object.keys(access.dlqs ?? {})) bindDlqRedrive(target, queueBinding(targets, name));
  if (access.jwtSecret) bindSecret(target, targets.jwtSecret, ENV.jwtSecretId);
  if (access.providerSecrets) bindKey(target, targets.providerKey, ENV.secretsKeyId, access.providerSecrets);
  if (access.payloads) bindBucket(target, targets.payloads, ENV.payloadBucket, access.payloads);
  if (access.connections) bindConnections(target, targets.connections);
  if (access.tasks) bindTasks(target, targets.tasks, access.tasks);
  if (access.models) bindModels(target);
  if (access.userSchedules === "manage") bindUserSchedules(target, targets.userSchedules);
  if (access.vectors) bindVectors(target, targets.vectors, access.vectors);
  if (access.usageKeys) bindUsageKeys(target, targets.usageKeys, access.usageKeys);
  if (access.notifications) bindTopic(target, targets.notifications);
}
