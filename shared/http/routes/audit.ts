import { listAudit } from "../../stores/audit.ts";
import { implementRoutes } from "../api.ts";

export const auditRoutes = implementRoutes({
  listAudit: {
    handle: ({ query, principal }) => listAudit(principal.tenantId, query),
  },
});
