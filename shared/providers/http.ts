import { EgressError, type EgressResponse, egressRequest, readBody } from "../tools/egress.ts";
import { isRetryableStatus, ProviderError, redact } from "./types.ts";

/** A model's answer is rarely more than a few hundred KB; anything past this is not a chat completion. */
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;
/** Until the response headers arrive. Streams then run as long as the step allows. */
const CONNECT_TIMEOUT_MS = 120_000;

function retryAfter(headers: Record<string, string>): number | undefined {
  const raw = headers["retry-after"];
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** The provider's own words for an error: OpenAI's `error.message`, Anthropic's `error.message`, or the text. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; type?: string } | string;
      message?: string;
    };
    if (typeof body.error === "object" && body.error?.message) {
      return body.error.type ? `${body.error.type}: ${body.error.message}` : body.error.message;
    }
    if (typeof body.error === "string") return body.error;
    if (typeof body.message === "string") return body.message;
  } catch {
    // not JSON: fall back to the text
  }
  return text.slice(0, 500).trim() || "no details";
}

/**
 * POSTs JSON to a provider through the egress guard. A 4xx or 5xx becomes a ProviderError (retryable for
 * 408/409/429/5xx); the egress guard's refusal becomes EGRESS_DENIED; a dropped connection is retryable.
 */
export async function postJson(options: {
  provider: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  signal?: AbortSignal;
  /** Values to scrub from any error message. */
  secrets: readonly (string | undefined)[];
}): Promise<EgressResponse> {
  let response: EgressResponse;
  try {
    response = await egressRequest({
      url: options.url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...options.headers,
      },
      body: JSON.stringify(options.body),
      timeoutMs: CONNECT_TIMEOUT_MS,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      // A provider does not redirect API calls; one that does is misconfigured, and keys must not follow.
      maxRedirects: 0,
    });
  } catch (error) {
    if (error instanceof EgressError) {
      const denied = error.code === "EGRESS_DENIED";
      throw new ProviderError(
        `${options.provider}: ${redact(error.message, options.secrets)}`,
        undefined,
        !denied && error.code !== "HTTP_TOO_MANY_REDIRECTS",
        undefined,
        denied ? "EGRESS_DENIED" : "PROVIDER_ERROR",
      );
    }
    if (options.signal?.aborted) throw error;
    throw new ProviderError(
      `${options.provider}: ${redact((error as Error).message, options.secrets)}`,
      undefined,
      true,
    );
  }
  if (response.status >= 400) {
    const { body } = await readBody(response.stream, MAX_ERROR_BYTES).catch(() => ({
      body: Buffer.alloc(0),
    }));
    const message = redact(errorMessage(body.toString("utf8")), options.secrets);
    throw new ProviderError(
      `${options.provider} answered ${response.status}: ${message}`,
      response.status,
      isRetryableStatus(response.status),
      retryAfter(response.headers),
    );
  }
  return response;
}

export async function readJson<T>(response: EgressResponse, provider: string): Promise<T> {
  const { body, truncated } = await readBody(response.stream, MAX_RESPONSE_BYTES);
  if (truncated)
    throw new ProviderError(
      `${provider}: response larger than ${MAX_RESPONSE_BYTES} bytes`,
      response.status,
      false,
    );
  try {
    return JSON.parse(body.toString("utf8")) as T;
  } catch {
    throw new ProviderError(`${provider}: response is not JSON`, response.status, true);
  }
}

/** Joins a base URL and a path without doubling or dropping the slash between them. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}
