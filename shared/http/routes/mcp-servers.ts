import { notFound } from "../../errors.ts";
import { refreshMcpServer, registerMcpServer } from "../../mcp/service.ts";
import { deleteMcpServer, listMcpServers, resolveMcpServer } from "../../mcp/store.ts";
import { implementRoutes } from "../api.ts";

export const mcpServerRoutes = implementRoutes({
  createMcpServer: {
    handle: async ({ body, principal }) => registerMcpServer(principal.tenantId, body, principal.principalId),
  },
  listMcpServers: {
    handle: async ({ query, principal }) => listMcpServers(principal.tenantId, query),
  },
  getMcpServer: {
    handle: async ({ params, principal }) => {
      const server = await resolveMcpServer(principal.tenantId, params.id ?? "");
      if (server === undefined) throw notFound("MCP server", params.id);
      return server;
    },
  },
  refreshMcpServer: {
    handle: async ({ params, principal }) =>
      refreshMcpServer(principal.tenantId, params.id ?? "", principal.principalId),
  },
  deleteMcpServer: {
    handle: async ({ params, principal }) => {
      await deleteMcpServer(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  },
});
