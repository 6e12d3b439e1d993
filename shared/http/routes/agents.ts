import { Agent, CreateAgentRequest, UpdateAgentRequest } from "#events/agents";
import { PageQuery, page } from "#events/auth";
import { accessScope, visibleOrNotFound } from "../../auth/ownership.ts";
import { validationFailed } from "../../errors.ts";
import { createAgent, deleteAgent, listAgents, resolveAgent, updateAgent } from "../../stores/agents.ts";
import { checkDestination, EgressError } from "../../tools/egress.ts";
import { toolNames } from "../../tools/registry.ts";
import { defineRoute, type Principal, type RouteTable } from "../api.ts";

/**
 * Checks what the schema cannot: the tools exist, a scripted agent only calls tools it lists, and a
 * `baseUrl` is not one the egress guard would refuse anyway (checked again on every call, since DNS
 * can change).
 */
async function checkAgent(tenantId: string, body: CreateAgentRequest): Promise<void> {
  const problems: { path: string; message: string; code: string }[] = [];
  const available = await toolNames(tenantId);
  const listed = new Set(body.tools ?? []);
  (body.tools ?? []).forEach((name, i) => {
    if (!available.has(name) && !available.has(name.toLowerCase())) {
      problems.push({ path: `tools.${i}`, message: `unknown tool "${name}"`, code: "custom" });
    }
  });
  body.script?.rules.forEach((rule, i) => {
    if (rule.toolCall && !listed.has(rule.toolCall.name)) {
      problems.push({
        path: `script.rules.${i}.toolCall.name`,
        message: `the agent does not list tool "${rule.toolCall.name}" in tools`,
        code: "custom",
      });
    }
  });
  if (body.baseUrl !== undefined && body.provider !== "scripted") {
    try {
      await checkDestination(new URL(body.baseUrl));
    } catch (error) {
      // Only a refusal is final here; a name that does not resolve yet may resolve when the agent runs.
      if (error instanceof EgressError && error.code === "EGRESS_DENIED") {
        problems.push({ path: "baseUrl", message: error.message, code: "custom" });
      }
    }
  }
  if (problems.length > 0) throw validationFailed("The agent is not valid", problems);
}

/** Under owner-only access, an agent another user created is not found; unrestricted callers skip the read. */
async function requireAgent(principal: Principal, id: string): Promise<void> {
  const scope = await accessScope(principal);
  if (scope.ownerId !== undefined)
    visibleOrNotFound(scope, await resolveAgent(principal.tenantId, id), "Agent", id);
}

export const agentRoutes: RouteTable = {
  createAgent: defineRoute({
    summary: "Create an agent: provider, model, system prompt, tools and credential",
    body: CreateAgentRequest,
    response: Agent,
    status: 201,
    handle: async ({ body, principal }) => {
      await checkAgent(principal.tenantId, body);
      return createAgent(principal.tenantId, body, principal.principalId);
    },
  }),
  listAgents: defineRoute({
    summary: "The tenant's agents",
    query: PageQuery,
    response: page(Agent),
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listAgents(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  }),
  getAgent: defineRoute({
    summary: "An agent, by id or by name",
    response: Agent,
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      return visibleOrNotFound(
        await accessScope(principal),
        await resolveAgent(principal.tenantId, id),
        "Agent",
        id,
      );
    },
  }),
  updateAgent: defineRoute({
    summary: "Replace an agent's definition (by id or name); agent steps that start afterwards use it",
    body: UpdateAgentRequest,
    response: Agent,
    handle: async ({ params, body, principal }) => {
      await requireAgent(principal, params.id ?? "");
      await checkAgent(principal.tenantId, body);
      return updateAgent(principal.tenantId, params.id ?? "", body);
    },
    audit: (_request, result) => ({ resource: `/v1/agents/${(result as Agent).id}` }),
  }),
  deleteAgent: defineRoute({
    summary: "Delete an agent (by id or name)",
    handle: async ({ params, principal }) => {
      await requireAgent(principal, params.id ?? "");
      await deleteAgent(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  }),
};
