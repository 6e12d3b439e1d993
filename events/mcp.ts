import { z } from "zod";

/**
 * MCP servers: the REST bodies of `/v1/mcp-servers`, and the `mcp:<server>/<tool>` references agents and
 * `tool` nodes use.
 */

/** No `/`, `:` or `.`, so `mcp:<server>/<tool>` splits one way only and the name fits a model's tool name. */
export const McpServerName = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[A-Za-z][A-Za-z0-9_-]*$/, "server names start with a letter and use letters, digits, _ and -");

export const MCP_PREFIX = "mcp:";
/** `mcp:<server>/<tool>` or `mcp:<server>/*` (every tool the server lists). */
export const MCP_TOOL_REF = /^mcp:([A-Za-z][A-Za-z0-9_-]{0,39})\/(\*|[^\s/*]{1,128})$/;

export const McpToolRef = z
  .string()
  .max(175)
  .regex(MCP_TOOL_REF, 'MCP tools are named "mcp:<server>/<tool>" or "mcp:<server>/*"');

export function parseMcpToolRef(ref: string): { server: string; tool: string } | undefined {
  const match = MCP_TOOL_REF.exec(ref);
  return match === null ? undefined : { server: match[1] as string, tool: match[2] as string };
}

/** Tools kept per server: each one's schema goes into every model call that names it. */
export const MAX_MCP_TOOLS = 200;

export const CreateMcpServerRequest = z
  .object({
    name: McpServerName,
    /** The Streamable HTTP endpoint, e.g. `https://mcp.example.com/mcp`. */
    url: z.url({ protocol: /^https?$/ }).max(2000),
    /** Name of a stored credential in `/v1/secrets`, sent as `Authorization: Bearer <value>`. */
    secret: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/)
      .optional(),
  })
  .strict();
export type CreateMcpServerRequest = z.infer<typeof CreateMcpServerRequest>;

export const McpTool = z.object({
  name: z.string(),
  description: z.string(),
  /** JSON schema of the arguments, as the server lists it. */
  inputSchema: z.record(z.string(), z.unknown()),
});
export type McpTool = z.infer<typeof McpTool>;

export const McpServer = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  secret: z.string().optional(),
  tools: z.array(McpTool),
  toolsRefreshedAt: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
});
export type McpServer = z.infer<typeof McpServer>;
