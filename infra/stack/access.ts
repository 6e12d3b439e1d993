/**
 * What each piece of compute may touch. One line per function: the stack turns every entry into the
 * environment variables and the least-privilege grants that go with it, so a function never receives a
 * resource name without the permission, or a permission without a reason in this table.
 *
 * Plain data, no CDK import: tests and the local twin can read it too.
 */
import type { FunctionName, Manifest } from "#infra/manifest";

type QueueName = Manifest["queues"][number]["name"];

export interface Access {
  /** `TABLE_NAME`; `rw` adds item writes. Indexes come from the manifest. */
  table?: "r" | "rw";
  /** Queue URL in the queue's `urlEnv`; `send` also allows reading depth attributes. */
  queues?: Partial<Record<QueueName, "send">>;
  /** DLQ URL in `dlq.urlEnv`: peek at, and redrive (message move task) back to the source queue. */
  dlqs?: Partial<Record<QueueName, "redrive">>;
  /** `JWT_SECRET_ID`: read the JWT signing secret. */
  jwtSecret?: "read";
  /** `SECRETS_KMS_KEY_ID`: envelope-encrypt (`encrypt`) or open (`decrypt`) stored provider credentials. */
  providerSecrets?: "encrypt" | "decrypt";
  /** `PAYLOAD_BUCKET`: claim-check payloads. */
  payloads?: "r" | "rw";
  /** `WS_CALLBACK_URL`: post to, inspect and drop WebSocket connections. */
  connections?: "manage";
  /** ECS: `run` starts, watches and stops the step task; `stop` only watches and stops it. */
  tasks?: "run" | "stop";
  /** Call foundation models through Amazon Bedrock. */
  models?: "invoke";
  /**
   * EventBridge Scheduler user schedules. `manage` creates and deletes them in the stack's group;
   * `target` is the function those schedules invoke (at most one).
   */
  userSchedules?: "manage" | "target";
  /** `NOTIFICATIONS_TOPIC_ARN`: publish to the stage's notifications topic (email subscribers). */
  notifications?: "publish";
}

export const functionAccess = {
  api: {
    table: "rw",
    // Notification targets: the signing secret is sealed on create, and a test delivery is queued.
    queues: { steps: "send", notifications: "send" },
    dlqs: { steps: "redrive" },
    jwtSecret: "read",
    providerSecrets: "encrypt",
    payloads: "rw",
    userSchedules: "manage",
    // Cancelling a job, or a decision that fails it, stops its running step tasks.
    tasks: "stop",
  },
  // Writes `lastUsedAt` on API keys, hence rw.
  authorizer: { table: "rw", jwtSecret: "read" },
  ws: { table: "rw", connections: "manage" },
  worker: {
    table: "rw",
    queues: { steps: "send" },
    payloads: "rw",
    providerSecrets: "decrypt",
    connections: "manage",
    tasks: "run",
    models: "invoke",
  },
  // Consuming the DLQ is granted by its event source mapping. Failing a step reads and writes the job's
  // payloads and may stop the job's other tasks.
  dlq: { table: "rw", payloads: "rw", tasks: "stop" },
  fanout: { table: "rw", connections: "manage" },
  sweeper: { table: "rw", queues: { steps: "send" }, payloads: "rw", tasks: "stop" },
  // Starts the job a user schedule names, like POST /v1/jobs does (a large input goes to the payload bucket).
  schedule: { table: "rw", queues: { steps: "send" }, payloads: "rw", userSchedules: "target" },
  // Records deliveries, queues them, and sends the matching WebSocket frame.
  notify: { table: "rw", queues: { notifications: "send" }, connections: "manage", notifications: "publish" },
  // Opens the target's signing secret; a failed attempt re-queues itself with a delay.
  notifier: { table: "rw", queues: { notifications: "send" }, providerSecrets: "decrypt" },
} as const satisfies Record<FunctionName, Access>;

/**
 * The Fargate step task runs the same engine as the worker: it records its result and enqueues the
 * steps that became ready, so it needs the queue as well as the worker's data access.
 */
export const taskAccess = {
  table: "rw",
  queues: { steps: "send" },
  payloads: "rw",
  providerSecrets: "decrypt",
  connections: "manage",
  models: "invoke",
} as const satisfies Access;

/** Environment variables the stack sets for user schedules (names the api reads once it manages them). */
export const scheduleEnv = {
  groupName: "SCHEDULE_GROUP_NAME",
  roleArn: "SCHEDULE_ROLE_ARN",
  targetArn: "SCHEDULE_TARGET_ARN",
  /** Queue to name as each user schedule's dead-letter target. */
  dlqArn: "SCHEDULE_DLQ_ARN",
} as const;

/** Name of the step container in the task definition. */
export const taskContainerName = "step";
