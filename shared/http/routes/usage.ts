import { getBudget, putBudget, usageReport } from "../../stores/usage.ts";
import { implementRoutes } from "../api.ts";

export const usageRoutes = implementRoutes({
  getUsage: {
    handle: ({ query, principal }) => usageReport(principal.tenantId, query),
  },
  getBudget: {
    handle: async ({ principal }) => (await getBudget(principal.tenantId)) ?? {},
  },
  putBudget: {
    handle: ({ body, principal }) => putBudget(principal.tenantId, body),
  },
});
