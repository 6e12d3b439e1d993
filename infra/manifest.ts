/**
 * The one description of Switchboard's moving parts. The CDK stack (`infra/stack/`) and the local twin
 * (`infra/local/`) both loop over it, so the cloud and the laptop cannot drift apart.
 */

import {
  type QueueContract,
  STEPS_HIGH_QUEUE,
  STEPS_LOW_QUEUE,
  STEPS_QUEUE,
  WORKER_TIMEOUT_SECONDS,
} from "#events/queues";
import { type ContractRoute, routeList } from "#events/routes";

export type { Role } from "#events/routes";
export { ROLES } from "#events/routes";

export type FunctionName =
  | "api"
  | "authorizer"
  | "ws"
  | "worker"
  | "fanout"
  | "dlq"
  | "sweeper"
  | "schedule"
  | "notify"
  | "notifier";

export interface FunctionSpec {
  /** Source file, relative to the repository root. It exports `handler`. */
  entry: string;
  description: string;
  timeoutSeconds: number;
  memoryMb: number;
}

/** A route of the contract (`events/routes.ts`) with the function that serves it. */
export interface HttpRoute extends ContractRoute {
  function: FunctionName;
}

export interface WsRoute {
  route: "$connect" | "$disconnect" | "$default" | string;
  function: FunctionName;
}

export interface QueueSpec {
  /** Logical name, also the CDK id and (locally) the queue name. */
  name: string;
  /** Environment variable that carries the queue URL to the functions. */
  urlEnv: string;
  visibilityTimeoutSeconds: number;
  retentionSeconds: number;
  dlq: { name: string; urlEnv: string; maxReceiveCount: number; retentionSeconds: number };
  consumer: {
    function: FunctionName;
    batchSize: number;
    maxBatchingWindowSeconds: number;
    maxConcurrency: number;
  };
  dlqConsumer?: { function: FunctionName; batchSize: number };
}

export interface StreamConsumerSpec {
  function: FunctionName;
  batchSize: number;
  /** Only records whose new image's `sk` starts with one of these prefixes reach the function. */
  skPrefixes: readonly string[];
  eventNames: readonly ("INSERT" | "MODIFY" | "REMOVE")[];
  retryAttempts: number;
  maxBatchingWindowSeconds: number;
}

export interface ScheduleSpec {
  name: string;
  /** EventBridge Scheduler syntax. */
  expression: string;
  function: FunctionName;
}

export interface IndexSpec {
  name: string;
  partitionKey: string;
  sortKey: string;
  /**
   * What the index copies of each item: every index write is billed by the size of the projected entry,
   * so an index carries only what its readers use. `include` lists the non-key attributes it copies.
   */
  projection: { type: "ALL" } | { type: "KEYS_ONLY" } | { type: "INCLUDE"; include: readonly string[] };
}

function stepsQueue<C extends QueueContract>(
  contract: C,
  maxConcurrency: number,
): QueueSpec & { name: C["name"] } {
  return {
    ...contract,
    // At least 6x the worker's timeout, so a slow batch is not redelivered while it is still running.
    visibilityTimeoutSeconds: 720,
    retentionSeconds: 4 * 24 * 3600,
    dlq: { ...contract.dlq, maxReceiveCount: 5, retentionSeconds: 14 * 24 * 3600 },
    consumer: { function: "worker", batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency },
    dlqConsumer: { function: "dlq", batchSize: 10 },
  };
}

export const manifest = {
  table: {
    partitionKey: "pk",
    sortKey: "sk",
    ttlAttribute: "ttl",
    indexes: [
      // The overloaded list indexes of small items (users, keys, workflows, schedules, approvals, job
      // summaries): their lists show the whole item, and the items hold little else.
      { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk", projection: { type: "ALL" } },
      { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk", projection: { type: "ALL" } },
      { name: "gsi3", partitionKey: "gsi3pk", sortKey: "gsi3sk", projection: { type: "ALL" } },
      // The sweeper's index: active jobs and approvals keyed by when they are due for a look. The sweeper
      // reads only which item it is and loads the item itself, so a job item's writes never copy its steps.
      {
        name: "gsi4",
        partitionKey: "gsi4pk",
        sortKey: "gsi4sk",
        projection: { type: "INCLUDE", include: ["type", "tenantId", "id"] },
      },
    ] satisfies IndexSpec[],
  },

  functions: {
    api: { entry: "functions/http/api.ts", description: "REST API", timeoutSeconds: 29, memoryMb: 1024 },
    authorizer: {
      entry: "functions/http/authorizer.ts",
      description: "REST and WebSocket $connect authorizer",
      timeoutSeconds: 10,
      memoryMb: 512,
    },
    ws: { entry: "functions/ws/ws.ts", description: "WebSocket routes", timeoutSeconds: 29, memoryMb: 512 },
    worker: {
      entry: "functions/queues/steps.ts",
      description: "Claims and runs workflow steps",
      timeoutSeconds: WORKER_TIMEOUT_SECONDS,
      memoryMb: 1024,
    },
    dlq: {
      entry: "functions/queues/steps-dlq.ts",
      description: "Marks steps whose messages exhausted their receives as failed",
      timeoutSeconds: 60,
      memoryMb: 512,
    },
    fanout: {
      entry: "functions/streams/fanout.ts",
      description: "Pushes job timeline events to subscribed WebSocket connections",
      timeoutSeconds: 60,
      memoryMb: 512,
    },
    sweeper: {
      entry: "functions/schedules/sweeper.ts",
      description: "Heals expired leases, lost messages and timed-out jobs",
      timeoutSeconds: 120,
      memoryMb: 512,
    },
    schedule: {
      entry: "functions/schedules/start-job.ts",
      description: "Target of the tenants' EventBridge Scheduler schedules: starts their jobs",
      timeoutSeconds: 60,
      memoryMb: 512,
    },
    notify: {
      entry: "functions/streams/notify.ts",
      description: "Derives notifications from job timeline events and queues their deliveries",
      timeoutSeconds: 60,
      memoryMb: 512,
    },
    notifier: {
      entry: "functions/queues/notifications.ts",
      description: "Delivers signed notification webhooks, with backoff between attempts",
      timeoutSeconds: 60,
      memoryMb: 512,
    },
  } satisfies Record<FunctionName, FunctionSpec>,

  http: {
    authorizer: "authorizer" as FunctionName,
    // Every REST route is served by the one api Lambda, which dispatches by the contract's table.
    routes: routeList.map((route): HttpRoute => ({ ...route, function: "api" })),
  },

  websocket: {
    authorizer: "authorizer" as FunctionName,
    routeSelectionExpression: "$request.body.action",
    routes: [
      { route: "$connect", function: "ws" },
      { route: "$disconnect", function: "ws" },
      { route: "$default", function: "ws" },
    ] satisfies WsRoute[],
  },

  // One steps queue per job priority, each a fair queue (tenant = message group) with its own DLQ. The
  // worker consumes all three; the weights are the mappings' maxConcurrency, so high work has the most
  // workers and never queues behind normal or low work, and low work always keeps a share of its own.
  queues: [
    stepsQueue(STEPS_HIGH_QUEUE, 12),
    stepsQueue(STEPS_QUEUE, 8),
    stepsQueue(STEPS_LOW_QUEUE, 4),
    {
      // One message per webhook attempt; a failed attempt sends itself again with its backoff as the delay.
      name: "notifications",
      urlEnv: "NOTIFICATIONS_QUEUE_URL",
      visibilityTimeoutSeconds: 360,
      retentionSeconds: 4 * 24 * 3600,
      // What cannot even be recorded (the table refusing) is parked here for an operator.
      dlq: {
        name: "notifications-dlq",
        urlEnv: "NOTIFICATIONS_DLQ_URL",
        maxReceiveCount: 5,
        retentionSeconds: 14 * 24 * 3600,
      },
      consumer: { function: "notifier", batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 5 },
    },
  ] satisfies QueueSpec[],

  streams: [
    {
      function: "fanout",
      batchSize: 100,
      // Job items only: the timeline is derived from their old and new images.
      skPrefixes: ["A#JOB"],
      eventNames: ["INSERT", "MODIFY"],
      retryAttempts: 3,
      // A job's changes of one second reach the fanout as one batch: one timeline page, one summary write,
      // one subscriber lookup and (for batch subscribers) one frame per job, instead of one per change.
      maxBatchingWindowSeconds: 1,
    },
    {
      function: "notify",
      batchSize: 100,
      skPrefixes: ["E#"],
      eventNames: ["INSERT", "MODIFY"],
      retryAttempts: 10,
      maxBatchingWindowSeconds: 0,
    },
  ] satisfies StreamConsumerSpec[],

  schedules: [
    { name: "sweeper", expression: "rate(1 minute)", function: "sweeper" },
  ] satisfies ScheduleSpec[],
} as const;

export type Manifest = typeof manifest;
export type { RouteId } from "#events/routes";
