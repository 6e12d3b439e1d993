import { z } from "zod";
import { LimitsUsage } from "./limits.ts";
import { McpToolRef } from "./mcp.ts";

/**
 * Agents, tools, secrets, memory and usage: the REST bodies of `/v1/agents`, `/v1/tools`, `/v1/secrets`,
 * `/v1/memory` and `/v1/usage`, and the output of an `agent` step.
 */

/** Names that workflows, tools and `{{secret:NAME}}` references use: safe in keys, URLs and templates. */
const resourceName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, "names start with a letter and use letters, digits, _, . and -");

export const ProviderName = z.enum(["bedrock", "openai", "anthropic", "scripted"]);
export type ProviderName = z.infer<typeof ProviderName>;

export const MAX_AGENT_TURNS = 50;
export const DEFAULT_AGENT_TURNS = 8;

/** A regular expression that must compile, checked when the agent is saved rather than when it first runs. */
const regexSource = z
  .string()
  .min(1)
  .max(500)
  .refine(
    (source) => {
      try {
        new RegExp(source, "i");
        return true;
      } catch {
        return false;
      }
    },
    { message: "not a valid regular expression" },
  );

export const ScriptRule = z
  .object({
    /** Tested (case-insensitively) against the latest message: the prompt, or the last tool result. */
    match: regexSource,
    /**
     * `conversation` tests the whole conversation instead (every message, oldest first, one per line), so a
     * rule can answer from what a session's earlier jobs said.
     */
    scope: z.enum(["latest", "conversation"]).optional(),
    reply: z.string().max(20_000).optional(),
    toolCall: z
      .object({ name: z.string().min(1).max(64), arguments: z.record(z.string(), z.unknown()).default({}) })
      .strict()
      .optional(),
    confidence: z.number().min(0).max(1).optional(),
  })
  .strict();
export type ScriptRule = z.infer<typeof ScriptRule>;

export const AgentScript = z
  .object({
    rules: z.array(ScriptRule).max(100).default([]),
    defaultReply: z.string().max(20_000).default("OK"),
    defaultConfidence: z.number().min(0).max(1).optional(),
    /** Pause between streamed words, so a demo looks live. */
    tokenDelayMs: z.number().int().min(0).max(1000).default(0),
  })
  .strict();
export type AgentScript = z.infer<typeof AgentScript>;

const agentFields = {
  name: resourceName,
  description: z.string().max(500).optional(),
  provider: ProviderName,
  model: z.string().min(1).max(200),
  systemPrompt: z.string().max(50_000).optional(),
  /** Built-in or custom tool names the model may call, and MCP tools as `mcp:<server>/<tool>` or `mcp:<server>/*`. */
  tools: z
    .array(z.union([resourceName, McpToolRef]))
    .max(50)
    .optional(),
  /** Endpoint override: an OpenAI-compatible server, an Anthropic proxy, a Bedrock endpoint. */
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  /** Name of a stored credential in `/v1/secrets`. */
  secret: resourceName.optional(),
  maxTurns: z.number().int().min(1).max(MAX_AGENT_TURNS).optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().min(1).max(200_000).optional(),
  script: AgentScript.optional(),
};

function scriptMatchesProvider(body: { provider: ProviderName; script?: unknown }, ctx: z.RefinementCtx) {
  if (body.provider !== "scripted" && body.script !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["script"],
      message: "script applies only to the scripted provider",
    });
  }
}

export const CreateAgentRequest = z.object(agentFields).strict().superRefine(scriptMatchesProvider);
export type CreateAgentRequest = z.infer<typeof CreateAgentRequest>;
/** PUT replaces the whole agent (its id and creation time stay). */
export const UpdateAgentRequest = CreateAgentRequest;
export type UpdateAgentRequest = CreateAgentRequest;

export const Agent = z
  .object({
    id: z.string(),
    ...agentFields,
    maxTurns: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string(),
  })
  .meta({ id: "Agent" });
export type Agent = z.infer<typeof Agent>;

/** A JSON schema object, as models receive it. Checked further when the tool is saved. */
const JsonSchemaObject = z.record(z.string(), z.unknown());

export const HttpMethod = z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]);

const toolFields = {
  name: resourceName,
  description: z.string().min(1).max(1000),
  /** JSON schema of the arguments (type, properties, required, enum, items…), checked before each call. */
  parameters: JsonSchemaObject.default({ type: "object", properties: {} }),
  /** `https://api.example.com/items/{id}`: `{name}` is replaced by the URL-encoded argument. */
  url: z.string().min(1).max(2000),
  method: HttpMethod.default("GET"),
  /** Values may use `{{secret:NAME}}`, replaced by the decrypted secret at call time. */
  headers: z.record(z.string().min(1).max(200), z.string().max(4000)).optional(),
  timeoutSeconds: z.number().int().min(1).max(300).optional(),
};

export const CreateToolRequest = z.object(toolFields).strict();
export type CreateToolRequest = z.infer<typeof CreateToolRequest>;
export const UpdateToolRequest = CreateToolRequest;

export const Tool = z
  .object({
    id: z.string(),
    ...toolFields,
    type: z.enum(["http", "builtin"]),
    builtIn: z.boolean(),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: "Tool" });
export type Tool = z.infer<typeof Tool>;

/** Built-in tools in listings: no URL, since they run inside the worker. */
export const ToolSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    type: z.enum(["http", "builtin"]),
    builtIn: z.boolean(),
    parameters: JsonSchemaObject,
    url: z.string().optional(),
    method: HttpMethod.optional(),
    /** Shown on a single tool: templates only, `{{secret:NAME}}` is never resolved here. */
    headers: z.record(z.string(), z.string()).optional(),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: "ToolSummary" });
export type ToolSummary = z.infer<typeof ToolSummary>;

export const CreateSecretRequest = z
  .object({ name: resourceName, value: z.string().min(1).max(16_384) })
  .strict();
export type CreateSecretRequest = z.infer<typeof CreateSecretRequest>;

/** A secret as the API shows it: never the value. */
export const Secret = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string(),
  })
  .meta({ id: "Secret" });
export type Secret = z.infer<typeof Secret>;

export const memoryName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:@-]+$/, "use letters, digits and _ . : @ -");

export const PutMemoryRequest = z
  .object({
    value: z.unknown().refine((v) => v !== undefined, { message: "value is required" }),
    /** Forget the entry after this many seconds. */
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(400 * 86_400)
      .optional(),
  })
  .strict();
export type PutMemoryRequest = z.infer<typeof PutMemoryRequest>;

export const MemoryEntry = z
  .object({
    namespace: z.string(),
    key: z.string(),
    value: z.unknown(),
    updatedAt: z.string(),
    expiresAt: z.string().optional(),
  })
  .meta({ id: "MemoryEntry" });
export type MemoryEntry = z.infer<typeof MemoryEntry>;

export const MemoryKeys = z.object({
  namespace: z.string(),
  items: z.array(z.object({ key: z.string(), updatedAt: z.string() })),
  cursor: z.string().optional(),
});

export const TokenUsage = z.object({
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  costUsd: z.number(),
});
export type TokenUsage = z.infer<typeof TokenUsage>;

export const ToolCallRecord = z.object({
  name: z.string(),
  arguments: z.unknown(),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ToolCallRecord = z.infer<typeof ToolCallRecord>;

/** What an `agent` step stores as its output. */
export const AgentOutput = z.object({
  text: z.string(),
  confidence: z.number().min(0).max(1).optional(),
  toolCalls: z.array(ToolCallRecord),
  usage: TokenUsage,
  model: z.string(),
  provider: ProviderName,
  turns: z.number().int(),
  stopReason: z.string(),
  /** An adaptive review's thresholds for this result, and why (from the agent's calibration). */
  routing: z
    .object({ autoApproveAt: z.number(), notifyAt: z.number().optional(), reason: z.string() })
    .optional(),
});
export type AgentOutput = z.infer<typeof AgentOutput>;

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD");

export const UsageQuery = z
  .object({
    from: day.optional(),
    to: day.optional(),
    /** `agent` and `workflow` count agent steps recorded since those counters exist (embeddings have neither). */
    groupBy: z.enum(["day", "model", "job", "agent", "workflow"]).default("day"),
  })
  .strict();
export type UsageQuery = z.infer<typeof UsageQuery>;

export const UsageTotals = z.object({
  inputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
  steps: z.number(),
});
export type UsageTotals = z.infer<typeof UsageTotals>;

export const Budget = z
  .object({
    monthlyTokens: z.number().int().min(0).optional(),
    monthlyUsd: z.number().min(0).optional(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: "Budget" });
export type Budget = z.infer<typeof Budget>;

export const PutBudgetRequest = z
  .object({
    /** null removes the limit. */
    monthlyTokens: z.number().int().min(0).nullable().optional(),
    monthlyUsd: z.number().min(0).nullable().optional(),
  })
  .strict();
export type PutBudgetRequest = z.infer<typeof PutBudgetRequest>;

export const UsageReport = z
  .object({
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(["day", "model", "job", "agent", "workflow"]),
    items: z.array(UsageTotals.extend({ key: z.string() })),
    total: UsageTotals,
    month: UsageTotals.extend({ month: z.string() }),
    budget: Budget.optional(),
    /** Tokens-per-minute limits against their current windows, and the per-job dollar limits. */
    limits: LimitsUsage.optional(),
  })
  .meta({ id: "UsageReport" });
export type UsageReport = z.infer<typeof UsageReport>;
