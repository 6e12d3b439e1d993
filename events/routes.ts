/**
 * The REST contract: every route's method, path, who may call it, what it takes and what it answers. The api
 * Lambda dispatches by it, the OpenAPI document and the typed client are generated from it, and
 * `infra/manifest.ts` adds the deployment side (which function serves the routes).
 */
import { z } from "zod";
import {
  Agent,
  Budget,
  CreateAgentRequest,
  CreateSecretRequest,
  CreateToolRequest,
  MemoryEntry,
  MemoryKeys,
  PutBudgetRequest,
  PutMemoryRequest,
  Secret,
  Tool,
  ToolSummary,
  UpdateAgentRequest,
  UpdateToolRequest,
  UsageQuery,
  UsageReport,
} from "./agents.ts";
import {
  AgentApprovalStats,
  Approval,
  DecideApprovalRequest,
  ListApprovalsQuery,
  ListApprovalsResponse,
} from "./approvals.ts";
import {
  ApiKey,
  AuditEntry,
  CreateApiKeyRequest,
  CreatedApiKey,
  CreatedTenant,
  CreateTenantRequest,
  CreateUserRequest,
  ListAuditQuery,
  LoginRequest,
  Me,
  PageQuery,
  page,
  RefreshRequest,
  Role,
  TokenResponse,
  UpdateUserRequest,
  User,
} from "./auth.ts";
import { AgentCalibration } from "./calibration.ts";
import {
  Collection,
  CreateCollectionRequest,
  CreateSessionRequest,
  QueryCollectionRequest,
  QueryCollectionResponse,
  Session,
  SessionWithMessages,
  UpsertDocumentsRequest,
  UpsertDocumentsResponse,
} from "./collections.ts";
import {
  BulkJobsRequest,
  BulkJobsResponse,
  CreateJobRequest,
  JobDetail,
  JobEventsQuery,
  JobRef,
  ListJobsQuery,
  ListJobsResponse,
  RerunJobRequest,
  RerunPlan,
} from "./jobs.ts";
import { Limits, PutLimitsRequest } from "./limits.ts";
import { CreateMcpServerRequest, McpServer } from "./mcp.ts";
import {
  CreatedNotificationTarget,
  CreateNotificationTargetRequest,
  NotificationDelivery,
  NotificationTarget,
  TestDeliveryResponse,
} from "./notifications.ts";
import {
  CreateScheduleRequest,
  ListSchedulesQuery,
  ListSchedulesResponse,
  Schedule,
  UpdateScheduleRequest,
} from "./schedules.ts";
import { JobStats, JobStatsQuery } from "./stats.ts";
import { DeadLetterList, DeadLetterQuery, Health, Readiness, RedriveResult, SystemStatus } from "./system.ts";
import { PutTenantSettingsRequest, TenantSettings } from "./tenant-settings.ts";
import { TimelineEvent } from "./timeline.ts";
import { WorkflowDefinition } from "./workflow.ts";
import {
  ListWorkflowsQuery,
  ListWorkflowsResponse,
  ListWorkflowVersionsResponse,
  ValidateWorkflowResponse,
  Workflow,
  WorkflowVersion,
} from "./workflows-api.ts";

export type { Role } from "./auth.ts";
export const ROLES: readonly Role[] = Role.options;

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RouteContract {
  method: HttpMethod;
  /** API Gateway path syntax: `/v1/jobs/{id}`. */
  path: string;
  /** `public` routes skip the authorizer. */
  auth: "public" | "authorizer";
  /** Roles allowed to call the route; empty for public routes. */
  roles: readonly Role[];
  /** Only a platform admin (of the bootstrap tenant) may call it. */
  platformAdmin?: boolean;
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
  /** The success body; routes without one answer 204. */
  response?: z.ZodType;
  /** The success status. */
  status: number;
  /**
   * Answers particular to this route, beyond those every route may give (400 for bad input, 401/403/429
   * behind the authorizer, 404 for an unknown id in the path, 413/415 for bodies, 500).
   */
  responses?: Readonly<Record<number, string>>;
}

const all: readonly Role[] = ROLES;
const writers: readonly Role[] = ["admin", "user"];
const admins: readonly Role[] = ["admin"];

type Spec = Omit<RouteContract, "method" | "path" | "roles" | "auth" | "status"> &
  Partial<Pick<RouteContract, "auth" | "status">>;

/** A route behind the authorizer (the default) or a public one, with 200 unless told. */
function r<const M extends HttpMethod, const P extends string, const S extends Spec>(
  method: M,
  path: P,
  roles: readonly Role[],
  spec: S,
): { method: M; path: P; roles: readonly Role[]; auth: "public" | "authorizer"; status: number } & S {
  return {
    method,
    path,
    roles,
    auth: "authorizer",
    status: spec.response === undefined ? 204 : 200,
    ...spec,
  };
}

const conflictOnName = { 409: "Another resource of this tenant has that name" } as const;

export const routes = {
  health: r("GET", "/health", [], {
    auth: "public",
    summary: "Liveness: answers without touching any dependency",
    response: Health,
  }),
  ready: r("GET", "/ready", [], {
    auth: "public",
    summary: "Readiness: the table and the queues answer",
    response: Readiness,
    responses: { 503: "A dependency is not ready" },
  }),
  openapi: r("GET", "/openapi.json", [], {
    auth: "public",
    summary: "This document",
    response: z.record(z.string(), z.unknown()),
  }),
  login: r("POST", "/v1/auth/login", [], {
    auth: "public",
    summary: "Sign in with email and password",
    body: LoginRequest,
    response: TokenResponse,
    responses: { 401: "Wrong email or password", 429: "Too many failed sign-ins; see Retry-After" },
  }),
  refresh: r("POST", "/v1/auth/refresh", [], {
    auth: "public",
    summary: "Exchange a refresh token for new tokens (the old one stops working)",
    body: RefreshRequest,
    response: TokenResponse,
    responses: { 401: "Unknown, expired or replayed refresh token", 429: "Too many requests" },
  }),
  me: r("GET", "/v1/me", all, { summary: "The caller's identity", response: Me }),

  createJob: r("POST", "/v1/jobs", writers, {
    summary: "Start a job from a stored workflow or an inline one",
    body: CreateJobRequest,
    response: JobRef,
    status: 202,
    responses: {
      200: "A repeat with an idempotencyKey already used: the job that key started",
      404: "No workflow with that workflowId",
    },
  }),
  listJobs: r("GET", "/v1/jobs", all, {
    summary: "List jobs, newest first",
    query: ListJobsQuery,
    response: ListJobsResponse,
  }),
  bulkJobs: r("POST", "/v1/jobs/bulk", writers, {
    summary: "Cancel or retry up to 100 jobs; each id gets its own answer",
    body: BulkJobsRequest,
    response: BulkJobsResponse,
  }),
  getJob: r("GET", "/v1/jobs/{id}", all, { summary: "A job with its steps", response: JobDetail }),
  getJobEvents: r("GET", "/v1/jobs/{id}/events", all, {
    summary: "A job's timeline, oldest first",
    query: JobEventsQuery,
    response: page(TimelineEvent),
  }),
  cancelJob: r("POST", "/v1/jobs/{id}/cancel", writers, {
    summary: "Cancel a job: no new steps start and running tasks are stopped",
    response: JobRef,
    responses: { 409: "The job has already ended" },
  }),
  retryJob: r("POST", "/v1/jobs/{id}/retry", writers, {
    summary: "Re-run a failed job from its failed steps, keeping what succeeded",
    response: JobRef,
    status: 202,
    responses: { 409: "The job has not failed, been cancelled or timed out" },
  }),
  rerunJob: r("POST", "/v1/jobs/{id}/rerun", writers, {
    summary:
      "Re-run an ended job as a new job, with edited input, from a chosen step or on another workflow version; " +
      "the plan says which steps run again and which keep their outputs, and dryRun answers with the plan only",
    body: RerunJobRequest,
    response: RerunPlan,
    status: 202,
    responses: {
      200: "dryRun: the plan; nothing was started",
      404: "No such job, or no such version of its workflow",
      409: "The job has not ended yet",
    },
  }),

  systemStatus: r("GET", "/v1/system/status", admins, {
    summary: "Version, queue depths, dead letters and the providers the tenant's agents use",
    response: SystemStatus,
  }),
  // Dead letters: a platform admin sees and redrives every tenant's, a tenant admin only its own.
  listDeadLetters: r("GET", "/v1/system/dlq", admins, {
    summary:
      "Dead-lettered steps: those the DLQ consumer failed and recorded (paged), and, on the first page, a peek " +
      "at messages still in the SQS DLQ. A tenant admin sees its own tenant's only.",
    query: DeadLetterQuery,
    response: DeadLetterList,
  }),
  redriveDeadLetters: r("POST", "/v1/system/dlq/redrive", admins, {
    summary:
      "Redrive: a platform admin's starts a message move task from the SQS DLQ back to the steps queue; every " +
      "admin's re-runs the failed jobs of its recorded dead letters from their failed steps.",
    response: RedriveResult,
  }),

  // Identity: admins manage people and read the log; users and admins mint API keys (up to their own role).
  createTenant: r("POST", "/v1/tenants", admins, {
    platformAdmin: true,
    summary: "Create a tenant and its first admin (platform admins only)",
    body: CreateTenantRequest,
    response: CreatedTenant,
    status: 201,
    responses: { 409: "A user with the admin's email already exists" },
  }),
  listUsers: r("GET", "/v1/users", admins, {
    summary: "The tenant's users, by email",
    query: PageQuery,
    response: page(User),
  }),
  createUser: r("POST", "/v1/users", admins, {
    summary: "Add a user to the tenant",
    body: CreateUserRequest,
    response: User,
    status: 201,
    responses: { 409: "A user with that email already exists" },
  }),
  getUser: r("GET", "/v1/users/{id}", admins, { summary: "One user of the tenant", response: User }),
  updateUser: r("PATCH", "/v1/users/{id}", admins, {
    summary:
      "Change a user's role, password or disabled flag; a new password ends its sessions, disabling revokes its keys",
    body: UpdateUserRequest,
    response: User,
    responses: { 409: "You cannot demote or disable yourself" },
  }),
  deleteUser: r("DELETE", "/v1/users/{id}", admins, {
    summary: "Remove a user: its tokens and the API keys it created stop working",
    responses: { 409: "You cannot delete yourself" },
  }),
  createApiKey: r("POST", "/v1/api-keys", writers, {
    summary: "Mint an API key; the key is in this response and nowhere else, ever",
    body: CreateApiKeyRequest,
    response: CreatedApiKey,
    status: 201,
  }),
  listApiKeys: r("GET", "/v1/api-keys", writers, {
    summary: "API keys, newest first, without their secrets",
    query: PageQuery,
    response: page(ApiKey),
  }),
  revokeApiKey: r("DELETE", "/v1/api-keys/{id}", writers, {
    summary: "Revoke an API key: the authorizer refuses it from then on",
    response: ApiKey,
  }),
  listAudit: r("GET", "/v1/audit", admins, {
    summary: "The tenant's audit log, newest first; filter by actorId, resource prefix and from/to",
    query: ListAuditQuery,
    response: page(AuditEntry),
  }),

  // Agents, tools and memory: everyone reads, admins and users write. Secrets are admin-only and write-only.
  listAgents: r("GET", "/v1/agents", all, {
    summary: "The tenant's agents",
    query: PageQuery,
    response: page(Agent),
  }),
  createAgent: r("POST", "/v1/agents", writers, {
    summary: "Create an agent: provider, model, system prompt, tools and credential",
    body: CreateAgentRequest,
    response: Agent,
    status: 201,
    responses: conflictOnName,
  }),
  getAgent: r("GET", "/v1/agents/{id}", all, { summary: "An agent, by id or by name", response: Agent }),
  updateAgent: r("PUT", "/v1/agents/{id}", writers, {
    summary: "Replace an agent's definition (by id or name); agent steps that start afterwards use it",
    body: UpdateAgentRequest,
    response: Agent,
    responses: { 409: "Another agent has that name, or the agent changed meanwhile" },
  }),
  deleteAgent: r("DELETE", "/v1/agents/{id}", writers, { summary: "Delete an agent (by id or name)" }),
  listTools: r("GET", "/v1/tools", all, {
    summary: "Built-in tools (on the first page) and the tenant's custom tools",
    query: PageQuery,
    response: page(ToolSummary),
  }),
  createTool: r("POST", "/v1/tools", writers, {
    summary:
      "Create a custom HTTP tool: URL template, method, headers (may use {{secret:NAME}}) and a JSON schema",
    body: CreateToolRequest,
    response: Tool,
    status: 201,
    responses: { 409: "A tool (built-in or the tenant's) has that name" },
  }),
  getTool: r("GET", "/v1/tools/{id}", all, { summary: "A tool, by id or by name", response: ToolSummary }),
  updateTool: r("PUT", "/v1/tools/{id}", writers, {
    summary: "Replace a custom tool's definition (by id or name)",
    body: UpdateToolRequest,
    response: Tool,
    responses: { 409: "A built-in tool, another tool's name, or the tool changed meanwhile" },
  }),
  deleteTool: r("DELETE", "/v1/tools/{id}", writers, {
    summary: "Delete a custom tool (by id or name)",
    responses: { 409: "Built-in tools cannot be deleted" },
  }),
  // MCP servers: registering one connects to it (with a stored credential), as creating a tool would.
  listMcpServers: r("GET", "/v1/mcp-servers", all, {
    summary: "The tenant's MCP servers, with their tools",
    query: PageQuery,
    response: page(McpServer),
  }),
  createMcpServer: r("POST", "/v1/mcp-servers", writers, {
    summary:
      "Register an MCP server (Streamable HTTP): it is connected to, and the tools it lists are kept and returned",
    body: CreateMcpServerRequest,
    response: McpServer,
    status: 201,
    responses: { ...conflictOnName, 503: "The server's circuit breaker is open" },
  }),
  getMcpServer: r("GET", "/v1/mcp-servers/{id}", all, {
    summary: "An MCP server, by id or by name",
    response: McpServer,
  }),
  deleteMcpServer: r("DELETE", "/v1/mcp-servers/{id}", writers, {
    summary: "Forget an MCP server (by id or name); agents that name its tools fail with UNKNOWN_TOOL",
  }),
  refreshMcpServer: r("POST", "/v1/mcp-servers/{id}/refresh", writers, {
    summary: "List the server's tools again and keep the new list",
    response: McpServer,
    responses: {
      502: "The server answered, but not as an MCP server should",
      503: "The server's circuit breaker is open",
      504: "The server did not answer in time",
    },
  }),
  // Collections and sessions: everyone reads and queries; admins and users write.
  createCollection: r("POST", "/v1/collections", writers, {
    summary: "Create a vector collection with its embedding provider (bedrock, openai or the built-in local)",
    body: CreateCollectionRequest,
    response: Collection,
    status: 201,
    responses: conflictOnName,
  }),
  listCollections: r("GET", "/v1/collections", all, {
    summary: "The tenant's collections",
    query: PageQuery,
    response: page(Collection),
  }),
  getCollection: r("GET", "/v1/collections/{name}", all, {
    summary: "A collection, by name",
    response: Collection,
  }),
  deleteCollection: r("DELETE", "/v1/collections/{name}", writers, {
    summary: "Delete a collection, its index and every document in it",
  }),
  upsertDocuments: r("PUT", "/v1/collections/{name}/documents", writers, {
    summary: "Chunk, embed and upsert documents; a document's old chunks are replaced",
    body: UpsertDocumentsRequest,
    response: UpsertDocumentsResponse,
  }),
  queryCollection: r("POST", "/v1/collections/{name}/query", all, {
    summary:
      "The chunks nearest to a text, best first, optionally filtered on metadata (S3 Vectors filter syntax)",
    body: QueryCollectionRequest,
    response: QueryCollectionResponse,
  }),
  deleteDocument: r("DELETE", "/v1/collections/{name}/documents/{documentId}", writers, {
    summary: "Delete a document and its chunks",
  }),
  createSession: r("POST", "/v1/sessions", writers, {
    summary: "Start a conversation with an agent that agent nodes continue with `session`",
    body: CreateSessionRequest,
    response: Session,
    status: 201,
  }),
  listSessions: r("GET", "/v1/sessions", all, {
    summary: "The tenant's sessions, newest first",
    query: PageQuery,
    response: page(Session),
  }),
  getSession: r("GET", "/v1/sessions/{id}", all, {
    summary: "A session with its messages, oldest first",
    response: SessionWithMessages,
  }),
  deleteSession: r("DELETE", "/v1/sessions/{id}", writers, { summary: "Delete a session and its history" }),
  listSecrets: r("GET", "/v1/secrets", admins, {
    summary: "Stored credentials, by name; never their values",
    response: z.object({ items: z.array(Secret) }),
  }),
  createSecret: r("POST", "/v1/secrets", admins, {
    summary: "Store a credential (KMS envelope-encrypted); posting an existing name replaces its value",
    body: CreateSecretRequest,
    response: Secret,
    status: 201,
  }),
  deleteSecret: r("DELETE", "/v1/secrets/{name}", admins, { summary: "Delete a stored credential" }),
  listMemoryKeys: r("GET", "/v1/memory/{namespace}", all, {
    summary: "Keys in a memory namespace",
    query: PageQuery,
    response: MemoryKeys,
  }),
  getMemory: r("GET", "/v1/memory/{namespace}/{key}", all, {
    summary: "A memory entry",
    response: MemoryEntry,
  }),
  putMemory: r("PUT", "/v1/memory/{namespace}/{key}", writers, {
    summary: "Store a JSON value under namespace/key, optionally for ttlSeconds",
    body: PutMemoryRequest,
    response: MemoryEntry,
  }),
  deleteMemory: r("DELETE", "/v1/memory/{namespace}/{key}", writers, { summary: "Delete a memory entry" }),
  getUsage: r("GET", "/v1/usage", all, {
    summary:
      "Agent tokens and cost between two days (UTC), grouped by day, model, job, agent or workflow, with this month's total and budget, and the tokens-per-minute limits against their current windows",
    query: UsageQuery,
    response: UsageReport,
  }),
  getBudget: r("GET", "/v1/usage/budget", all, {
    summary: "The tenant's monthly token and dollar budget",
    response: Budget,
  }),
  putBudget: r("PUT", "/v1/usage/budget", admins, {
    summary:
      "Set the monthly budget: once spent, new agent steps fail with BUDGET_EXCEEDED (null removes a limit)",
    body: PutBudgetRequest,
    response: Budget,
  }),

  getLimits: r("GET", "/v1/limits", all, {
    summary: "Tokens-per-minute and dollars-per-job limits of the tenant and of its agents",
    response: Limits,
  }),
  putLimits: r("PUT", "/v1/limits", admins, {
    summary:
      "Set limits: an agent step over a tokens-per-minute limit waits for room (holding no compute); one that would take its job past jobUsd fails with BUDGET_EXCEEDED. null removes a limit",
    body: PutLimitsRequest,
    response: Limits,
    responses: { 409: "The limits changed meanwhile; try again" },
  }),
  jobStats: r("GET", "/v1/stats/jobs", all, {
    summary:
      "Jobs created between two instants, per hour or day: counts by status, p50/p95 duration and failure rate, overall and per workflow",
    query: JobStatsQuery,
    response: JobStats,
  }),

  // Workflows are versioned resources; validate changes nothing, so anyone may call it.
  createWorkflow: r("POST", "/v1/workflows", writers, {
    summary: "Store a workflow; this is its version 1",
    body: WorkflowDefinition,
    response: Workflow,
    status: 201,
    responses: conflictOnName,
  }),
  listWorkflows: r("GET", "/v1/workflows", all, {
    summary: "Workflows with their latest version, newest first",
    query: ListWorkflowsQuery,
    response: ListWorkflowsResponse,
  }),
  validateWorkflow: r("POST", "/v1/workflows/validate", all, {
    summary: "Check a definition without storing it",
    body: WorkflowDefinition,
    response: ValidateWorkflowResponse,
  }),
  getWorkflow: r("GET", "/v1/workflows/{id}", all, {
    summary: "A workflow at its latest version, with the definition",
    response: Workflow,
  }),
  updateWorkflow: r("PUT", "/v1/workflows/{id}", writers, {
    summary: "Store a new version; earlier versions stay as they were",
    body: WorkflowDefinition,
    response: Workflow,
    responses: { 409: "Another workflow has that name, or the workflow changed meanwhile" },
  }),
  deleteWorkflow: r("DELETE", "/v1/workflows/{id}", writers, {
    summary: "Delete a workflow (its versions stay for the jobs that ran them) and pause its schedules",
  }),
  listWorkflowVersions: r("GET", "/v1/workflows/{id}/versions", all, {
    summary: "A workflow's versions, newest first",
    query: ListWorkflowsQuery,
    response: ListWorkflowVersionsResponse,
  }),
  getWorkflowVersion: r("GET", "/v1/workflows/{id}/versions/{version}", all, {
    summary: "One version of a workflow",
    response: WorkflowVersion,
  }),

  // Approvals: viewers see them; deciding also needs the approval's own approvers list to allow the caller.
  listApprovals: r("GET", "/v1/approvals", all, {
    summary: "Approvals, newest first; filter by status or job",
    query: ListApprovalsQuery,
    response: ListApprovalsResponse,
  }),
  getApproval: r("GET", "/v1/approvals/{id}", all, {
    summary: "One approval with its decisions",
    response: Approval,
  }),
  decideApproval: r("POST", "/v1/approvals/{id}/decision", writers, {
    summary: "Approve or reject. Each approver decides once; quorum approvals approve, one rejection rejects",
    body: DecideApprovalRequest,
    response: Approval,
    responses: {
      403: "You are not one of this approval's approvers",
      409: "The approval is closed, or you already decided on it",
    },
  }),
  getAgentStats: r("GET", "/v1/agents/{id}/stats", all, {
    summary: "How often an agent's reviewed results were approved or rejected, by confidence",
    response: AgentApprovalStats,
  }),
  getAgentCalibration: r("GET", "/v1/agents/{id}/calibration", all, {
    summary:
      "Approval rate per confidence band of the agent's reviewed results, and the lowest autoApproveAt people's decisions support",
    response: AgentCalibration,
  }),
  createSchedule: r("POST", "/v1/schedules", writers, {
    summary: "Start a workflow on a schedule (EventBridge Scheduler syntax: cron, rate or at)",
    body: CreateScheduleRequest,
    response: Schedule,
    status: 201,
    responses: { 404: "No workflow with that workflowId" },
  }),
  listSchedules: r("GET", "/v1/schedules", all, {
    summary: "Schedules, newest first, with their next fire times",
    query: ListSchedulesQuery,
    response: ListSchedulesResponse,
  }),
  getSchedule: r("GET", "/v1/schedules/{id}", all, {
    summary: "A schedule with its next five fire times",
    response: Schedule,
  }),
  updateSchedule: r("PATCH", "/v1/schedules/{id}", writers, {
    summary: "Change a schedule; enabled: false pauses it, true resumes it",
    body: UpdateScheduleRequest,
    response: Schedule,
    responses: { 409: "The schedule changed meanwhile; try again" },
  }),
  deleteSchedule: r("DELETE", "/v1/schedules/{id}", writers, { summary: "Delete a schedule" }),

  // Tenant controls: everyone may read them (clients adapt to owner-only access); admins change them.
  getTenantSettings: r("GET", "/v1/tenant/settings", all, {
    summary:
      "The tenant's controls: resourceAccess (tenant: everyone sees everything; owner: users see their own)",
    response: TenantSettings,
  }),
  putTenantSettings: r("PUT", "/v1/tenant/settings", admins, {
    summary: "Change the tenant's controls; fields left out stay as they are",
    body: PutTenantSettingsRequest,
    response: TenantSettings,
  }),
  // Notification targets are tenant-wide wiring with a signing secret: admins only.
  listNotificationTargets: r("GET", "/v1/notification-targets", admins, {
    summary: "The tenant's notification targets, newest first",
    query: PageQuery,
    response: page(NotificationTarget),
  }),
  createNotificationTarget: r("POST", "/v1/notification-targets", admins, {
    summary:
      "Add a signed webhook for approval.requested, review.notified and job.failed; the secret is shown once",
    body: CreateNotificationTargetRequest,
    response: CreatedNotificationTarget,
    status: 201,
  }),
  getNotificationTarget: r("GET", "/v1/notification-targets/{id}", admins, {
    summary: "A notification target (never its secret)",
    response: NotificationTarget,
  }),
  deleteNotificationTarget: r("DELETE", "/v1/notification-targets/{id}", admins, {
    summary: "Remove a notification target; deliveries not yet made are recorded as failed",
  }),
  testNotificationTarget: r("POST", "/v1/notification-targets/{id}/test", admins, {
    summary: "Send a signed `test` delivery to the target",
    response: TestDeliveryResponse,
    status: 202,
  }),
  listNotificationDeliveries: r("GET", "/v1/notification-targets/{id}/deliveries", admins, {
    summary: "A target's deliveries, newest first, with their status, attempts and last error",
    query: PageQuery,
    response: page(NotificationDelivery),
  }),
} satisfies Record<string, RouteContract>;

export type Routes = typeof routes;
export type RouteId = keyof Routes;

export interface ContractRoute extends RouteContract {
  id: string;
}

/** The table as a list, in the order above. */
export const routeList: readonly ContractRoute[] = Object.entries(routes).map(([id, route]) => ({
  id,
  ...(route as RouteContract),
}));

export function contractRoute(id: string): ContractRoute | undefined {
  return routeList.find((route) => route.id === id);
}

/** Every status a route may answer with, and what it means: the route's own and those every route shares. */
export function statusesOf(route: RouteContract): Record<number, string> {
  const hasPathParameters = /\{\w+\}/.test(route.path);
  const hasInput = route.body !== undefined || route.query !== undefined || hasPathParameters;
  const statuses: Record<number, string> = { [route.status]: "Success" };
  if (hasInput) statuses[400] = "Invalid input";
  if (route.auth === "authorizer") {
    statuses[401] = "Missing or invalid credentials";
    statuses[403] = "Role not allowed";
    statuses[429] = "Too many requests; see Retry-After";
  }
  if (hasPathParameters) statuses[404] = "Not found";
  if (route.body !== undefined) {
    statuses[413] = "Request body too large";
    statuses[415] = "Request body is not application/json";
  }
  statuses[500] = "Internal error";
  return { ...statuses, ...route.responses };
}
