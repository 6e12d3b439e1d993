import type { Agent, CreateAgentRequest } from "#events/agents";
import { parseMcpToolRef } from "#events/mcp";
import { accessScope, requireAgentAccess, visibleOrNotFound } from "../../auth/ownership.ts";
import { validationFailed } from "../../errors.ts";
import { createAgent, deleteAgent, listAgents, resolveAgent, updateAgent } from "../../stores/agents.ts";
import { checkDestination, EgressError } from "../../tools/egress.ts";
import { toolNames } from "../../tools/registry.ts";
import { implementRoutes } from "../api.ts";

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
    const mcp = rule.toolCall ? parseMcpToolRef(rule.toolCall.name) : undefined;
    const viaWildcard = mcp !== undefined && listed.has(`mcp:${mcp.server}/*`);
    if (rule.toolCall && !listed.has(rule.toolCall.name) && !viaWildcard) {
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

export const agentRoutes = implementRoutes({
  createAgent: {
    handle: async ({ body, principal }) => {
      await checkAgent(principal.tenantId, body);
      return createAgent(principal.tenantId, body, principal.principalId);
    },
  },
  listAgents: {
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listAgents(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  },
  getAgent: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      return visibleOrNotFound(
        await accessScope(principal),
        await resolveAgent(principal.tenantId, id),
        "Agent",
        id,
      );
    },
  },
  updateAgent: {
    handle: async ({ params, body, principal }) => {
      await requireAgentAccess(principal, params.id ?? "");
      await checkAgent(principal.tenantId, body);
      return updateAgent(principal.tenantId, params.id ?? "", body);
    },
    audit: (_request, result) => ({ resource: `/v1/agents/${(result as Agent).id}` }),
  },
  deleteAgent: {
    handle: async ({ params, principal }) => {
      await requireAgentAccess(principal, params.id ?? "");
      await deleteAgent(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  },
});
