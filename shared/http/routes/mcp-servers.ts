import { PageQuery, page } from "#events/auth";
import { CreateMcpServerRequest, McpServer } from "#events/mcp";
import { notFound } from "../../errors.ts";
import { refreshMcpServer, registerMcpServer } from "../../mcp/service.ts";
import { deleteMcpServer, listMcpServers, resolveMcpServer } from "../../mcp/store.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const mcpServerRoutes: RouteTable = {
  createMcpServer: defineRoute({
    summary:
      "Register an MCP server (Streamable HTTP): it is connected to, and the tools it lists are kept and returned",
    body: CreateMcpServerRequest,
    response: McpServer,
    status: 201,
    handle: async ({ body, principal }) => registerMcpServer(principal.tenantId, body, principal.principalId),
  }),
  listMcpServers: defineRoute({
    summary: "The tenant's MCP servers, with their tools",
    query: PageQuery,
    response: page(McpServer),
    handle: async ({ query, principal }) => listMcpServers(principal.tenantId, query),
  }),
  getMcpServer: defineRoute({
    summary: "An MCP server, by id or by name",
    response: McpServer,
    handle: async ({ params, principal }) => {
      const server = await resolveMcpServer(principal.tenantId, params.id ?? "");
      if (server === undefined) throw notFound("MCP server", params.id);
      return server;
    },
  }),
  refreshMcpServer: defineRoute({
    summary: "List the server's tools again and keep the new list",
    response: McpServer,
    handle: async ({ params, principal }) =>
      refreshMcpServer(principal.tenantId, params.id ?? "", principal.principalId),
  }),
  deleteMcpServer: defineRoute({
    summary: "Forget an MCP server (by id or name); agents that name its tools fail with UNKNOWN_TOOL",
    handle: async ({ params, principal }) => {
      await deleteMcpServer(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  }),
};
