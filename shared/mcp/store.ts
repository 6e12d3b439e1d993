import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { McpServer, McpTool } from "#events/mcp";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { conflict, isConditionalCheckFailed, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { namedResources } from "../stores/named.ts";

/** MCP servers, stored like tools: one item per server (with its listed tools) and a name claim. */
const servers = namedResources({
  label: "MCP server",
  article: "An",
  partition: (tenantId) => `T#${tenantId}#MCP`,
  itemPrefix: "S#",
  idPrefix: "mcp_",
  claimType: "mcpServerName",
  claimIdAttribute: "serverId",
});

const FIELDS = [
  "id",
  "name",
  "url",
  "secret",
  "tools",
  "toolsRefreshedAt",
  "createdAt",
  "updatedAt",
  "createdBy",
] as const;

function toServer(item: Record<string, unknown>): McpServer {
  const server: Record<string, unknown> = {};
  for (const field of FIELDS) if (item[field] !== undefined) server[field] = item[field];
  return server as McpServer;
}

export async function createMcpServer(
  tenantId: string,
  body: { name: string; url: string; secret?: string },
  tools: McpTool[],
  createdBy: string,
): Promise<McpServer> {
  const now = nowIso();
  const server: McpServer = {
    id: newId("mcp_"),
    name: body.name,
    url: body.url,
    ...(body.secret === undefined ? {} : { secret: body.secret }),
    tools,
    toolsRefreshedAt: now,
    createdAt: now,
    updatedAt: now,
    createdBy,
  };
  await servers.create(tenantId, server, { ...server, type: "mcpServer" });
  return server;
}

export function mcpNameTaken(tenantId: string, name: string): Promise<boolean> {
  return servers.nameTaken(tenantId, name);
}

/** A server by id (`mcp_…`) or by name (case-insensitive). */
export async function resolveMcpServer(tenantId: string, nameOrId: string): Promise<McpServer | undefined> {
  const item = await servers.resolve(tenantId, nameOrId);
  return item === undefined ? undefined : toServer(item);
}

export async function listMcpServers(
  tenantId: string,
  options: { cursor?: string; limit?: number } = {},
): Promise<{ items: McpServer[]; cursor?: string }> {
  const page = await servers.page(tenantId, options);
  return { ...page, items: page.items.map(toServer) };
}

/** Every server of a tenant with its tools, for checking many `mcp:` references with one query. */
export async function allMcpServers(tenantId: string): Promise<McpServer[]> {
  const servers: McpServer[] = [];
  let cursor: string | undefined;
  do {
    const page = await listMcpServers(tenantId, { limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    servers.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return servers;
}

/** Replaces the listed tools, unless someone else changed the server since it was read. */
export async function updateMcpTools(
  tenantId: string,
  current: McpServer,
  tools: McpTool[],
  actor: string,
): Promise<McpServer> {
  const now = nowIso();
  try {
    await dynamo().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: servers.keys.pk(tenantId), sk: servers.keys.item(current.id) },
        UpdateExpression: "SET tools = :tools, toolsRefreshedAt = :now, updatedAt = :now, updatedBy = :actor",
        ConditionExpression: "attribute_exists(pk) AND updatedAt = :seen",
        ExpressionAttributeValues: {
          ":tools": tools,
          ":now": now,
          ":actor": actor,
          ":seen": current.updatedAt,
        },
      }),
    );
  } catch (error) {
    if (isConditionalCheckFailed(error)) {
      throw conflict(`MCP server ${current.name} was changed or deleted meanwhile; read it again and retry`);
    }
    throw error;
  }
  return { ...current, tools, toolsRefreshedAt: now, updatedAt: now };
}

export async function deleteMcpServer(tenantId: string, nameOrId: string): Promise<McpServer> {
  const current = await resolveMcpServer(tenantId, nameOrId);
  if (current === undefined) throw notFound("MCP server", nameOrId);
  await servers.remove(tenantId, current, nameOrId);
  return current;
}
