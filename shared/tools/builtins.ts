import { memoryName } from "#events/agents";
import { runCode, SandboxError } from "../engine/sandbox.ts";
import { deleteMemory, getMemory, putMemory } from "../stores/memory.ts";
import { callHttp, DEFAULT_MAX_RESPONSE_BYTES, encodeBody, MAX_RESPONSE_BYTES } from "./http-call.ts";
import { type ToolContext, type ToolDefinition, ToolError } from "./types.ts";

/** The tools every tenant has: HTTP, memory and sandboxed code. */

const MAX_HTTP_TIMEOUT_SECONDS = 60;
const MAX_CODE_TIMEOUT_MS = 10_000;

const namespaceKeySchema = {
  namespace: {
    type: "string",
    minLength: 1,
    maxLength: 128,
    pattern: "^[A-Za-z0-9_.:@-]+$",
    description: "Memory namespace",
  },
  key: {
    type: "string",
    minLength: 1,
    maxLength: 128,
    pattern: "^[A-Za-z0-9_.:@-]+$",
    description: "Key within the namespace",
  },
};

function names(args: Record<string, unknown>): { namespace: string; key: string } {
  // The schema already checked them; parse again so the types are narrowed for the store.
  return { namespace: memoryName.parse(args.namespace), key: memoryName.parse(args.key) };
}

const httpRequest: ToolDefinition = {
  name: "http_request",
  description:
    "Send an HTTP request and return {status, headers, body, json?}. Private, loopback and cloud-metadata addresses are refused.",
  builtIn: true,
  parameters: {
    type: "object",
    properties: {
      url: { type: "string", description: "Absolute http(s) URL" },
      method: { type: "string", enum: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], default: "GET" },
      headers: { type: "object", additionalProperties: { type: "string" } },
      body: { description: "A string, or any JSON value (sent as application/json)" },
      timeoutSeconds: { type: "number", minimum: 1, maximum: MAX_HTTP_TIMEOUT_SECONDS },
      maxBytes: {
        type: "integer",
        minimum: 1,
        maximum: MAX_RESPONSE_BYTES,
        description: `Default ${DEFAULT_MAX_RESPONSE_BYTES}`,
      },
    },
    required: ["url"],
  },
  async run(args, context) {
    const headers = { ...((args.headers as Record<string, string> | undefined) ?? {}) };
    const body = encodeBody(args.body, headers);
    return callHttp({
      url: String(args.url),
      method: String(args.method ?? "GET").toUpperCase(),
      headers,
      ...(body === undefined ? {} : { body }),
      timeoutMs: Number(args.timeoutSeconds ?? 30) * 1000,
      ...(typeof args.maxBytes === "number" ? { maxBytes: args.maxBytes } : {}),
      context,
    });
  },
};

const memoryGet: ToolDefinition = {
  name: "memory_get",
  description: "Read a value from the tenant's memory. Returns {found, value?}.",
  builtIn: true,
  parameters: { type: "object", properties: namespaceKeySchema, required: ["namespace", "key"] },
  async run(args, context) {
    const { namespace, key } = names(args);
    const entry = await getMemory(context.tenantId, namespace, key);
    return entry === undefined
      ? { found: false }
      : { found: true, value: entry.value, updatedAt: entry.updatedAt };
  },
};

const memoryPut: ToolDefinition = {
  name: "memory_put",
  description: "Store a JSON value in the tenant's memory under namespace/key, optionally for ttlSeconds.",
  builtIn: true,
  parameters: {
    type: "object",
    properties: {
      ...namespaceKeySchema,
      value: { description: "Any JSON value" },
      ttlSeconds: { type: "integer", minimum: 1 },
    },
    required: ["namespace", "key", "value"],
  },
  async run(args, context) {
    const { namespace, key } = names(args);
    try {
      const entry = await putMemory(
        context.tenantId,
        namespace,
        key,
        args.value,
        typeof args.ttlSeconds === "number" ? args.ttlSeconds : undefined,
      );
      return { stored: true, updatedAt: entry.updatedAt };
    } catch (error) {
      if ((error as { code?: string }).code === "PAYLOAD_TOO_LARGE")
        throw new ToolError("TOOL_ERROR", (error as Error).message);
      throw error;
    }
  },
};

const memoryDelete: ToolDefinition = {
  name: "memory_delete",
  description: "Delete a value from the tenant's memory. Returns {deleted}.",
  builtIn: true,
  parameters: { type: "object", properties: namespaceKeySchema, required: ["namespace", "key"] },
  async run(args, context) {
    const { namespace, key } = names(args);
    return { deleted: await deleteMemory(context.tenantId, namespace, key) };
  },
};

const code: ToolDefinition = {
  name: "code",
  description:
    "Run JavaScript (the body of an async function of `input`) in a sandbox with no I/O, and return what it returns.",
  builtIn: true,
  parameters: {
    type: "object",
    properties: {
      code: { type: "string", minLength: 1, maxLength: 64000, description: "e.g. return input.a + input.b" },
      input: { description: "Any JSON value, visible to the code as `input`" },
    },
    required: ["code"],
  },
  async run(args, context: ToolContext) {
    try {
      const result = await runCode(
        String(args.code),
        { input: args.input ?? null, attempt: context.attempt },
        { timeoutMs: Math.max(1, Math.min(MAX_CODE_TIMEOUT_MS, context.remainingMs())) },
      );
      return result.logs.length > 0
        ? { output: result.output, logs: result.logs }
        : { output: result.output };
    } catch (error) {
      if (error instanceof SandboxError)
        throw new ToolError(error.code, error.message, error.code === "CODE_TIMEOUT");
      throw error;
    }
  },
};

export const BUILTIN_TOOLS: ReadonlyMap<string, ToolDefinition> = new Map(
  [httpRequest, memoryGet, memoryPut, memoryDelete, code].map((tool) => [tool.name, tool]),
);

export function isBuiltinTool(name: string): boolean {
  return BUILTIN_TOOLS.has(name);
}
