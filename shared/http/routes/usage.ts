import { limitsUsage, putLimits } from "../../limits/service.ts";
import { getLimits } from "../../limits/store.ts";
import { getBudget, putBudget, usageReport } from "../../stores/usage.ts";
import { implementRoutes } from "../api.ts";

export const usageRoutes = implementRoutes({
  getUsage: {
    handle: async ({ query, principal }) => {
      const [report, limits] = await Promise.all([
        usageReport(principal.tenantId, query),
        limitsUsage(principal.tenantId),
      ]);
      return { ...report, limits };
    },
  },
  getBudget: {
    handle: async ({ principal }) => (await getBudget(principal.tenantId)) ?? {},
  },
  getLimits: {
    handle: ({ principal }) => getLimits(principal.tenantId),
  },
  putLimits: {
    audit: () => ({ resource: "/v1/limits" }),
    handle: ({ body, principal }) => putLimits(principal.tenantId, body),
  },
  putBudget: {
    handle: ({ body, principal }) => putBudget(principal.tenantId, body),
  },
});
