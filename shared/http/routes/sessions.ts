import { createSession, deleteSession, listSessions, sessionWithMessages } from "../../sessions/service.ts";
import { implementRoutes } from "../api.ts";

export const sessionRoutes = implementRoutes({
  createSession: {
    handle: ({ body, principal }) => createSession(principal.tenantId, body, principal.principalId),
  },
  listSessions: {
    handle: ({ query, principal }) => listSessions(principal.tenantId, query),
  },
  getSession: {
    handle: ({ params, principal }) => sessionWithMessages(principal.tenantId, params.id ?? ""),
  },
  deleteSession: {
    handle: async ({ params, principal }) => {
      await deleteSession(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  },
});
