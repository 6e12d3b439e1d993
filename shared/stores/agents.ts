import { type Agent, type CreateAgentRequest, DEFAULT_AGENT_TURNS } from "#events/agents";
import { nowIso } from "../db.ts";
import { notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { namedResources } from "./named.ts";

/**
 * Agents live in their tenant's agents partition: one item per agent (`A#<id>`) and one name claim
 * (`N#<name>`) that makes names unique per tenant (see named.ts).
 */
const agents = namedResources({
  label: "Agent",
  article: "An",
  partition: (tenantId) => `T#${tenantId}#AGENTS`,
  itemPrefix: "A#",
  idPrefix: "ag_",
  claimType: "agentName",
  claimIdAttribute: "agentId",
});

const AGENT_FIELDS = [
  "id",
  "name",
  "description",
  "provider",
  "model",
  "systemPrompt",
  "tools",
  "baseUrl",
  "secret",
  "maxTurns",
  "temperature",
  "maxTokens",
  "script",
  "createdAt",
  "updatedAt",
  "createdBy",
] as const;

function toAgent(item: Record<string, unknown>): Agent {
  const agent: Record<string, unknown> = {};
  for (const field of AGENT_FIELDS) if (item[field] !== undefined) agent[field] = item[field];
  return agent as Agent;
}

function agentItem(agent: Agent): Record<string, unknown> {
  return { type: "agent", ...agent };
}

export async function createAgent(
  tenantId: string,
  body: CreateAgentRequest,
  createdBy: string,
): Promise<Agent> {
  const now = nowIso();
  const agent: Agent = {
    ...body,
    id: newId("ag_"),
    maxTurns: body.maxTurns ?? DEFAULT_AGENT_TURNS,
    createdAt: now,
    updatedAt: now,
    createdBy,
  };
  await agents.create(tenantId, agent, agentItem(agent));
  return agent;
}

export async function getAgent(tenantId: string, id: string): Promise<Agent | undefined> {
  const item = await agents.getItem(tenantId, id);
  return item === undefined ? undefined : toAgent(item);
}

/** A workflow node names its agent by id or by name; an id wins when both could match. */
export async function resolveAgent(tenantId: string, nameOrId: string): Promise<Agent | undefined> {
  const item = await agents.resolve(tenantId, nameOrId);
  return item === undefined ? undefined : toAgent(item);
}

export async function agentExists(tenantId: string, nameOrId: string): Promise<boolean> {
  return (await resolveAgent(tenantId, nameOrId)) !== undefined;
}

export async function listAgents(
  tenantId: string,
  options: { cursor?: string; limit?: number; createdBy?: string } = {},
): Promise<{ items: Agent[]; cursor?: string }> {
  const page = await agents.page(tenantId, options);
  return { ...page, items: page.items.map(toAgent) };
}

/** Every agent name and id of a tenant, for checking a workflow's references in one read. */
export function agentNames(tenantId: string): Promise<Set<string>> {
  return agents.names(tenantId);
}

/** Replaces an agent's definition; its id, creation time and author stay. A new name is claimed atomically. */
export async function updateAgent(
  tenantId: string,
  nameOrId: string,
  body: CreateAgentRequest,
): Promise<Agent> {
  const current = await resolveAgent(tenantId, nameOrId);
  if (current === undefined) throw notFound("Agent", nameOrId);
  const agent: Agent = {
    ...body,
    id: current.id,
    maxTurns: body.maxTurns ?? DEFAULT_AGENT_TURNS,
    createdAt: current.createdAt,
    createdBy: current.createdBy,
    updatedAt: nowIso(),
  };
  await agents.replace(tenantId, current, agent, agentItem(agent));
  return agent;
}

export async function deleteAgent(tenantId: string, nameOrId: string): Promise<Agent> {
  const current = await resolveAgent(tenantId, nameOrId);
  if (current === undefined) throw notFound("Agent", nameOrId);
  await agents.remove(tenantId, current, nameOrId);
  return current;
}
