import { agentApprovalStats, decideApproval, getApproval, listApprovals } from "../../approvals/service.ts";
import { requireAgentAccess } from "../../auth/ownership.ts";
import { implementRoutes } from "../api.ts";

export const approvalRoutes = implementRoutes({
  listApprovals: {
    handle: ({ query, principal }) => listApprovals(principal.tenantId, query),
  },
  getApproval: {
    handle: ({ params, principal }) => getApproval(principal.tenantId, params.id ?? ""),
  },
  decideApproval: {
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
  },
  getAgentStats: {
    handle: async ({ params, principal }) => {
      await requireAgentAccess(principal, params.id ?? "");
      return agentApprovalStats(principal.tenantId, params.id ?? "");
    },
  },
});
