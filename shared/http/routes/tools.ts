import type { CreateToolRequest, ToolSummary as ToolSummaryType } from "#events/agents";
import { accessScope, visibleOrNotFound } from "../../auth/ownership.ts";
import { AppError, conflict, validationFailed } from "../../errors.ts";
import {
  type CustomTool,
  createTool,
  deleteTool,
  listCustomTools,
  resolveCustomTool,
  updateTool,
} from "../../stores/tools.ts";
import { BUILTIN_TOOLS, isBuiltinTool } from "../../tools/builtins.ts";
import { urlPlaceholders } from "../../tools/custom-http.ts";
import { schemaProblem } from "../../tools/json-schema.ts";
import type { ToolDefinition } from "../../tools/types.ts";
import { implementRoutes, type Principal } from "../api.ts";

function builtinSummary(tool: ToolDefinition): ToolSummaryType {
  return {
    id: tool.name,
    name: tool.name,
    description: tool.description,
    type: "builtin",
    builtIn: true,
    parameters: tool.parameters,
  };
}

function customSummary(tool: CustomTool): ToolSummaryType {
  return {
    id: tool.id,
    name: tool.name,
    description: tool.description,
    type: "http",
    builtIn: false,
    parameters: tool.parameters,
    url: tool.url,
    method: tool.method,
    ...(tool.createdAt === undefined ? {} : { createdAt: tool.createdAt }),
    ...(tool.updatedAt === undefined ? {} : { updatedAt: tool.updatedAt }),
  };
}

/** A usable schema, an absolute http(s) URL template, and every placeholder declared as a parameter. */
function checkTool(body: CreateToolRequest): void {
  if (isBuiltinTool(body.name)) throw conflict(`${body.name} is a built-in tool; choose another name`);
  const problems: { path: string; message: string; code: string }[] = [];
  const schema = schemaProblem(body.parameters);
  if (schema) problems.push({ path: "parameters", message: schema, code: "custom" });
  const placeholders = urlPlaceholders(body.url);
  try {
    const sample = new URL(body.url.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, "x"));
    if (sample.protocol !== "http:" && sample.protocol !== "https:") throw new Error("scheme");
  } catch {
    problems.push({ path: "url", message: "must be an absolute http(s) URL template", code: "custom" });
  }
  const properties = (body.parameters.properties ?? {}) as Record<string, unknown>;
  for (const name of placeholders) {
    if (!(name in properties)) {
      problems.push({
        path: "url",
        message: `placeholder {${name}} is not a property of parameters`,
        code: "custom",
      });
    }
  }
  if (problems.length > 0) throw validationFailed("The tool is not valid", problems);
}

function refuseBuiltin(name: string): void {
  if (isBuiltinTool(name))
    throw new AppError(409, "CONFLICT", `${name} is a built-in tool and cannot be changed`);
}

/** Under owner-only access, a tool another principal created is not found; unrestricted callers skip the read. */
async function requireTool(principal: Principal, id: string): Promise<void> {
  const scope = await accessScope(principal);
  if (scope.ownerId !== undefined) {
    visibleOrNotFound(scope, await resolveCustomTool(principal.tenantId, id), "Tool", id);
  }
}

export const toolRoutes = implementRoutes({
  createTool: {
    handle: async ({ body, principal }) => {
      checkTool(body);
      return createTool(principal.tenantId, body, principal.principalId);
    },
  },
  listTools: {
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      const custom = await listCustomTools(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
      const builtIns = query.cursor === undefined ? [...BUILTIN_TOOLS.values()].map(builtinSummary) : [];
      return { ...custom, items: [...builtIns, ...custom.items.map(customSummary)] };
    },
  },
  getTool: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      const builtIn = BUILTIN_TOOLS.get(id);
      if (builtIn) return builtinSummary(builtIn);
      const tool = visibleOrNotFound(
        await accessScope(principal),
        await resolveCustomTool(principal.tenantId, id),
        "Tool",
        id,
      );
      return { ...customSummary(tool), ...(tool.headers === undefined ? {} : { headers: tool.headers }) };
    },
  },
  updateTool: {
    handle: async ({ params, body, principal }) => {
      refuseBuiltin(params.id ?? "");
      await requireTool(principal, params.id ?? "");
      checkTool(body);
      return updateTool(principal.tenantId, params.id ?? "", body, principal.principalId);
    },
  },
  deleteTool: {
    handle: async ({ params, principal }) => {
      refuseBuiltin(params.id ?? "");
      await requireTool(principal, params.id ?? "");
      await deleteTool(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  },
});
