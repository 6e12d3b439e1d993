import { CircuitOpenError, throughBreaker } from "../resilience/breaker.ts";
import type { CustomTool } from "../stores/tools.ts";
import { callHttp } from "./http-call.ts";
import { type ToolContext, type ToolDefinition, ToolError } from "./types.ts";

/**
 * A tenant's HTTP tool: `{name}` placeholders in the URL template take the URL-encoded arguments of the
 * same name; the remaining arguments go in the query string (GET, DELETE) or as a JSON body. Header values
 * may use `{{secret:NAME}}`, filled in with the decrypted secret for this call only.
 */

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const SECRET_REF = /\{\{\s*secret:([A-Za-z][A-Za-z0-9_.-]*)\s*\}\}/g;

/** Secret names a tool's headers refer to, so a tool cannot be saved pointing at nothing by mistake. */
export function secretReferences(headers: Record<string, string> | undefined): string[] {
  return [
    ...new Set(
      Object.values(headers ?? {}).flatMap((value) =>
        [...value.matchAll(SECRET_REF)].map((m) => m[1] as string),
      ),
    ),
  ];
}

/** Placeholders of a URL template. */
export function urlPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

export function buildUrl(
  template: string,
  args: Record<string, unknown>,
): { url: string; used: Set<string> } {
  const used = new Set<string>();
  const filled = template.replace(PLACEHOLDER, (_all, name: string) => {
    const value = args[name];
    if (value === undefined || value === null) {
      throw new ToolError("TOOL_ARGUMENTS_INVALID", `The URL needs argument "${name}"`);
    }
    used.add(name);
    return encodeURIComponent(typeof value === "string" ? value : JSON.stringify(value));
  });
  return { url: filled, used };
}

async function resolveHeaders(
  headers: Record<string, string> | undefined,
  context: ToolContext,
): Promise<{ headers: Record<string, string>; sensitive: string[] }> {
  const out: Record<string, string> = {};
  const sensitive: string[] = [];
  for (const [name, template] of Object.entries(headers ?? {})) {
    const refs = [...template.matchAll(SECRET_REF)].map((m) => m[1] as string);
    let value = template;
    for (const ref of new Set(refs)) {
      const secret = await context.secret(ref);
      value = value
        .split(new RegExp(`\\{\\{\\s*secret:${ref.replace(/[.-]/g, "\\$&")}\\s*\\}\\}`, "g"))
        .join(secret);
    }
    if (refs.length > 0) sensitive.push(name.toLowerCase());
    out[name] = value;
  }
  return { headers: out, sensitive };
}

/** A custom tool's breaker guards its origin: every tool on one API shares it. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export function customToolDefinition(tool: CustomTool): ToolDefinition {
  return {
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
    builtIn: false,
    async run(args, context) {
      const { url, used } = buildUrl(tool.url, args);
      const rest = Object.fromEntries(Object.entries(args).filter(([name]) => !used.has(name)));
      const method = tool.method;
      const { headers, sensitive } = await resolveHeaders(tool.headers, context);
      let target = url;
      let body: string | undefined;
      if (method === "GET" || method === "DELETE") {
        const query = new URLSearchParams();
        for (const [name, value] of Object.entries(rest)) {
          if (value !== undefined && value !== null)
            query.set(name, typeof value === "string" ? value : JSON.stringify(value));
        }
        const search = query.toString();
        if (search !== "") target = `${url}${url.includes("?") ? "&" : "?"}${search}`;
      } else {
        body = JSON.stringify(rest);
        if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type"))
          headers["content-type"] = "application/json";
      }
      const call = () =>
        callHttp({
          url: target,
          method,
          headers,
          ...(body === undefined ? {} : { body }),
          ...(tool.timeoutSeconds === undefined ? {} : { timeoutMs: tool.timeoutSeconds * 1000 }),
          sensitiveHeaders: sensitive,
          context,
        });
      try {
        return await throughBreaker(
          { tenantId: context.tenantId, kind: "http", target: originOf(target) },
          call,
          {
            // Refusals by the egress guard never reached the endpoint, so they say nothing about its health.
            failed: (error) => error instanceof ToolError && error.retryable,
            failedResult: (result) => result.status >= 500 || result.status === 429,
            describe: ({ error, value }) =>
              value !== undefined
                ? `HTTP ${value.status}`
                : error instanceof ToolError
                  ? error.code
                  : undefined,
          },
        );
      } catch (error) {
        if (error instanceof CircuitOpenError) throw new ToolError("CIRCUIT_OPEN", error.message, true);
        throw error;
      }
    },
  };
}
