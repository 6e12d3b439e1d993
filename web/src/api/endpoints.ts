import { z } from "zod";
import { type Api as ContractApi, createApi as createContractApi, type RouteInput } from "#events/client";
import { type JobStatus, JobWithSteps } from "#events/jobs";
import { TimelineEvent } from "#events/timeline";
import { WorkflowDefinition } from "#events/workflow";
import { ApiError } from "./api-error.ts";
import type { HttpClient } from "./http-client.ts";
import type {
  BreakerStatus,
  McpServerStatus,
  OpenApiDocument,
  QueueStatus,
  Reachability,
  SystemStatus,
} from "./types.ts";

/** The job as GET /v1/jobs/{id} returns it; a definition this build cannot read does not hide the job. */
export const JobDetail = JobWithSteps.extend({
  definition: WorkflowDefinition.optional().catch(undefined),
});
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

export interface JobFilter {
  status?: JobStatus | "";
  workflowId?: string;
  /** Id prefix or part of the workflow name. */
  q?: string;
  /** Creation dates, `YYYY-MM-DD`, both inclusive. */
  from?: string;
  to?: string;
  cursor?: string;
  limit?: number;
}

/**
 * Answers the dashboard renders are checked against the contract; lists are typed, not parsed, so one odd
 * item degrades a row instead of failing the page, and the job and its timeline are parsed here, tolerantly.
 */
const CHECKED = new Set([
  "login",
  "me",
  "listJobs",
  "createJob",
  "cancelJob",
  "retryJob",
  "bulkJobs",
  "rerunJob",
]);

type Body<Id extends keyof ContractApi> = RouteInput<Id> extends { body: infer B } ? B : never;

/** The contract's client on the dashboard's HTTP client (token refresh, errors), plus the pages' helpers. */
export function createApi(http: HttpClient) {
  const api = createContractApi((request) => http.route(request), {
    validate: (id) => CHECKED.has(id),
    mismatch: (error) =>
      new ApiError(200, { code: "UNEXPECTED_RESPONSE", message: error.message, details: error.issues }),
  });
  return {
    contract: api,
    login: (email: string, password: string) => api.login({ body: { email, password } }),
    me: () => api.me(),

    listJobs: (filter: JobFilter) =>
      api.listJobs({
        query: {
          status: filter.status === "" ? undefined : filter.status,
          workflowId: filter.workflowId,
          q: filter.q || undefined,
          from: filter.from || undefined,
          to: filter.to || undefined,
          cursor: filter.cursor,
          limit: filter.limit,
        },
      }),
    getJob: async (id: string) => JobDetail.parse(await api.getJob({ params: { id } })),
    /** The whole timeline: long ones come in pages, each continuing after the last `seq` of the one before. */
    getJobEvents: async (id: string) => {
      const items: TimelineEvent[] = [];
      let since: string | undefined;
      for (let page = 0; page < 50; page++) {
        const result = Timeline.parse(await api.getJobEvents({ params: { id }, query: { since } }));
        items.push(...result.items);
        if (!result.cursor || result.cursor === since) break;
        since = result.cursor;
      }
      return { items };
    },
    createJob: (body: Body<"createJob">) => api.createJob({ body }),
    cancelJob: (id: string) => api.cancelJob({ params: { id } }),
    retryJob: (id: string) => api.retryJob({ params: { id } }),
    bulkJobs: (action: "cancel" | "retry", ids: string[]) => api.bulkJobs({ body: { action, ids } }),
    rerunJob: (id: string, body: Body<"rerunJob">) => api.rerunJob({ params: { id }, body }),

    listWorkflows: (cursor?: string) => api.listWorkflows({ query: { cursor } }),
    getWorkflow: (id: string) => api.getWorkflow({ params: { id } }),
    createWorkflow: (definition: unknown) =>
      api.createWorkflow({ body: definition as Body<"createWorkflow"> }),
    updateWorkflow: (id: string, definition: unknown) =>
      api.updateWorkflow({ params: { id }, body: definition as Body<"updateWorkflow"> }),
    validateWorkflow: (definition: unknown) =>
      api.validateWorkflow({ body: definition as Body<"validateWorkflow"> }),
    listWorkflowVersions: (id: string) => api.listWorkflowVersions({ params: { id } }),
    getWorkflowVersion: (id: string, version: number) => api.getWorkflowVersion({ params: { id, version } }),

    listApprovals: () => api.listApprovals({ query: { status: "pending" } }),
    listJobApprovals: (jobId: string) => api.listApprovals({ query: { jobId } }),
    decideApproval: (id: string, decision: "approve" | "reject", comment?: string) =>
      api.decideApproval({ params: { id }, body: comment ? { decision, comment } : { decision } }),

    listAgents: () => api.listAgents(),
    createAgent: (body: unknown) => api.createAgent({ body: body as Body<"createAgent"> }),
    updateAgent: (id: string, body: unknown) =>
      api.updateAgent({ params: { id }, body: body as Body<"updateAgent"> }),
    deleteAgent: (id: string) => api.deleteAgent({ params: { id } }),

    listTools: () => api.listTools(),
    createTool: (body: unknown) => api.createTool({ body: body as Body<"createTool"> }),

    listCollections: () => api.listCollections(),
    createCollection: (body: unknown) => api.createCollection({ body: body as Body<"createCollection"> }),
    deleteCollection: (name: string) => api.deleteCollection({ params: { name } }),
    upsertDocuments: (name: string, documents: unknown) =>
      api.upsertDocuments({ params: { name }, body: { documents } as Body<"upsertDocuments"> }),
    queryCollection: (name: string, body: Body<"queryCollection">) =>
      api.queryCollection({ params: { name }, body }),
    listSessions: () => api.listSessions(),
    createSession: (agent: string) => api.createSession({ body: { agent } }),
    deleteDocument: (name: string, documentId: string) =>
      api.deleteDocument({ params: { name, documentId } }),
    getSession: (id: string) => api.getSession({ params: { id } }),
    deleteSession: (id: string) => api.deleteSession({ params: { id } }),

    listMcpServers: () => api.listMcpServers(),
    createMcpServer: (body: Body<"createMcpServer">) => api.createMcpServer({ body }),
    refreshMcpServer: (id: string) => api.refreshMcpServer({ params: { id } }),
    deleteMcpServer: (id: string) => api.deleteMcpServer({ params: { id } }),

    listSchedules: () => api.listSchedules(),
    createSchedule: (body: unknown) => api.createSchedule({ body: body as Body<"createSchedule"> }),
    updateSchedule: (id: string, body: unknown) =>
      api.updateSchedule({ params: { id }, body: body as Body<"updateSchedule"> }),
    deleteSchedule: (id: string) => api.deleteSchedule({ params: { id } }),

    listApiKeys: () => api.listApiKeys(),
    createApiKey: (body: Body<"createApiKey">) => api.createApiKey({ body }),
    revokeApiKey: (id: string) => api.revokeApiKey({ params: { id } }),

    listUsers: () => api.listUsers(),
    createUser: (body: Body<"createUser">) => api.createUser({ body }),
    updateUser: (id: string, body: Body<"updateUser">) => api.updateUser({ params: { id }, body }),
    deleteUser: (id: string) => api.deleteUser({ params: { id } }),

    listSecrets: () => api.listSecrets(),
    putSecret: (body: Body<"createSecret">) => api.createSecret({ body }),
    deleteSecret: (name: string) => api.deleteSecret({ params: { name } }),

    listMemoryKeys: (namespace: string, cursor?: string) =>
      api.listMemoryKeys({ params: { namespace }, query: { cursor } }),
    getMemory: (namespace: string, key: string) => api.getMemory({ params: { namespace, key } }),
    putMemory: (namespace: string, key: string, body: Body<"putMemory">) =>
      api.putMemory({ params: { namespace, key }, body }),
    deleteMemory: (namespace: string, key: string) => api.deleteMemory({ params: { namespace, key } }),

    getUsage: (query: RouteInput<"getUsage">["query"] = {}) => api.getUsage({ query }),
    getBudget: () => api.getBudget(),
    putBudget: (body: Body<"putBudget">) => api.putBudget({ body }),
    getLimits: () => api.getLimits(),
    putLimits: (body: Body<"putLimits">) => api.putLimits({ body }),

    listNotificationTargets: () => api.listNotificationTargets(),
    createNotificationTarget: (body: Body<"createNotificationTarget">) =>
      api.createNotificationTarget({ body }),
    deleteNotificationTarget: (id: string) => api.deleteNotificationTarget({ params: { id } }),
    testNotificationTarget: (id: string) => api.testNotificationTarget({ params: { id } }),
    listNotificationDeliveries: (id: string) => api.listNotificationDeliveries({ params: { id } }),
    getAgentCalibration: (id: string) => api.getAgentCalibration({ params: { id } }),
    jobStats: (query: RouteInput<"jobStats">["query"] = {}) => api.jobStats({ query }),

    systemStatus: async () => normaliseStatus(await api.systemStatus()),
    redriveDlq: () => api.redriveDeadLetters(),
    /** Public, like the document itself: the reference is readable before anything else loads. */
    openApi: async () => (await api.openapi()) as OpenApiDocument,

    listAudit: (cursor?: string) => api.listAudit({ query: { cursor } }),
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
