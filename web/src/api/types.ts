/**
 * Resource shapes, from the shared schemas where they exist. List responses are typed, not parsed, so
 * one odd item degrades a row instead of failing the page; job data, which drives live state, is parsed.
 */

export type { Agent, ToolSummary as Tool } from "#events/agents";
export type { Approval } from "#events/approvals";
export type { ApiKey, AuditEntry, CreatedApiKey, User } from "#events/auth";
export type { McpServer, McpTool } from "#events/mcp";
export type { Schedule } from "#events/schedules";
export type { Workflow, WorkflowSummary, WorkflowVersion } from "#events/workflows-api";

export interface Page<T> {
  items: T[];
  cursor?: string;
}

/** GET /v1/system/status, normalised (see `normaliseStatus`). */
export interface QueueStatus {
  name: string;
  /** Messages waiting to be received. */
  visible: number;
  inFlight?: number;
  delayed?: number;
  /** Messages in this queue's dead-letter queue. */
  dlq?: number;
}

export interface Reachability {
  url: string;
  reachable: boolean;
  httpStatus?: number;
  latencyMs?: number;
  error?: string;
  checkedAt?: string;
}

export interface ProviderStatus {
  name: string;
  configured: boolean;
  /** Undefined when the API did not check (an older platform). */
  reachable?: boolean;
  endpoints: Reachability[];
}

export interface BreakerStatus {
  kind: string;
  target: string;
  state: "closed" | "open" | "half_open";
  failures: number;
  openedAt?: string;
  updatedAt?: string;
  lastError?: string;
}

export interface McpServerStatus extends Reachability {
  id: string;
  name: string;
}

/** GET /openapi.json: the parts the API reference page shows. */
export interface OpenApiOperation {
  operationId?: string;
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
  "x-roles"?: string[];
}

export interface OpenApiDocument {
  info?: { title?: string; version?: string };
  paths?: Record<string, Record<string, OpenApiOperation>>;
}

export interface SystemStatus {
  queues: QueueStatus[];
  dlq: { count: number };
  providers: (ProviderStatus | string)[];
  breakers: BreakerStatus[];
  mcpServers: McpServerStatus[];
}
