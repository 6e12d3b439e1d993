import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { McpServer, McpTool } from "#events/mcp";
import { dynamo } from "../aws.ts";
import { encodeCursor, nowIso, tableName } from "../db.ts";
import { conflict, isConditionalCheckFailed, isTransactionConflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { startKey } from "../stores/page.ts";

/** MCP servers, stored like tools: one item per server (with its listed tools) and a name claim. */
export const mcpKeys = {
  pk: (tenantId: string) => `T#${tenantId}#MCP`,
  server: (id: string) => `S#${id}`,
  name: (name: string) => `N#${name.toLowerCase()}`,
};

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
  const pk = mcpKeys.pk(tenantId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: {
                pk,
                sk: mcpKeys.name(server.name),
                type: "mcpServerName",
                tenantId,
                serverId: server.id,
              },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: { pk, sk: mcpKeys.server(server.id), tenantId, ...server, type: "mcpServer" },
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) throw conflict(`An MCP server named ${body.name} already exists`);
    throw error;
  }
  return server;
}

async function getItem(tenantId: string, sk: string) {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: { pk: mcpKeys.pk(tenantId), sk } }),
  );
  return Item;
}

export async function mcpNameTaken(tenantId: string, name: string): Promise<boolean> {
  return (await getItem(tenantId, mcpKeys.name(name))) !== undefined;
}

/** A server by id (`mcp_…`) or by name (case-insensitive). */
export async function resolveMcpServer(tenantId: string, nameOrId: string): Promise<McpServer | undefined> {
  if (nameOrId.startsWith("mcp_")) {
    const byId = await getItem(tenantId, mcpKeys.server(nameOrId));
    if (byId) return toServer(byId);
  }
  const claim = await getItem(tenantId, mcpKeys.name(nameOrId));
  if (claim === undefined) return undefined;
  const item = await getItem(tenantId, mcpKeys.server(String(claim.serverId)));
  return item === undefined ? undefined : toServer(item);
}

export async function listMcpServers(
  tenantId: string,
  options: { cursor?: string; limit?: number } = {},
): Promise<{ items: McpServer[]; cursor?: string }> {
  const pk = mcpKeys.pk(tenantId);
  const page = await dynamo().send(
    new QueryCommand({
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "S#" },
      Limit: options.limit ?? 50,
      ExclusiveStartKey: startKey(options.cursor, "pk", pk),
    }),
  );
  const cursor = encodeCursor(page.LastEvaluatedKey);
  return { items: (page.Items ?? []).map(toServer), ...(cursor === undefined ? {} : { cursor }) };
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
        Key: { pk: mcpKeys.pk(tenantId), sk: mcpKeys.server(current.id) },
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
  const pk = mcpKeys.pk(tenantId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Delete: {
              TableName: tableName(),
              Key: { pk, sk: mcpKeys.server(current.id) },
              ConditionExpression: "attribute_exists(pk)",
            },
          },
          { Delete: { TableName: tableName(), Key: { pk, sk: mcpKeys.name(current.name) } } },
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) throw notFound("MCP server", nameOrId);
    throw error;
  }
  return current;
}
