import type { CreateToolRequest, Tool } from "#events/agents";
import { nowIso } from "../db.ts";
import { notFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { namedResources } from "./named.ts";

/** Custom HTTP tools, stored like agents: one item per tool and a name claim that keeps names unique. */
const tools = namedResources({
  label: "Tool",
  article: "A",
  partition: (tenantId) => `T#${tenantId}#TOOLS`,
  itemPrefix: "T#",
  idPrefix: "tl_",
  claimType: "toolName",
  claimIdAttribute: "toolId",
});

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
function toolItem(tool: CustomTool, createdBy: string): Record<string, unknown> {
  const { type: _type, builtIn: _builtIn, createdBy: _createdBy, ...fields } = tool;
  return { createdBy, ...fields, type: "tool" };
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
  await tools.create(tenantId, tool, toolItem(tool, createdBy));
  return tool;
}

/** A custom tool by id or by name. */
export async function resolveCustomTool(tenantId: string, nameOrId: string): Promise<CustomTool | undefined> {
  const item = await tools.resolve(tenantId, nameOrId);
  return item === undefined ? undefined : toTool(item);
}

export async function listCustomTools(
  tenantId: string,
  options: { cursor?: string; limit?: number; createdBy?: string } = {},
): Promise<{ items: CustomTool[]; cursor?: string }> {
  const page = await tools.page(tenantId, options);
  return { ...page, items: page.items.map(toTool) };
}

/** Every custom tool's id and name (lower case) of a tenant. */
export function customToolNames(tenantId: string): Promise<Set<string>> {
  return tools.names(tenantId);
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
  // The creator stays the owner (owner-only access); the last editor is kept beside it.
  await tools.replace(tenantId, current, tool, {
    ...toolItem(tool, current.createdBy ?? actor),
    updatedBy: actor,
  });
  return tool;
}

export async function deleteTool(tenantId: string, nameOrId: string): Promise<CustomTool> {
  const current = await resolveCustomTool(tenantId, nameOrId);
  if (current === undefined) throw notFound("Tool", nameOrId);
  await tools.remove(tenantId, current, nameOrId);
  return current;
}
