/**
 * Resource shapes, from the shared schemas where they exist. List responses are typed, not parsed, so
 * one odd item degrades a row instead of failing the page; job data, which drives live state, is parsed.
 */

export type { Agent, ToolSummary as Tool } from "#events/agents";
export type { Approval } from "#events/approvals";
export type { ApiKey, AuditEntry, CreatedApiKey, User } from "#events/auth";
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

export interface ProviderStatus {
  name: string;
  configured: boolean;
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
}
