import { jobStats } from "../../stats/service.ts";
import { implementRoutes } from "../api.ts";

export const statsRoutes = implementRoutes({
  jobStats: {
    handle: ({ query, principal }) => jobStats(principal.tenantId, query),
  },
});
