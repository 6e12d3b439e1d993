/**
 * The one description of Switchboard's moving parts. The CDK stack (`infra/stack/`) and the local twin
 * (`infra/local/`) both loop over it, so the cloud and the laptop cannot drift apart.
 */

export type Role = "admin" | "user" | "viewer";
export const ROLES: readonly Role[] = ["admin", "user", "viewer"];

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

export interface HttpRoute {
  /** Stable operation id: the api Lambda's router and the OpenAPI document are keyed by it. */
  id: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** API Gateway path syntax: `/v1/jobs/{id}`. */
  path: string;
  function: FunctionName;
  /** `public` routes skip the authorizer. */
  auth: "public" | "authorizer";
  /** Roles allowed to call the route; empty for public routes. */
  roles: readonly Role[];
  /** Only a platform admin (of the bootstrap tenant) may call it. */
  platformAdmin?: boolean;
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
}

export const allRoles: readonly Role[] = ROLES;
const writers: readonly Role[] = ["admin", "user"];
const admins: readonly Role[] = ["admin"];

function route(
  id: string,
  method: HttpRoute["method"],
  path: string,
  roles: readonly Role[],
  extra: Partial<HttpRoute> = {},
): HttpRoute {
  return { id, method, path, function: "api", auth: "authorizer", roles, ...extra };
}

export const manifest = {
  table: {
    partitionKey: "pk",
    sortKey: "sk",
    ttlAttribute: "ttl",
    indexes: [
      { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
      { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
      { name: "gsi3", partitionKey: "gsi3pk", sortKey: "gsi3sk" },
      // The sweeper's index: active steps and jobs keyed by when they are due for a look.
      { name: "gsi4", partitionKey: "gsi4pk", sortKey: "gsi4sk" },
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
      timeoutSeconds: 120,
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
    routes: [
      route("health", "GET", "/health", [], { auth: "public" }),
      route("ready", "GET", "/ready", [], { auth: "public" }),
      route("openapi", "GET", "/openapi.json", [], { auth: "public" }),
      route("login", "POST", "/v1/auth/login", [], { auth: "public" }),
      route("refresh", "POST", "/v1/auth/refresh", [], { auth: "public" }),
      route("me", "GET", "/v1/me", allRoles),
      route("createJob", "POST", "/v1/jobs", writers),
      route("listJobs", "GET", "/v1/jobs", allRoles),
      route("getJob", "GET", "/v1/jobs/{id}", allRoles),
      route("getJobEvents", "GET", "/v1/jobs/{id}/events", allRoles),
      route("cancelJob", "POST", "/v1/jobs/{id}/cancel", writers),
      route("retryJob", "POST", "/v1/jobs/{id}/retry", writers),
      route("systemStatus", "GET", "/v1/system/status", admins),
      // Dead letters: a platform admin sees and redrives every tenant's, a tenant admin only its own.
      route("listDeadLetters", "GET", "/v1/system/dlq", admins),
      route("redriveDeadLetters", "POST", "/v1/system/dlq/redrive", admins),
      // Identity: admins manage people and read the log; users and admins mint API keys (up to their own role).
      route("createTenant", "POST", "/v1/tenants", admins, { platformAdmin: true }),
      route("listUsers", "GET", "/v1/users", admins),
      route("createUser", "POST", "/v1/users", admins),
      route("getUser", "GET", "/v1/users/{id}", admins),
      route("updateUser", "PATCH", "/v1/users/{id}", admins),
      route("deleteUser", "DELETE", "/v1/users/{id}", admins),
      route("createApiKey", "POST", "/v1/api-keys", writers),
      route("listApiKeys", "GET", "/v1/api-keys", writers),
      route("revokeApiKey", "DELETE", "/v1/api-keys/{id}", writers),
      route("listAudit", "GET", "/v1/audit", admins),
      // Agents, tools and memory: everyone reads, admins and users write. Secrets are admin-only and write-only.
      route("listAgents", "GET", "/v1/agents", allRoles),
      route("createAgent", "POST", "/v1/agents", writers),
      route("getAgent", "GET", "/v1/agents/{id}", allRoles),
      route("updateAgent", "PUT", "/v1/agents/{id}", writers),
      route("deleteAgent", "DELETE", "/v1/agents/{id}", writers),
      route("listTools", "GET", "/v1/tools", allRoles),
      route("createTool", "POST", "/v1/tools", writers),
      route("getTool", "GET", "/v1/tools/{id}", allRoles),
      route("updateTool", "PUT", "/v1/tools/{id}", writers),
      route("deleteTool", "DELETE", "/v1/tools/{id}", writers),
      route("listSecrets", "GET", "/v1/secrets", admins),
      route("createSecret", "POST", "/v1/secrets", admins),
      route("deleteSecret", "DELETE", "/v1/secrets/{name}", admins),
      route("listMemoryKeys", "GET", "/v1/memory/{namespace}", allRoles),
      route("getMemory", "GET", "/v1/memory/{namespace}/{key}", allRoles),
      route("putMemory", "PUT", "/v1/memory/{namespace}/{key}", writers),
      route("deleteMemory", "DELETE", "/v1/memory/{namespace}/{key}", writers),
      route("getUsage", "GET", "/v1/usage", allRoles),
      route("getBudget", "GET", "/v1/usage/budget", allRoles),
      route("putBudget", "PUT", "/v1/usage/budget", admins),
      // Workflows are versioned resources; validate changes nothing, so anyone may call it.
      route("createWorkflow", "POST", "/v1/workflows", writers),
      route("listWorkflows", "GET", "/v1/workflows", allRoles),
      route("validateWorkflow", "POST", "/v1/workflows/validate", allRoles),
      route("getWorkflow", "GET", "/v1/workflows/{id}", allRoles),
      route("updateWorkflow", "PUT", "/v1/workflows/{id}", writers),
      route("deleteWorkflow", "DELETE", "/v1/workflows/{id}", writers),
      route("listWorkflowVersions", "GET", "/v1/workflows/{id}/versions", allRoles),
      route("getWorkflowVersion", "GET", "/v1/workflows/{id}/versions/{version}", allRoles),
      // Approvals: viewers see them; deciding also needs the approval's own approvers list to allow the caller.
      route("listApprovals", "GET", "/v1/approvals", allRoles),
      route("getApproval", "GET", "/v1/approvals/{id}", allRoles),
      route("decideApproval", "POST", "/v1/approvals/{id}/decision", writers),
      route("getAgentStats", "GET", "/v1/agents/{id}/stats", allRoles),
      route("getAgentCalibration", "GET", "/v1/agents/{id}/calibration", allRoles),
      route("createSchedule", "POST", "/v1/schedules", writers),
      route("listSchedules", "GET", "/v1/schedules", allRoles),
      route("getSchedule", "GET", "/v1/schedules/{id}", allRoles),
      route("updateSchedule", "PATCH", "/v1/schedules/{id}", writers),
      route("deleteSchedule", "DELETE", "/v1/schedules/{id}", writers),
      // Tenant controls: everyone may read them (clients adapt to owner-only access); admins change them.
      route("getTenantSettings", "GET", "/v1/tenant/settings", allRoles),
      route("putTenantSettings", "PUT", "/v1/tenant/settings", admins),
      // Notification targets are tenant-wide wiring with a signing secret: admins only.
      route("listNotificationTargets", "GET", "/v1/notification-targets", admins),
      route("createNotificationTarget", "POST", "/v1/notification-targets", admins),
      route("getNotificationTarget", "GET", "/v1/notification-targets/{id}", admins),
      route("deleteNotificationTarget", "DELETE", "/v1/notification-targets/{id}", admins),
      route("testNotificationTarget", "POST", "/v1/notification-targets/{id}/test", admins),
      route("listNotificationDeliveries", "GET", "/v1/notification-targets/{id}/deliveries", admins),
    ] satisfies HttpRoute[],
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

  queues: [
    {
      name: "steps",
      urlEnv: "STEPS_QUEUE_URL",
      // At least 6x the worker's timeout, so a slow batch is not redelivered while it is still running.
      visibilityTimeoutSeconds: 720,
      retentionSeconds: 4 * 24 * 3600,
      dlq: {
        name: "steps-dlq",
        urlEnv: "STEPS_DLQ_URL",
        maxReceiveCount: 5,
        retentionSeconds: 14 * 24 * 3600,
      },
      consumer: { function: "worker", batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 20 },
      dlqConsumer: { function: "dlq", batchSize: 10 },
    },
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
      skPrefixes: ["E#"],
      eventNames: ["INSERT"],
      retryAttempts: 3,
      maxBatchingWindowSeconds: 0,
    },
    {
      function: "notify",
      batchSize: 100,
      skPrefixes: ["E#"],
      eventNames: ["INSERT"],
      retryAttempts: 10,
      maxBatchingWindowSeconds: 0,
    },
  ] satisfies StreamConsumerSpec[],

  schedules: [
    { name: "sweeper", expression: "rate(1 minute)", function: "sweeper" },
  ] satisfies ScheduleSpec[],
} as const;

export type Manifest = typeof manifest;
export type RouteId = (typeof manifest.http.routes)[number]["id"];
