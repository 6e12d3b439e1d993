import { Budget, PutBudgetRequest, UsageQuery, UsageReport } from "#events/agents";
import { getBudget, putBudget, usageReport } from "../../stores/usage.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const usageRoutes: RouteTable = {
  getUsage: defineRoute({
    summary:
      "Agent tokens and cost between two days (UTC), grouped by day, model or job, with this month's total and budget",
    query: UsageQuery,
    response: UsageReport,
    handle: ({ query, principal }) => usageReport(principal.tenantId, query),
  }),
  getBudget: defineRoute({
    summary: "The tenant's monthly token and dollar budget",
    response: Budget,
    handle: async ({ principal }) => (await getBudget(principal.tenantId)) ?? {},
  }),
  putBudget: defineRoute({
    summary:
      "Set the monthly budget: once spent, new agent steps fail with BUDGET_EXCEEDED (null removes a limit)",
    body: PutBudgetRequest,
    response: Budget,
    handle: ({ body, principal }) => putBudget(principal.tenantId, body),
  }),
};
