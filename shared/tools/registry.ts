import { MCP_PREFIX } from "#events/mcp";
import { mcpToolRefs, resolveMcpTools } from "../mcp/service.ts";
import { readSecret } from "../stores/secrets.ts";
import { customToolNames, resolveCustomTool } from "../stores/tools.ts";
import { BUILTIN_TOOLS } from "./builtins.ts";
import { customToolDefinition } from "./custom-http.ts";
import { validateArguments } from "./json-schema.ts";
import { type ToolContext, type ToolDefinition, ToolError } from "./types.ts";

/**
 * A built-in tool, the tenant's custom tool of that name (or id), or one MCP server's tool
 * (`mcp:<server>/<tool>`). Built-in names cannot be taken.
 */
export async function resolveTool(tenantId: string, nameOrId: string): Promise<ToolDefinition | undefined> {
  if (nameOrId.startsWith(MCP_PREFIX)) {
    const tools = await resolveMcpTools(tenantId, nameOrId);
    return tools?.length === 1 && !nameOrId.endsWith("/*") ? tools[0] : undefined;
  }
  const builtIn = BUILTIN_TOOLS.get(nameOrId);
  if (builtIn) return builtIn;
  const custom = await resolveCustomTool(tenantId, nameOrId);
  return custom === undefined ? undefined : customToolDefinition(custom);
}

/** What an agent's `tools` entry names: one tool, or every tool of an MCP server for `mcp:<server>/*`. */
export async function resolveTools(
  tenantId: string,
  nameOrId: string,
): Promise<ToolDefinition[] | undefined> {
  if (nameOrId.startsWith(MCP_PREFIX)) return resolveMcpTools(tenantId, nameOrId);
  const tool = await resolveTool(tenantId, nameOrId);
  return tool === undefined ? undefined : [tool];
}

export async function toolExists(tenantId: string, name: string): Promise<boolean> {
  if (name.startsWith(MCP_PREFIX)) return (await resolveMcpTools(tenantId, name)) !== undefined;
  return BUILTIN_TOOLS.has(name) || (await resolveCustomTool(tenantId, name)) !== undefined;
}

/** Every tool name a tenant can use, for checking many references with one read. */
export async function toolNames(tenantId: string): Promise<Set<string>> {
  const [custom, mcp] = await Promise.all([customToolNames(tenantId), mcpToolRefs(tenantId)]);
  return new Set([...BUILTIN_TOOLS.keys(), ...custom, ...mcp]);
}

/** Replaces each handled secret inside every string of a value, so a server that echoes a header leaks nothing. */
export function redactDeep(value: unknown, secrets: ReadonlySet<string>): unknown {
  if (secrets.size === 0) return value;
  if (typeof value === "string") {
    let out = value;
    for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, secrets)]));
  }
  return value;
}

export interface StepToolContext extends ToolContext {
  /** Plaintexts handled in this step so far. */
  readonly secrets: ReadonlySet<string>;
  /** The same context, with another idempotency key (one per side effect of an agent's loop). */
  withIdempotencyKey(key: string): StepToolContext;
}

/**
 * The context tools of one step share: its deadline, its idempotency key, and a per-step cache of the
 * secrets it decrypted (dropped with the step).
 */
export function createToolContext(options: {
  tenantId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  attempt: number;
  deadline: number;
  signal?: AbortSignal;
}): StepToolContext {
  const decrypted = new Map<string, Promise<string>>();
  const handled = new Set<string>();
  const make = (idempotencyKey: string): StepToolContext => ({
    tenantId: options.tenantId,
    jobId: options.jobId,
    nodeId: options.nodeId,
    ...(options.itemIndex === undefined ? {} : { itemIndex: options.itemIndex }),
    attempt: options.attempt,
    idempotencyKey,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    secrets: handled,
    remainingMs: () => Math.max(0, options.deadline - Date.now()),
    handled: (value) => {
      handled.add(value);
    },
    secret: (name) => {
      let pending = decrypted.get(name);
      if (pending === undefined) {
        pending = readSecret(options.tenantId, name).then((value) => {
          if (value === undefined)
            throw new ToolError("SECRET_NOT_FOUND", `There is no secret named ${name}`);
          handled.add(value);
          return value;
        });
        decrypted.set(name, pending);
      }
      return pending;
    },
    withIdempotencyKey: (key) => make(key),
  });
  const item = options.itemIndex === undefined ? "-" : String(options.itemIndex);
  return make(`${options.jobId}:${options.nodeId}:${item}:${options.attempt}`);
}

/**
 * Validates the arguments against the tool's schema, runs it, and scrubs any secret it handled from the
 * result. Failures are ToolErrors; anything else thrown is a platform error and propagates.
 */
export async function invokeTool(
  tool: ToolDefinition,
  rawArgs: unknown,
  context: StepToolContext,
): Promise<unknown> {
  const args = validateArguments(tool.name, tool.parameters, rawArgs);
  try {
    return redactDeep(await tool.run(args, context), context.secrets);
  } catch (error) {
    if (error instanceof ToolError) {
      throw new ToolError(error.code, String(redactDeep(error.message, context.secrets)), error.retryable);
    }
    throw error;
  }
}
