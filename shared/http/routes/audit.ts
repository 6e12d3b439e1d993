import { AuditEntry, ListAuditQuery, page } from "#events/auth";
import { listAudit } from "../../stores/audit.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const auditRoutes: RouteTable = {
  listAudit: defineRoute({
    summary: "The tenant's audit log, newest first; filter by actorId, resource prefix and from/to",
    query: ListAuditQuery,
    response: page(AuditEntry),
    handle: ({ query, principal }) => listAudit(principal.tenantId, query),
  }),
};
