import { EgressError, egressRequest } from "../tools/egress.ts";

/**
 * Whether an endpoint answers at all: one bounded GET through the egress guard, with no credential, where
 * any HTTP answer (a 401 or a 404 included) means the endpoint is reachable and a refused connection, a
 * timeout or an egress refusal means it is not. Results are kept briefly per URL and per process, so a
 * dashboard polling the status page does not turn into traffic against the providers.
 */

export const REACHABILITY_TIMEOUT_MS = 3_000;
export const REACHABILITY_CACHE_MS = 30_000;
/** Endpoints checked per status request; the rest are reported as not checked. */
export const MAX_CHECKS = 25;
const CACHE_SIZE = 500;

export interface Reachability {
  url: string;
  reachable: boolean;
  /** The HTTP status the endpoint answered with. */
  httpStatus?: number;
  latencyMs?: number;
  error?: string;
  checkedAt: string;
}

const cache = new Map<string, { at: number; result: Promise<Reachability> }>();

async function probe(url: string): Promise<Reachability> {
  const started = Date.now();
  const checkedAt = new Date(started).toISOString();
  try {
    const response = await egressRequest({
      url,
      method: "GET",
      headers: { "user-agent": "switchboard-health/1", accept: "application/json, text/event-stream" },
      timeoutMs: REACHABILITY_TIMEOUT_MS,
      maxRedirects: 0,
    });
    response.stream.destroy();
    return { url, reachable: true, httpStatus: response.status, latencyMs: Date.now() - started, checkedAt };
  } catch (error) {
    const message =
      error instanceof EgressError
        ? error.code === "HTTP_TIMEOUT"
          ? `no answer within ${REACHABILITY_TIMEOUT_MS} ms`
          : error.message
        : (error as Error).message;
    return {
      url,
      reachable: false,
      latencyMs: Date.now() - started,
      error: message.slice(0, 300),
      checkedAt,
    };
  }
}

export function checkReachability(url: string, now = Date.now()): Promise<Reachability> {
  const hit = cache.get(url);
  if (hit !== undefined && now - hit.at < REACHABILITY_CACHE_MS) return hit.result;
  const result = probe(url);
  cache.set(url, { at: now, result });
  if (cache.size > CACHE_SIZE) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return result;
}

/** Forgets every cached answer (tests, and an operator's explicit recheck). */
export function clearReachabilityCache(): void {
  cache.clear();
}

/** Where a provider's reachability is checked: a cheap listing each API has, or the service root. */
export function providerProbeUrl(
  provider: string,
  baseUrl: string | undefined,
  region?: string,
): string | undefined {
  const trimmed = baseUrl?.replace(/\/+$/, "");
  switch (provider) {
    case "openai":
      return `${trimmed ?? "https://api.openai.com/v1"}/models`;
    case "anthropic":
      return `${trimmed ?? "https://api.anthropic.com"}/v1/models`;
    case "bedrock":
      return trimmed ?? `https://bedrock-runtime.${region ?? "us-east-1"}.amazonaws.com/`;
    default:
      return undefined;
  }
}
