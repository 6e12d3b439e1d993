import {
  AgentApprovalStats,
  Approval,
  DecideApprovalRequest,
  ListApprovalsQuery,
  ListApprovalsResponse,
} from "#events/approvals";
import { agentApprovalStats, decideApproval, getApproval, listApprovals } from "../../approvals/service.ts";
import { accessScope, visibleOrNotFound } from "../../auth/ownership.ts";
import { resolveAgent } from "../../stores/agents.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const approvalRoutes: RouteTable = {
  listApprovals: defineRoute({
    summary: "Approvals, newest first; filter by status or job",
    query: ListApprovalsQuery,
    response: ListApprovalsResponse,
    handle: ({ query, principal }) => listApprovals(principal.tenantId, query),
  }),
  getApproval: defineRoute({
    summary: "One approval with its decisions",
    response: Approval,
    handle: ({ params, principal }) => getApproval(principal.tenantId, params.id ?? ""),
  }),
  decideApproval: defineRoute({
    summary: "Approve or reject. Each approver decides once; quorum approvals approve, one rejection rejects",
    body: DecideApprovalRequest,
    response: Approval,
    audit: ({ params }) => ({ resource: `/v1/approvals/${params.id ?? ""}` }),
    handle: ({ params, body, principal }) =>
      decideApproval(
        {
          tenantId: principal.tenantId,
          principalId: principal.principalId,
          role: principal.role,
          ...(principal.email === undefined ? {} : { email: principal.email }),
        },
        params.id ?? "",
        body,
      ),
  }),
  getAgentStats: defineRoute({
    summary: "How often an agent's reviewed results were approved or rejected, by confidence",
    response: AgentApprovalStats,
    handle: async ({ params, principal }) => {
      const scope = await accessScope(principal);
      if (scope.ownerId !== undefined) {
        const id = params.id ?? "";
        visibleOrNotFound(scope, await resolveAgent(principal.tenantId, id), "Agent", id);
      }
      return agentApprovalStats(principal.tenantId, params.id ?? "");
    },
  }),
};
