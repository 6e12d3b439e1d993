/**
 * Environment, read once per cold start. A missing variable fails at once with its name, not later in the
 * middle of a request.
 */

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new ConfigError(`Environment variable ${name} is required but not set`);
  }
  return value;
}

export function optionalEnv(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === "" ? fallback : value;
}

export function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value))
    throw new ConfigError(`Environment variable ${name} must be a number, got "${raw}"`);
  return value;
}

/** Names of every variable the functions read. The stack and the twin set them. */
export const ENV = {
  tableName: "TABLE_NAME",
  stepsQueueUrl: "STEPS_QUEUE_URL",
  stepsDlqUrl: "STEPS_DLQ_URL",
  /** Endpoint of the API Gateway management API (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`). */
  wsCallbackUrl: "WS_CALLBACK_URL",
  /** Secrets Manager id of the JWT signing secret. */
  jwtSecretId: "JWT_SECRET_ID",
  jwtIssuer: "JWT_ISSUER",
  jwtAudience: "JWT_AUDIENCE",
  /** S3 bucket for payloads over the claim-check threshold. */
  payloadBucket: "PAYLOAD_BUCKET",
  /** KMS key for envelope encryption of stored provider secrets. */
  secretsKeyId: "SECRETS_KMS_KEY_ID",
  ecsCluster: "ECS_CLUSTER",
  taskDefinition: "TASK_DEFINITION_ARN",
  taskSubnets: "TASK_SUBNETS",
  taskSecurityGroups: "TASK_SECURITY_GROUPS",
  taskContainerName: "TASK_CONTAINER_NAME",
  /** `ENABLED` or `DISABLED`: whether step tasks get a public IP (the stack's networking decides). */
  taskAssignPublicIp: "TASK_ASSIGN_PUBLIC_IP",
  allowHosts: "SWITCHBOARD_ALLOW_HOSTS",
  /** Consecutive failures that open an endpoint's circuit breaker (default 5). */
  breakerFailures: "SWITCHBOARD_BREAKER_FAILURES",
  /** Seconds an open breaker refuses calls before it lets a probe through (default 30). */
  breakerCooldownSeconds: "SWITCHBOARD_BREAKER_COOLDOWN_SECONDS",
  /** S3 Vectors bucket holding one index per tenant collection. */
  vectorBucket: "VECTOR_BUCKET",
  /** Browser origins allowed to call the REST API, comma-separated (the dashboard's first). */
  corsAllowOrigin: "CORS_ALLOW_ORIGIN",
  notificationsQueueUrl: "NOTIFICATIONS_QUEUE_URL",
  /** SNS topic every notification is also published to (people subscribe to it by email). */
  notificationsTopicArn: "NOTIFICATIONS_TOPIC_ARN",
  /** Webhook retries: the first wait in seconds (doubling after each failure) and the attempts in all. */
  notifyRetryBaseSeconds: "NOTIFY_RETRY_BASE_SECONDS",
  notifyMaxAttempts: "NOTIFY_MAX_ATTEMPTS",
  /**
   * Milliseconds a job's start may spend running its first code steps itself, before its first write
   * (default 100; 0 sends every step to the workers).
   */
  startChainMs: "SWITCHBOARD_START_CHAIN_MS",
  version: "SWITCHBOARD_VERSION",
  /**
   * Names this deployment's API Gateway usage plans and keys (the stack's name): plans are
   * `<namespace>-<plan>`, and each tenant's and API key's usage key is derived from it (shared/auth/usage-keys.ts).
   */
  usageNamespace: "USAGE_NAMESPACE",
} as const;

/** Environment variables the stack sets for user schedules. */
export const SCHEDULE_ENV = {
  groupName: "SCHEDULE_GROUP_NAME",
  roleArn: "SCHEDULE_ROLE_ARN",
  targetArn: "SCHEDULE_TARGET_ARN",
  /** Queue to name as each user schedule's dead-letter target. */
  dlqArn: "SCHEDULE_DLQ_ARN",
} as const;
