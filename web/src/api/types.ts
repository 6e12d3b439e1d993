import type { Role } from "#events/auth";
import type { WorkflowDefinition } from "#events/workflow";

/**
 * Response shapes of the resource routes that have no schema in `events/` yet. Fields the dashboard can
 * live without are optional, so a page degrades instead of failing when one is missing.
 */

export interface Page<T> {
  items: T[];
  cursor?: string;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  description?: string;
  /** The latest version. */
  version?: number;
  createdAt?: string;
  updatedAt?: string;
}

export interface Workflow extends WorkflowSummary {
  definition: WorkflowDefinition;
}

export interface WorkflowVersion {
  version: number;
  createdAt?: string;
  createdBy?: string;
  definition?: WorkflowDefinition;
}

export interface Approval {
  id: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  message: string;
  preview?: unknown;
  confidence?: number;
  status: "pending" | "approved" | "rejected" | string;
  createdAt: string;
  workflowName?: string;
}

export interface Agent {
  id: string;
  name: string;
  provider: "bedrock" | "openai" | "anthropic" | "scripted" | string;
  model: string;
  systemPrompt?: string;
  tools?: string[];
  baseUrl?: string;
  secret?: string;
  maxTurns?: number;
  createdAt?: string;
}

export interface Tool {
  id: string;
  name: string;
  type?: string;
  description?: string;
  builtIn?: boolean;
  createdAt?: string;
}

export interface Schedule {
  id: string;
  name?: string;
  expression: string;
  timezone?: string;
  enabled: boolean;
  workflowId: string;
  input?: unknown;
  /** The next few times it fires, ISO-8601. */
  nextFireTimes?: string[];
  createdAt?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: Role;
  createdAt?: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export interface CreatedApiKey {
  id: string;
  key: string;
  prefix: string;
  role: Role;
}

export interface User {
  id: string;
  email: string;
  role: Role;
  createdAt?: string;
}

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

export interface SystemStatus {
  queues: QueueStatus[];
  dlq: { name?: string; count: number };
  providers: (ProviderStatus | string)[];
}

export interface AuditEntry {
  id: string;
  at: string;
  action: string;
  principalId?: string;
  principalType?: string;
  email?: string;
  resource?: string;
  resourceId?: string;
  requestId?: string;
}
