import { z } from "zod";
import { Me, TokenResponse } from "#events/auth";
import type { Collection, CollectionMatch, Session, SessionWithMessages } from "#events/collections";
import {
  type CreateJobRequest,
  CreateJobResponse,
  type JobStatus,
  JobWithSteps,
  ListJobsResponse,
} from "#events/jobs";
import { TimelineEvent } from "#events/timeline";
import { WorkflowDefinition } from "#events/workflow";
import type { HttpClient } from "./http-client.ts";
import type {
  Agent,
  ApiKey,
  Approval,
  AuditEntry,
  BreakerStatus,
  CreatedApiKey,
  McpServer,
  McpServerStatus,
  OpenApiDocument,
  Page,
  QueueStatus,
  Reachability,
  Schedule,
  SystemStatus,
  Tool,
  User,
  Workflow,
  WorkflowSummary,
  WorkflowVersion,
} from "./types.ts";

/** The job as GET /v1/jobs/{id} returns it, with the definition of the version it runs when present. */
export const JobDetail = JobWithSteps.extend({ definition: WorkflowDefinition.optional().catch(undefined) });
export type JobDetail = z.infer<typeof JobDetail>;

/** One unknown event type must not hide the rest of the timeline. */
const Timeline = z
  .object({ items: z.array(z.unknown()), cursor: z.string().optional() })
  .transform((page) => ({
    items: page.items.flatMap((item) => {
      const parsed = TimelineEvent.safeParse(item);
      return parsed.success ? [parsed.data] : [];
    }),
    cursor: page.cursor,
  }));

const LoginTokens = TokenResponse.omit({ tokenType: true });

export interface JobFilter {
  status?: JobStatus | "";
  workflowId?: string;
  cursor?: string;
}

const enc = encodeURIComponent;

export function createApi(http: HttpClient) {
  return {
    login: (email: string, password: string) =>
      http.post("/v1/auth/login", { email, password }, { auth: false, schema: LoginTokens }),
    me: () => http.get("/v1/me", { schema: Me }),

    listJobs: (filter: JobFilter) =>
      http.get("/v1/jobs", {
        query: { status: filter.status, workflowId: filter.workflowId, cursor: filter.cursor },
        schema: ListJobsResponse,
      }),
    getJob: (id: string) => http.get(`/v1/jobs/${enc(id)}`, { schema: JobDetail }),
    /** The whole timeline: long ones come in pages, each continuing after the last `seq` of the one before. */
    getJobEvents: async (id: string) => {
      const items: TimelineEvent[] = [];
      let since: string | undefined;
      for (let page = 0; page < 50; page++) {
        const result = await http.get(`/v1/jobs/${enc(id)}/events`, { query: { since }, schema: Timeline });
        items.push(...result.items);
        if (!result.cursor || result.cursor === since) break;
        since = result.cursor;
      }
      return { items };
    },
    createJob: (body: CreateJobRequest) => http.post("/v1/jobs", body, { schema: CreateJobResponse }),
    cancelJob: (id: string) => http.post<unknown>(`/v1/jobs/${enc(id)}/cancel`),
    retryJob: (id: string) => http.post<unknown>(`/v1/jobs/${enc(id)}/retry`),

    listWorkflows: (cursor?: string) =>
      http.get<Page<WorkflowSummary>>("/v1/workflows", { query: { cursor } }),
    getWorkflow: (id: string) => http.get<Workflow>(`/v1/workflows/${enc(id)}`),
    createWorkflow: (definition: unknown) => http.post<Workflow>("/v1/workflows", definition),
    updateWorkflow: (id: string, definition: unknown) =>
      http.put<Workflow>(`/v1/workflows/${enc(id)}`, definition),
    validateWorkflow: (definition: unknown) =>
      http.post<{ valid: boolean }>("/v1/workflows/validate", definition),
    listWorkflowVersions: (id: string) =>
      http.get<Page<WorkflowVersion>>(`/v1/workflows/${enc(id)}/versions`),
    getWorkflowVersion: (id: string, version: number) =>
      http.get<WorkflowVersion>(`/v1/workflows/${enc(id)}/versions/${version}`),

    listApprovals: () => http.get<Page<Approval>>("/v1/approvals", { query: { status: "pending" } }),
    decideApproval: (id: string, decision: "approve" | "reject", comment?: string) =>
      http.post<unknown>(`/v1/approvals/${enc(id)}/decision`, comment ? { decision, comment } : { decision }),

    listAgents: () => http.get<Page<Agent>>("/v1/agents"),
    createAgent: (body: unknown) => http.post<Agent>("/v1/agents", body),
    deleteAgent: (id: string) => http.delete<unknown>(`/v1/agents/${enc(id)}`),

    listCollections: () => http.get<Page<Collection>>("/v1/collections"),
    createCollection: (body: unknown) => http.post<Collection>("/v1/collections", body),
    deleteCollection: (name: string) => http.delete<unknown>(`/v1/collections/${enc(name)}`),
    upsertDocuments: (name: string, documents: unknown) =>
      http.put<unknown>(`/v1/collections/${enc(name)}/documents`, { documents }),
    queryCollection: (name: string, body: { text: string; topK?: number; filter?: unknown }) =>
      http.post<{ matches: CollectionMatch[] }>(`/v1/collections/${enc(name)}/query`, body),
    listSessions: () => http.get<Page<Session>>("/v1/sessions"),
    getSession: (id: string) => http.get<SessionWithMessages>(`/v1/sessions/${enc(id)}`),
    deleteSession: (id: string) => http.delete<unknown>(`/v1/sessions/${enc(id)}`),
    listTools: () => http.get<Page<Tool>>("/v1/tools"),
    createTool: (body: unknown) => http.post<Tool>("/v1/tools", body),

    listMcpServers: () => http.get<Page<McpServer>>("/v1/mcp-servers"),
    createMcpServer: (body: { name: string; url: string; secret?: string }) =>
      http.post<McpServer>("/v1/mcp-servers", body),
    refreshMcpServer: (id: string) => http.post<McpServer>(`/v1/mcp-servers/${enc(id)}/refresh`),
    deleteMcpServer: (id: string) => http.delete<unknown>(`/v1/mcp-servers/${enc(id)}`),

    listSchedules: () => http.get<Page<Schedule>>("/v1/schedules"),
    createSchedule: (body: unknown) => http.post<Schedule>("/v1/schedules", body),
    deleteSchedule: (id: string) => http.delete<unknown>(`/v1/schedules/${enc(id)}`),

    listApiKeys: () => http.get<Page<ApiKey>>("/v1/api-keys"),
    createApiKey: (body: { name: string; role: string; expiresAt?: string }) =>
      http.post<CreatedApiKey>("/v1/api-keys", body),
    revokeApiKey: (id: string) => http.delete<unknown>(`/v1/api-keys/${enc(id)}`),

    listUsers: () => http.get<Page<User>>("/v1/users"),
    createUser: (body: { email: string; password: string; role: string }) =>
      http.post<User>("/v1/users", body),

    systemStatus: async () => normaliseStatus(await http.get<unknown>("/v1/system/status")),
    redriveDlq: () =>
      http.post<{ taskHandle?: string; movedFromQueue?: number; rerunJobs?: string[]; cleared?: number }>(
        "/v1/system/dlq/redrive",
      ),
    /** Public, like the document itself: the reference is readable before anything else loads. */
    openApi: () => http.get<OpenApiDocument>("/openapi.json", { auth: false }),

    listAudit: (cursor?: string) => http.get<Page<AuditEntry>>("/v1/audit", { query: { cursor } }),
  };
}

export type Api = ReturnType<typeof createApi>;

/**
 * The status route's body is the least settled part of the contract, so accept the plausible spellings
 * (queues as a list or a map, the DLQ per queue, as a number or as an object) rather than show nothing.
 */
export function normaliseStatus(raw: unknown): SystemStatus {
  const body = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const num = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);
  const queueFrom = (name: string, value: unknown): QueueStatus => {
    if (typeof value === "number") return { name, visible: value };
    const q = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
    const inFlight = num(q.inFlight) ?? num(q.notVisible);
    const delayed = num(q.delayed);
    const dlq =
      num(q.dlq) ?? (q.dlq && typeof q.dlq === "object" ? queueFrom("dlq", q.dlq).visible : undefined);
    return {
      name: typeof q.name === "string" ? q.name : name,
      visible: num(q.visible) ?? num(q.depth) ?? num(q.messages) ?? num(q.approximateNumberOfMessages) ?? 0,
      ...(inFlight === undefined ? {} : { inFlight }),
      ...(delayed === undefined ? {} : { delayed }),
      ...(dlq === undefined ? {} : { dlq }),
    };
  };
  const queues = Array.isArray(body.queues)
    ? body.queues.map((q, i) => queueFrom(`queue ${i + 1}`, q))
    : body.queues && typeof body.queues === "object"
      ? Object.entries(body.queues).map(([name, q]) => queueFrom(name, q))
      : [];
  const dlqRaw = body.dlq;
  const perQueue = queues.some((q) => q.dlq !== undefined)
    ? queues.reduce((sum, q) => sum + (q.dlq ?? 0), 0)
    : undefined;
  const dlqCount =
    num(dlqRaw) ??
    num(body.dlqCount) ??
    (dlqRaw && typeof dlqRaw === "object"
      ? (num((dlqRaw as Record<string, unknown>).count) ?? queueFrom("dlq", dlqRaw).visible)
      : (perQueue ?? 0));
  const providersRaw = body.providers;
  const providers = Array.isArray(providersRaw)
    ? providersRaw.map((p) => (typeof p === "string" ? p : providerFrom(p as Record<string, unknown>)))
    : providersRaw && typeof providersRaw === "object"
      ? Object.entries(providersRaw).map(([name, configured]) => ({
          name,
          configured: Boolean(configured),
          endpoints: [],
        }))
      : [];
  const list = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
  return {
    queues,
    dlq: { count: dlqCount },
    providers,
    breakers: list<BreakerStatus>(body.breakers),
    mcpServers: list<McpServerStatus>(body.mcpServers),
  };
}

function providerFrom(p: Record<string, unknown>) {
  return {
    name: String(p?.name ?? "?"),
    configured: p?.configured !== false,
    ...(typeof p?.reachable === "boolean" ? { reachable: p.reachable } : {}),
    endpoints: Array.isArray(p?.endpoints) ? (p.endpoints as Reachability[]) : [],
  };
}
