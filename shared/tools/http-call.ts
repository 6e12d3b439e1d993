import { EgressError, egressRequest, readBody } from "./egress.ts";
import { type ToolContext, ToolError } from "./types.ts";

/** What an HTTP tool returns: `body` as text, and `json` when the body parses as JSON. */
export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  url: string;
  body: string;
  json?: unknown;
  truncated?: true;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024;
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Response headers worth showing a model or a workflow; the rest (cookies among them) are left out. */
const KEPT_HEADERS = new Set([
  "content-type",
  "content-length",
  "location",
  "etag",
  "last-modified",
  "retry-after",
  "link",
]);

export async function callHttp(options: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  maxBytes?: number;
  sensitiveHeaders?: string[];
  context: ToolContext;
}): Promise<HttpResult> {
  const { context } = options;
  const timeoutMs = Math.max(
    1,
    Math.min(options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS, context.remainingMs()),
  );
  const headers: Record<string, string> = { "user-agent": "switchboard-tool/1", ...options.headers };
  if (!Object.keys(headers).some((name) => name.toLowerCase() === "idempotency-key")) {
    headers["idempotency-key"] = context.idempotencyKey;
  }
  try {
    const response = await egressRequest({
      url: options.url,
      method: options.method,
      headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      timeoutMs,
      ...(context.signal === undefined ? {} : { signal: context.signal }),
      ...(options.sensitiveHeaders === undefined ? {} : { sensitiveHeaders: options.sensitiveHeaders }),
    });
    const { body, truncated } = await readBody(
      response.stream,
      Math.min(options.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES),
    );
    const text = body.toString("utf8");
    let json: unknown;
    if (!truncated && /\bjson\b/i.test(response.headers["content-type"] ?? "")) {
      try {
        json = JSON.parse(text);
      } catch {
        // left out: the body is still there as text
      }
    }
    return {
      status: response.status,
      headers: Object.fromEntries(
        Object.entries(response.headers).filter(([name]) => KEPT_HEADERS.has(name)),
      ),
      url: response.url,
      body: text,
      ...(json === undefined ? {} : { json }),
      ...(truncated ? { truncated: true as const } : {}),
    };
  } catch (error) {
    if (error instanceof EgressError) {
      const retryable = error.code === "HTTP_ERROR" || error.code === "HTTP_TIMEOUT";
      throw new ToolError(error.code, error.message, retryable);
    }
    if (context.signal?.aborted)
      throw new ToolError("TOOL_TIMEOUT", "The step's time ran out during the request", true);
    throw new ToolError("HTTP_ERROR", (error as Error).message, true);
  }
}

/** Request bodies: strings as they are, anything else as JSON. */
export function encodeBody(body: unknown, headers: Record<string, string>): string | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return body;
  if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type"))
    headers["content-type"] = "application/json";
  return JSON.stringify(body);
}
