import { memoryName } from "#events/agents";
import { MAX_DOCUMENTS_PER_CALL, MAX_TOP_K, UpsertDocumentsRequest } from "#events/collections";
import { runCode, SandboxError } from "../engine/sandbox.ts";
import { AppError } from "../errors.ts";
import { deleteMemory, getMemory, putMemory } from "../stores/memory.ts";
import { queryCollection, upsertDocuments } from "../vectors/service.ts";
import { callHttp, DEFAULT_MAX_RESPONSE_BYTES, encodeBody, MAX_RESPONSE_BYTES } from "./http-call.ts";
import { type ToolContext, type ToolDefinition, ToolError } from "./types.ts";

/** The tools every tenant has: HTTP, memory, vector collections and sandboxed code. */

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

/** A collection call's refusal (unknown collection, bad filter, embedder down) goes back as the tool's error. */
async function collectionCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof AppError && error.status < 500)
      throw new ToolError(error.code === "EGRESS_DENIED" ? "EGRESS_DENIED" : "TOOL_ERROR", error.message);
    if (error instanceof AppError)
      throw new ToolError(
        "TOOL_ERROR",
        error.message,
        (error.details as { retryable?: boolean } | undefined)?.retryable ?? true,
      );
    throw error;
  }
}

const collectionSchema = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  pattern: "^[A-Za-z][A-Za-z0-9_.-]*$",
  description: "Collection name",
};

const vectorSearch: ToolDefinition = {
  name: "vector_search",
  description:
    'Search a vector collection for the chunks nearest in meaning to a query. Returns {matches: [{id, chunk, score, text, metadata}]}, best first. filter uses S3 Vectors syntax, e.g. {"kind": "faq"} or {"year": {"$gte": 2024}}.',
  builtIn: true,
  parameters: {
    type: "object",
    properties: {
      collection: collectionSchema,
      query: { type: "string", minLength: 1, maxLength: 8000 },
      topK: { type: "integer", minimum: 1, maximum: MAX_TOP_K, default: 5 },
      filter: {
        type: "object",
        description: "Metadata filter ($eq $ne $gt $gte $lt $lte $in $nin $exists $and $or)",
      },
    },
    required: ["collection", "query"],
  },
  run: (args, context) =>
    collectionCall(() =>
      queryCollection(
        {
          tenantId: context.tenantId,
          jobId: context.jobId,
          ...(context.signal ? { signal: context.signal } : {}),
        },
        String(args.collection),
        {
          text: String(args.query),
          topK: typeof args.topK === "number" ? args.topK : 5,
          ...(args.filter === undefined ? {} : { filter: args.filter as Record<string, unknown> }),
        },
      ),
    ),
};

const vectorUpsert: ToolDefinition = {
  name: "vector_upsert",
  description:
    "Store documents in a vector collection (chunked and embedded). A document with an existing id is replaced. Returns {documents: [{id, chunks}]}.",
  builtIn: true,
  parameters: {
    type: "object",
    properties: {
      collection: collectionSchema,
      documents: {
        type: "array",
        minItems: 1,
        maxItems: MAX_DOCUMENTS_PER_CALL,
        items: {
          type: "object",
          properties: {
            id: { type: "string", minLength: 1, maxLength: 256 },
            text: { type: "string", minLength: 1 },
            metadata: { type: "object", description: "String, number, boolean or string-list values" },
          },
          required: ["id", "text"],
        },
      },
    },
    required: ["collection", "documents"],
  },
  async run(args, context) {
    const parsed = UpsertDocumentsRequest.safeParse({ documents: args.documents });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ToolError(
        "TOOL_ARGUMENTS_INVALID",
        `documents.${issue?.path.slice(1).join(".")}: ${issue?.message}`,
      );
    }
    const result = await collectionCall(() =>
      upsertDocuments(
        {
          tenantId: context.tenantId,
          jobId: context.jobId,
          ...(context.signal ? { signal: context.signal } : {}),
        },
        String(args.collection),
        parsed.data.documents,
      ),
    );
    return { documents: result.documents };
  },
};

export const BUILTIN_TOOLS: ReadonlyMap<string, ToolDefinition> = new Map(
  [httpRequest, memoryGet, memoryPut, memoryDelete, vectorSearch, vectorUpsert, code].map((tool) => [
    tool.name,
    tool,
  ]),
);

export function isBuiltinTool(name: string): boolean {
  return BUILTIN_TOOLS.has(name);
}
