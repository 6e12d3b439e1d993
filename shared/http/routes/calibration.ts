import { requireAgentAccess } from "../../auth/ownership.ts";
import { agentCalibration } from "../../calibration/service.ts";
import { implementRoutes } from "../api.ts";

export const calibrationRoutes = implementRoutes({
  getAgentCalibration: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      await requireAgentAccess(principal, id);
      return agentCalibration(principal.tenantId, id);
    },
  },
});
