import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { type FetchFailure, guardedFetch } from "../providers/sdk-http.ts";
import { redact } from "../providers/types.ts";

/**
 * A short MCP session over Streamable HTTP, through the official SDK client. The transport's `fetch` is the
 * egress guard's (destination checked, connection pinned, no redirects), so an MCP server is reached like
 * every other outbound call. Each request gets what is left of the caller's time; the session is closed
 * (and its server-side state deleted) when the work is done, since a step or a registration is short.
 */

export const DEFAULT_MCP_TIMEOUT_MS = 30_000;
/** A polite DELETE of the session at the end, never allowed to hold a step up. */
const TERMINATE_TIMEOUT_MS = 1_000;
/** Pages of `tools/list` followed at most: a server that never stops paging is cut off. */
const MAX_LIST_PAGES = 20;

export type McpFailureCode = "EGRESS_DENIED" | "MCP_UNREACHABLE" | "MCP_TIMEOUT" | "MCP_ERROR";

export class McpClientError extends Error {
  override readonly name = "McpClientError";
  constructor(
    readonly code: McpFailureCode,
    message: string,
    /** Another try could succeed: the server was down, slow, or answered 5xx/429. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface McpTarget {
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
}

export interface McpToolInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface McpCallResult {
  content: unknown[];
  structuredContent?: Record<string, unknown>;
  isError: boolean;
}

export interface McpSession {
  listTools(): Promise<McpToolInfo[]>;
  callTool(name: string, args: Record<string, unknown>): Promise<McpCallResult>;
}

function isStatusRetryable(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

function toFailure(
  error: unknown,
  failure: FetchFailure,
  target: McpTarget,
  timeoutMs: number,
): McpClientError {
  if (error instanceof McpClientError) return error;
  const host = (() => {
    try {
      return new URL(target.url).host;
    } catch {
      return target.url;
    }
  })();
  const scrub = (text: string) => redact(text, [target.token]);
  const egress = failure.error;
  if (egress !== undefined) {
    if (egress.code === "EGRESS_DENIED")
      return new McpClientError("EGRESS_DENIED", scrub(egress.message), false);
    if (egress.code === "HTTP_TIMEOUT")
      return new McpClientError("MCP_TIMEOUT", `MCP server ${host} did not answer in time`, true);
    return new McpClientError(
      "MCP_UNREACHABLE",
      `MCP server ${host} could not be reached: ${scrub(egress.message)}`,
      egress.code !== "HTTP_TOO_MANY_REDIRECTS",
    );
  }
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
    return new McpClientError(
      "MCP_TIMEOUT",
      `MCP server ${host} did not answer within ${timeoutMs} ms`,
      true,
    );
  }
  if (error instanceof StreamableHTTPError) {
    return new McpClientError(
      isStatusRetryable(error.code) ? "MCP_UNREACHABLE" : "MCP_ERROR",
      `MCP server ${host} answered ${error.code ?? "with an error"}: ${scrub(error.message).slice(0, 300)}`,
      isStatusRetryable(error.code),
    );
  }
  if (error instanceof McpError) {
    return new McpClientError(
      "MCP_ERROR",
      `MCP server ${host}: ${scrub(error.message).slice(0, 500)}`,
      false,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new McpClientError(
    "MCP_UNREACHABLE",
    `MCP server ${host} failed: ${scrub(message).slice(0, 300)}`,
    true,
  );
}

function asSchema(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { type: "object" };
}

/**
 * Connects, runs `work` with a session, and closes. Every failure comes out as an McpClientError whose
 * message names the server's host and never the token.
 */
export async function withMcpSession<T>(
  target: McpTarget,
  options: { timeoutMs?: number; signal?: AbortSignal },
  work: (session: McpSession) => Promise<T>,
): Promise<T> {
  const timeoutMs = Math.max(1, options.timeoutMs ?? DEFAULT_MCP_TIMEOUT_MS);
  const deadline = Date.now() + timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  const overall = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? overall : AbortSignal.any([options.signal, overall]);
  const failure: FetchFailure = {};
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw new McpClientError("MCP_ERROR", "The MCP server URL is not valid", false);
  }
  const transport = new StreamableHTTPClientTransport(url, {
    fetch: guardedFetch(failure),
    requestInit: {
      headers: target.token === undefined ? {} : { authorization: `Bearer ${target.token}` },
    },
    // One short session: a dropped event stream is not worth reconnecting to.
    reconnectionOptions: {
      maxRetries: 0,
      initialReconnectionDelay: 1_000,
      maxReconnectionDelay: 1_000,
      reconnectionDelayGrowFactor: 1,
    },
  });
  const client = new Client({ name: "switchboard", version: "1" }, { capabilities: {} });
  // Transport errors also reject the pending request; this keeps them from surfacing as unhandled.
  client.onerror = () => {};
  const requestOptions = () => ({ timeout: remaining(), signal });
  let connected = false;
  try {
    await client.connect(transport, requestOptions());
    connected = true;
    return await work({
      listTools: async () => {
        const tools: McpToolInfo[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < MAX_LIST_PAGES; page++) {
          const result = await client.listTools(cursor === undefined ? {} : { cursor }, requestOptions());
          for (const tool of result.tools) {
            tools.push({
              name: tool.name,
              description: tool.description ?? tool.title ?? "",
              inputSchema: asSchema(tool.inputSchema),
            });
          }
          cursor = result.nextCursor;
          if (cursor === undefined) break;
        }
        return tools;
      },
      callTool: async (name, args) => {
        const result = await client.callTool({ name, arguments: args }, undefined, requestOptions());
        return {
          content: Array.isArray(result.content) ? result.content : [],
          ...(result.structuredContent === undefined
            ? {}
            : { structuredContent: result.structuredContent as Record<string, unknown> }),
          isError: result.isError === true,
        };
      },
    });
  } catch (error) {
    if (options.signal?.aborted && failure.error === undefined) throw options.signal.reason ?? error;
    // The session's own deadline may fire a moment before the SDK's request timeout does.
    if (overall.aborted && failure.error === undefined && !(error instanceof McpClientError)) {
      throw toFailure(new McpError(ErrorCode.RequestTimeout, "timed out"), failure, target, timeoutMs);
    }
    throw toFailure(error, failure, target, timeoutMs);
  } finally {
    if (connected) {
      await Promise.race([
        transport.terminateSession().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, Math.min(TERMINATE_TIMEOUT_MS, remaining())).unref()),
      ]);
    }
    await client.close().catch(() => {});
  }
}

/** The text blocks of a tool result, joined: what a workflow most often wants from it. */
export function textOf(content: unknown[]): string {
  return content
    .flatMap((block) =>
      block !== null &&
      typeof block === "object" &&
      (block as { type?: unknown }).type === "text" &&
      typeof (block as { text?: unknown }).text === "string"
        ? [(block as { text: string }).text]
        : [],
    )
    .join("\n");
}
