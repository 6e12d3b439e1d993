import { readFileSync } from "node:fs";
import { scheduleEnv } from "#infra/stack/access";
import { ENV } from "#shared/config";
import { LOCAL_ECS } from "./aws-services/ecs.ts";
import { SECRETS_KEY_ALIAS } from "./aws-services/kms.ts";
import { ACCOUNT_ID, deployedName } from "./lambda-context.ts";

export interface TwinEndpoints {
  dynamodb: string;
  /** The SQS front on the aws-services server. */
  sqs: string;
  s3: string;
  awsServices: string;
  gateway: string;
}

export const REGION = "us-east-1";
/** What the stack sets from package.json, so the status route and the OpenAPI document name the same version. */
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;
export const TABLE_NAME = "switchboard";
export const JWT_SECRET_ID = "switchboard/jwt";
export const PAYLOAD_BUCKET = "switchboard-payloads";
/** The stage's S3 Vectors bucket: one index per tenant collection. */
export const VECTOR_BUCKET = "switchboard-vectors";
/** The Scheduler group user schedules live in, and what they invoke (the schedule function) with which role. */
export const SCHEDULE_GROUP = "switchboard-user-schedules";
export const SCHEDULE_TARGET_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${deployedName("schedule")}`;
/** What the stack's name is in AWS: it names the usage plans and the usage keys the functions create. */
export const USAGE_NAMESPACE = "switchboard-local";
export const SCHEDULE_ROLE_ARN = `arn:aws:iam::${ACCOUNT_ID}:role/switchboard-scheduler`;
/** The stage's notifications topic, as the stack creates it. */
export const NOTIFICATIONS_TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:switchboard-notifications`;

/**
 * The environment the functions run with: the SDK's standard per-service endpoint variables point at the local
 * servers, and the application's own variables carry what the stack would set.
 */
export function twinEnvironment(
  endpoints: TwinEndpoints,
  queueUrls: Record<string, string>,
  accessKeyId = "twin",
): Record<string, string> {
  return {
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    // Dummy credentials: nothing local checks them, and no call can reach a real account with them.
    // DynamoDB Local keeps a database per access key when it is shared (see TwinOptions.dynamodb).
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: "twin",
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.awsServices,
    AWS_ENDPOINT_URL_KMS: endpoints.awsServices,
    [ENV.secretsKeyId]: SECRETS_KEY_ALIAS,
    AWS_ENDPOINT_URL_ECS: endpoints.awsServices,
    [ENV.ecsCluster]: LOCAL_ECS.cluster,
    [ENV.taskDefinition]: LOCAL_ECS.taskDefinition,
    [ENV.taskContainerName]: LOCAL_ECS.containerName,
    [ENV.taskSubnets]: LOCAL_ECS.subnets,
    [ENV.taskSecurityGroups]: LOCAL_ECS.securityGroups,
    [ENV.taskAssignPublicIp]: "ENABLED",
    AWS_ENDPOINT_URL_SCHEDULER: endpoints.awsServices,
    AWS_ENDPOINT_URL_S3VECTORS: endpoints.awsServices,
    AWS_ENDPOINT_URL_API_GATEWAY: endpoints.awsServices,
    [ENV.usageNamespace]: USAGE_NAMESPACE,
    [ENV.vectorBucket]: VECTOR_BUCKET,
    AWS_ENDPOINT_URL_SNS: endpoints.awsServices,
    [ENV.notificationsTopicArn]: NOTIFICATIONS_TOPIC_ARN,
    [ENV.tableName]: TABLE_NAME,
    ...queueUrls,
    [ENV.wsCallbackUrl]: endpoints.gateway,
    [ENV.jwtSecretId]: JWT_SECRET_ID,
    [ENV.payloadBucket]: PAYLOAD_BUCKET,
    [scheduleEnv.groupName]: SCHEDULE_GROUP,
    [scheduleEnv.targetArn]: SCHEDULE_TARGET_ARN,
    [scheduleEnv.roleArn]: SCHEDULE_ROLE_ARN,
    POWERTOOLS_SERVICE_NAME: "switchboard",
    // EMF goes to stdout, which here is the terminal, not CloudWatch: the metrics would only be noise.
    POWERTOOLS_METRICS_DISABLED: "true",
    // There is no X-Ray daemon here. Tracing off, and the X-Ray SDK in manual mode: in its default mode it
    // puts an async hook on every promise of the process, a twentieth of the twin's CPU, for nothing.
    POWERTOOLS_TRACE_ENABLED: "false",
    AWS_XRAY_MANUAL_MODE: "1",
    [ENV.version]: PACKAGE_VERSION,
  };
}

/** Sets the environment in this process, where the functions run, before any of them is imported. */
export function applyEnvironment(env: Record<string, string>): void {
  // A real session token or an opt-out of configured endpoints would send the functions to AWS.
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
  delete process.env.AWS_PROFILE;
  Object.assign(process.env, env);
}
