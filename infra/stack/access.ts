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
  /**
   * `SECRETS_KMS_KEY_ID`: envelope-encrypt (`encrypt`) or open (`decrypt`) stored provider credentials, or
   * both (`encrypt-decrypt`).
   */
  providerSecrets?: "encrypt" | "decrypt" | "encrypt-decrypt";
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
  /**
   * `VECTOR_BUCKET`: the S3 Vectors bucket of collections. `manage` also creates and deletes the indexes;
   * `use` puts, queries and deletes vectors.
   */
  vectors?: "manage" | "use";
  /**
   * `USAGE_NAMESPACE`: `name` derives the caller's usage key (the authorizer's `usageIdentifierKey`);
   * `manage` also creates and deletes the API Gateway keys of tenants and API keys in the stack's usage plans.
   */
  usageKeys?: "name" | "manage";
  /** `NOTIFICATIONS_TOPIC_ARN`: publish to the stage's notifications topic (email subscribers). */
  notifications?: "publish";
}

/** Every steps queue: a step message goes to the queue of its job's priority, so whoever sends one may send to all. */
const STEP_QUEUES_SEND = { "steps-high": "send", steps: "send", "steps-low": "send" } as const;
const STEP_DLQS_REDRIVE = { "steps-high": "redrive", steps: "redrive", "steps-low": "redrive" } as const;

export const functionAccess = {
  api: {
    table: "rw",
    // Notification targets: the signing secret is sealed on create, and a test delivery is queued.
    queues: { ...STEP_QUEUES_SEND, notifications: "send" },
    dlqs: STEP_DLQS_REDRIVE,
    jwtSecret: "read",
    // Decrypt too: registering an MCP server connects to it with its stored credential.
    providerSecrets: "encrypt-decrypt",
    payloads: "rw",
    userSchedules: "manage",
    // Cancelling a job, or a decision that fails it, stops its running step tasks.
    tasks: "stop",
    // Collections embed their documents and queries with the collection's provider (Titan on Bedrock).
    models: "invoke",
    vectors: "manage",
    // Creating a tenant or an API key gives it its own request bucket; revoking a key takes it away.
    usageKeys: "manage",
  },
  // Writes `lastUsedAt` on API keys, hence rw.
  authorizer: { table: "rw", jwtSecret: "read", usageKeys: "name" },
  ws: { table: "rw", connections: "manage" },
  worker: {
    table: "rw",
    queues: STEP_QUEUES_SEND,
    payloads: "rw",
    providerSecrets: "decrypt",
    connections: "manage",
    tasks: "run",
    models: "invoke",
    // The vector_search and vector_upsert tools.
    vectors: "use",
  },
  // Consuming the DLQ is granted by its event source mapping. Failing a step reads and writes the job's
  // payloads, may stop the job's other tasks, and sends the steps that become ready after it (an error
  // edge or a join that tolerates failure), like the worker does.
  // The DLQ consumer, the sweeper and the schedule function carry the step runners' code, the collections'
  // embedder among it, and the permissions test holds each role to every AWS call its bundle can make.
  dlq: { table: "rw", queues: STEP_QUEUES_SEND, payloads: "rw", tasks: "stop", models: "invoke" },
  fanout: { table: "rw", connections: "manage" },
  sweeper: { table: "rw", queues: STEP_QUEUES_SEND, payloads: "rw", tasks: "stop", models: "invoke" },
  // Starts the job a user schedule names, like POST /v1/jobs does (a large input goes to the payload bucket);
  // a start that fails the job at once stops whatever tasks it has, as every engine commit may.
  schedule: {
    table: "rw",
    queues: STEP_QUEUES_SEND,
    payloads: "rw",
    userSchedules: "target",
    tasks: "stop",
    models: "invoke",
  },
  // Records deliveries, queues them, and sends the matching WebSocket frame.
  notify: { table: "rw", queues: { notifications: "send" }, connections: "manage", notifications: "publish" },
  // Opens the target's signing secret; a failed attempt re-queues itself with a delay.
  notifier: { table: "rw", queues: { notifications: "send" }, providerSecrets: "decrypt" },
} as const satisfies Record<FunctionName, Access>;

/**
 * The Fargate step task runs the same engine as the worker: it records its result and enqueues the
 * steps that became ready, so it needs the queue as well as the worker's data access. A result that fails
 * the job stops the job's other tasks.
 */
export const taskAccess = {
  table: "rw",
  tasks: "stop",
  queues: STEP_QUEUES_SEND,
  payloads: "rw",
  providerSecrets: "decrypt",
  connections: "manage",
  models: "invoke",
  vectors: "use",
} as const satisfies Access;

export { SCHEDULE_ENV as scheduleEnv } from "#shared/config";

/** Name of the step container in the task definition. */
export const taskContainerName = "step";
