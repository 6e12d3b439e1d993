import { createHash } from "node:crypto";
import {
  type CreateMcpServerRequest,
  MAX_MCP_TOOLS,
  type McpServer,
  type McpTool,
  parseMcpToolRef,
} from "#events/mcp";
import { AppError, conflict, notFound, validationFailed } from "../errors.ts";
import { logger } from "../observability.ts";
import { CircuitOpenError, throughBreaker } from "../resilience/breaker.ts";
import { readSecret } from "../stores/secrets.ts";
import { type ToolContext, type ToolDefinition, ToolError } from "../tools/types.ts";
import { McpClientError, type McpTarget, textOf, withMcpSession } from "./client.ts";
import { allMcpServers, createMcpServer, mcpNameTaken, resolveMcpServer, updateMcpTools } from "./store.ts";

/**
 * Registering an MCP server (connect, list its tools, keep them), refreshing that list, and turning
 * `mcp:<server>/<tool>` references into the tools an agent or a `tool` node runs.
 */

/** Registration and refresh run inside the API's request, which API Gateway ends at 29 s. */
export const LIST_TIMEOUT_MS = 15_000;
/** The tools are kept on the server's item, and DynamoDB items hold at most 400 KB. */
const MAX_TOOLS_BYTES = 300 * 1024;
/** What a tool call may take at most when the step allows more. */
const MAX_CALL_TIMEOUT_MS = 120_000;
/** Kept back from the step's deadline, so the MCP client's own clear timeout fires first. */
const CALL_MARGIN_MS = 250;

/** A model's tool name: `^[A-Za-z0-9_-]{1,64}$` for OpenAI, Anthropic and Bedrock alike. */
export function modelToolName(server: string, tool: string): string {
  const name = `mcp__${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, "_");
  if (name.length <= 64) return name;
  const hash = createHash("sha256").update(`${server}/${tool}`).digest("hex").slice(0, 8);
  return `${name.slice(0, 55)}_${hash}`;
}

/**
 * A registration names the URL, so a server that cannot be reached there is a 400 about that input. A
 * refresh of a server that worked before is the server's failure: 502, or 504 when it did not answer.
 */
function clientFailure(error: McpClientError, registering: boolean): AppError {
  const details = [{ path: "url", message: error.message, code: "custom" }];
  if (error.code === "EGRESS_DENIED") return validationFailed("The MCP server's address is refused", details);
  if (registering) return new AppError(400, error.code, error.message, details);
  return new AppError(error.code === "MCP_TIMEOUT" ? 504 : 502, error.code, error.message);
}

async function targetOf(tenantId: string, server: { url: string; secret?: string }): Promise<McpTarget> {
  if (server.secret === undefined) return { url: server.url };
  const token = await readSecret(tenantId, server.secret);
  if (token === undefined) {
    throw validationFailed("The MCP server names a secret that does not exist", [
      { path: "secret", message: `there is no secret named ${server.secret}`, code: "custom" },
    ]);
  }
  return { url: server.url, token };
}

/** Connects to the server and lists its tools, through its breaker; failures become API errors. */
async function listServerTools(
  tenantId: string,
  server: { url: string; secret?: string },
  registering: boolean,
): Promise<McpTool[]> {
  const target = await targetOf(tenantId, server);
  let tools: McpTool[];
  try {
    tools = await throughBreaker(
      { tenantId, kind: "mcp", target: server.url },
      () => withMcpSession(target, { timeoutMs: LIST_TIMEOUT_MS }, (session) => session.listTools()),
      { failed: (error) => error instanceof McpClientError && error.retryable, describe: describeFailure },
    );
  } catch (error) {
    if (error instanceof McpClientError) throw clientFailure(error, registering);
    if (error instanceof CircuitOpenError) throw new AppError(503, "CIRCUIT_OPEN", error.message);
    throw error;
  }
  if (tools.length > MAX_MCP_TOOLS) {
    throw new AppError(
      413,
      "PAYLOAD_TOO_LARGE",
      `The server lists ${tools.length} tools; at most ${MAX_MCP_TOOLS} are kept per server`,
    );
  }
  if (Buffer.byteLength(JSON.stringify(tools), "utf8") > MAX_TOOLS_BYTES) {
    throw new AppError(
      413,
      "PAYLOAD_TOO_LARGE",
      `The server's tool list is larger than ${MAX_TOOLS_BYTES} bytes, the most kept per server`,
    );
  }
  return tools;
}

function describeFailure(outcome: { error?: unknown }): string | undefined {
  return outcome.error instanceof McpClientError ? outcome.error.code : undefined;
}

export async function registerMcpServer(
  tenantId: string,
  body: CreateMcpServerRequest,
  actor: string,
): Promise<McpServer> {
  // Checked first so a duplicate is not connected to; the write's own condition still decides a race.
  if (await mcpNameTaken(tenantId, body.name))
    throw conflict(`An MCP server named ${body.name} already exists`);
  const tools = await listServerTools(tenantId, body, true);
  const server = await createMcpServer(tenantId, body, tools, actor);
  logger.info("MCP server registered", { serverId: server.id, tools: tools.length });
  return server;
}

export async function refreshMcpServer(
  tenantId: string,
  nameOrId: string,
  actor: string,
): Promise<McpServer> {
  const current = await resolveMcpServer(tenantId, nameOrId);
  if (current === undefined) throw notFound("MCP server", nameOrId);
  const tools = await listServerTools(tenantId, current, false);
  return updateMcpTools(tenantId, current, tools, actor);
}

function toolDefinition(tenantId: string, server: McpServer, tool: McpTool): ToolDefinition {
  const ref = `mcp:${server.name}/${tool.name}`;
  return {
    name: modelToolName(server.name, tool.name),
    description: tool.description === "" ? `${tool.name} (MCP server ${server.name})` : tool.description,
    parameters: tool.inputSchema,
    builtIn: false,
    reference: ref,
    async run(args, context: ToolContext) {
      const token = server.secret === undefined ? undefined : await context.secret(server.secret);
      const target: McpTarget = { url: server.url, ...(token === undefined ? {} : { token }) };
      const timeoutMs = Math.max(1, Math.min(MAX_CALL_TIMEOUT_MS, context.remainingMs() - CALL_MARGIN_MS));
      try {
        const result = await throughBreaker(
          { tenantId, kind: "mcp", target: server.url },
          () =>
            withMcpSession(
              target,
              { timeoutMs, ...(context.signal === undefined ? {} : { signal: context.signal }) },
              (session) => session.callTool(tool.name, args),
            ),
          {
            // A step that ran out of time waiting on the server counts against it too.
            failed: (error) =>
              (error instanceof McpClientError && error.retryable) || context.signal?.aborted === true,
            describe: describeFailure,
          },
        );
        const text = textOf(result.content);
        if (result.isError) {
          throw new ToolError(
            "MCP_TOOL_ERROR",
            text === "" ? `MCP tool ${ref} reported an error` : text.slice(0, 2000),
          );
        }
        return {
          content: result.content,
          ...(result.structuredContent === undefined ? {} : { structuredContent: result.structuredContent }),
          text,
        };
      } catch (error) {
        if (error instanceof CircuitOpenError) throw new ToolError("CIRCUIT_OPEN", error.message, true);
        if (error instanceof McpClientError) {
          const code = error.code === "MCP_TIMEOUT" ? "MCP_TIMEOUT" : error.code;
          throw new ToolError(code, `${ref}: ${error.message}`, error.retryable);
        }
        throw error;
      }
    },
  };
}

/**
 * The tools a reference names: one for `mcp:<server>/<tool>`, every listed one for `mcp:<server>/*`;
 * undefined when the server or the tool does not exist.
 */
export async function resolveMcpTools(tenantId: string, ref: string): Promise<ToolDefinition[] | undefined> {
  const parsed = parseMcpToolRef(ref);
  if (parsed === undefined) return undefined;
  const server = await resolveMcpServer(tenantId, parsed.server);
  if (server === undefined) return undefined;
  const tools = parsed.tool === "*" ? server.tools : server.tools.filter((tool) => tool.name === parsed.tool);
  if (tools.length === 0 && parsed.tool !== "*") return undefined;
  return tools.map((tool) => toolDefinition(tenantId, server, tool));
}

/** Every `mcp:` reference a tenant may use (server names in lower case too), with one query. */
export async function mcpToolRefs(tenantId: string): Promise<Set<string>> {
  const refs = new Set<string>();
  for (const server of await allMcpServers(tenantId)) {
    for (const name of new Set([server.name, server.name.toLowerCase()])) {
      refs.add(`mcp:${name}/*`);
      for (const tool of server.tools) refs.add(`mcp:${name}/${tool.name}`);
    }
  }
  return refs;
}
