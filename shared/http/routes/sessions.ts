import { PageQuery, page } from "#events/auth";
import { CreateSessionRequest, Session, SessionWithMessages } from "#events/collections";
import { createSession, deleteSession, listSessions, sessionWithMessages } from "../../sessions/service.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const sessionRoutes: RouteTable = {
  createSession: defineRoute({
    summary: "Start a conversation with an agent that agent nodes continue with `session`",
    body: CreateSessionRequest,
    response: Session,
    status: 201,
    handle: ({ body, principal }) => createSession(principal.tenantId, body, principal.principalId),
  }),
  listSessions: defineRoute({
    summary: "The tenant's sessions, newest first",
    query: PageQuery,
    response: page(Session),
    handle: ({ query, principal }) => listSessions(principal.tenantId, query),
  }),
  getSession: defineRoute({
    summary: "A session with its messages, oldest first",
    response: SessionWithMessages,
    handle: ({ params, principal }) => sessionWithMessages(principal.tenantId, params.id ?? ""),
  }),
  deleteSession: defineRoute({
    summary: "Delete a session and its history",
    handle: async ({ params, principal }) => {
      await deleteSession(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  }),
};
