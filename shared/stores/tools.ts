import { GetCommand, QueryCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { CreateToolRequest, Tool } from "#events/agents";
import { dynamo } from "../aws.ts";
import { nowIso, tableName } from "../db.ts";
import { conflict, isTransactionConflict, notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { createdByFilter, fillPage, startKey } from "./page.ts";

/** Custom HTTP tools, stored like agents: one item per tool and a name claim that keeps names unique. */
export const toolKeys = {
  pk: (tenantId: string) => `T#${tenantId}#TOOLS`,
  tool: (id: string) => `T#${id}`,
  name: (name: string) => `N#${name.toLowerCase()}`,
};

export type CustomTool = Tool & { type: "http"; builtIn: false; createdBy?: string };

const FIELDS = [
  "id",
  "name",
  "description",
  "parameters",
  "url",
  "method",
  "headers",
  "timeoutSeconds",
  "createdAt",
  "updatedAt",
  "createdBy",
] as const;

function toTool(item: Record<string, unknown>): CustomTool {
  const tool: Record<string, unknown> = { type: "http", builtIn: false };
  for (const field of FIELDS) if (item[field] !== undefined) tool[field] = item[field];
  return tool as CustomTool;
}

/** `type` on the item is the item's kind, as everywhere in the table; a stored tool is always `http`. */
function toolItem(tenantId: string, tool: CustomTool, createdBy: string): Record<string, unknown> {
  const { type: _type, builtIn: _builtIn, createdBy: _createdBy, ...fields } = tool;
  return {
    pk: toolKeys.pk(tenantId),
    sk: toolKeys.tool(tool.id),
    tenantId,
    createdBy,
    ...fields,
    type: "tool",
  };
}

function nameClaim(tenantId: string, tool: Pick<CustomTool, "id" | "name">): Record<string, unknown> {
  return {
    pk: toolKeys.pk(tenantId),
    sk: toolKeys.name(tool.name),
    type: "toolName",
    tenantId,
    toolId: tool.id,
  };
}

export async function createTool(
  tenantId: string,
  body: CreateToolRequest,
  createdBy: string,
): Promise<CustomTool> {
  const now = nowIso();
  const tool: CustomTool = {
    ...body,
    id: newId("tl_"),
    type: "http",
    builtIn: false,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              Item: nameClaim(tenantId, tool),
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: toolItem(tenantId, tool, createdBy),
              ConditionExpression: "attribute_not_exists(pk)",
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) throw conflict(`A tool named ${body.name} already exists`);
    throw error;
  }
  return tool;
}

async function getItem(tenantId: string, sk: string) {
  const { Item } = await dynamo().send(
    new GetCommand({ TableName: tableName(), Key: { pk: toolKeys.pk(tenantId), sk } }),
  );
  return Item;
}

/** A custom tool by id or by name. */
export async function resolveCustomTool(tenantId: string, nameOrId: string): Promise<CustomTool | undefined> {
  if (nameOrId.startsWith("tl_")) {
    const byId = await getItem(tenantId, toolKeys.tool(nameOrId));
    if (byId) return toTool(byId);
  }
  const claim = await getItem(tenantId, toolKeys.name(nameOrId));
  if (claim === undefined) return undefined;
  const item = await getItem(tenantId, toolKeys.tool(String(claim.toolId)));
  return item === undefined ? undefined : toTool(item);
}

export async function listCustomTools(
  tenantId: string,
  options: { cursor?: string; limit?: number; createdBy?: string } = {},
): Promise<{ items: CustomTool[]; cursor?: string }> {
  const pk = toolKeys.pk(tenantId);
  const page = await fillPage(
    {
      TableName: tableName(),
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": pk, ":prefix": "T#" },
    },
    {
      limit: options.limit ?? 50,
      start: startKey(options.cursor, "pk", pk),
      filter: createdByFilter(options.createdBy),
      keyAttributes: ["pk", "sk"],
    },
  );
  return { ...page, items: page.items.map(toTool) };
}

/** Every custom tool name (lower case) of a tenant. */
export async function customToolNames(tenantId: string): Promise<Set<string>> {
  const names = new Set<string>();
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new QueryCommand({
        TableName: tableName(),
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": toolKeys.pk(tenantId), ":prefix": "N#" },
        ExclusiveStartKey,
      }),
    );
    for (const item of page.Items ?? []) names.add(String(item.sk).slice(2));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey !== undefined);
  return names;
}

export async function updateTool(
  tenantId: string,
  nameOrId: string,
  body: CreateToolRequest,
  actor: string,
): Promise<CustomTool> {
  const current = await resolveCustomTool(tenantId, nameOrId);
  if (current === undefined) throw notFound("Tool", nameOrId);
  const tool: CustomTool = {
    ...body,
    id: current.id,
    type: "http",
    builtIn: false,
    ...(current.createdAt === undefined ? {} : { createdAt: current.createdAt }),
    updatedAt: nowIso(),
  };
  const renamed = toolKeys.name(current.name) !== toolKeys.name(tool.name);
  const pk = toolKeys.pk(tenantId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName(),
              // The creator stays the owner (owner-only access); the last editor is kept beside it.
              Item: { ...toolItem(tenantId, tool, current.createdBy ?? actor), updatedBy: actor },
              ConditionExpression: "attribute_exists(pk) AND updatedAt = :seen",
              ExpressionAttributeValues: { ":seen": current.updatedAt },
            },
          },
          ...(renamed
            ? [
                { Delete: { TableName: tableName(), Key: { pk, sk: toolKeys.name(current.name) } } },
                {
                  Put: {
                    TableName: tableName(),
                    Item: nameClaim(tenantId, tool),
                    ConditionExpression: "attribute_not_exists(pk)",
                  },
                },
              ]
            : []),
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) {
      if (renamed && (await resolveCustomTool(tenantId, tool.name))?.id !== tool.id) {
        throw conflict(`A tool named ${tool.name} already exists`);
      }
      throw conflict(`Tool ${current.name} was changed by someone else; read it again and retry`);
    }
    throw error;
  }
  return tool;
}

export async function deleteTool(tenantId: string, nameOrId: string): Promise<CustomTool> {
  const current = await resolveCustomTool(tenantId, nameOrId);
  if (current === undefined) throw notFound("Tool", nameOrId);
  const pk = toolKeys.pk(tenantId);
  try {
    await dynamo().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Delete: {
              TableName: tableName(),
              Key: { pk, sk: toolKeys.tool(current.id) },
              ConditionExpression: "attribute_exists(pk)",
            },
          },
          { Delete: { TableName: tableName(), Key: { pk, sk: toolKeys.name(current.name) } } },
        ],
      }),
    );
  } catch (error) {
    if (isTransactionConflict(error)) throw notFound("Tool", nameOrId);
    throw error;
  }
  return current;
}
