import { AgentCalibration } from "#events/calibration";
import { accessScope, visibleOrNotFound } from "../../auth/ownership.ts";
import { agentCalibration } from "../../calibration/service.ts";
import { resolveAgent } from "../../stores/agents.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const calibrationRoutes: RouteTable = {
  getAgentCalibration: defineRoute({
    summary:
      "Approval rate per confidence band of the agent's reviewed results, and the lowest autoApproveAt people's decisions support",
    response: AgentCalibration,
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      const scope = await accessScope(principal);
      if (scope.ownerId !== undefined) {
        visibleOrNotFound(scope, await resolveAgent(principal.tenantId, id), "Agent", id);
      }
      return agentCalibration(principal.tenantId, id);
    },
  }),
};
