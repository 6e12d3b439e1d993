import { Readable } from "node:stream";
import { throttleWaitSeconds } from "../limits/accounting.ts";
import { EgressError, egressRequest } from "../tools/egress.ts";
import { isRetryableStatus, ProviderError, redact } from "./types.ts";

/**
 * The bridge between the providers' official SDKs and the egress guard. The SDKs take a custom `fetch`;
 * this one sends every request through `egressRequest` (destination resolved and checked, connection
 * pinned to the checked address, no redirects followed) and answers with a WHATWG `Response` whose body
 * streams from the Node response. SDK errors are turned back into `ProviderError`s whose messages are
 * scrubbed of the credential: nothing of the SDK's error (which may carry request headers) travels on.
 */

/** Until the response headers arrive. Streams then run as long as the step allows. */
export const CONNECT_TIMEOUT_MS = 120_000;
/** The SDKs' own timeout stays above the guard's, so the guard's clearer error is the one seen. */
export const SDK_TIMEOUT_MS = 15 * 60_000;

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

type FetchInput = string | URL | Request;

async function bodyOf(body: unknown): Promise<string | Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return body;
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // FormData, Blob, URLSearchParams, ReadableStream: let the platform serialise it.
  return Buffer.from(await new Response(body as BodyInit).arrayBuffer());
}

/** What the guarded fetch saw go wrong, kept so the error mapping does not depend on how an SDK wraps it. */
export interface FetchFailure {
  error?: EgressError;
}

/**
 * A `fetch` over the egress guard. A redirect is refused (a provider does not redirect API calls, and
 * keys must not follow one); the AbortSignal cancels the request and, once answered, its body.
 */
export function guardedFetch(failure: FetchFailure = {}): typeof fetch {
  return async (input: FetchInput, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = request ? request.url : input.toString();
    const headers: Record<string, string> = {};
    new Headers(request?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = await bodyOf(init?.body ?? (request?.body ? await request.arrayBuffer() : undefined));
    const signal = init?.signal ?? request?.signal ?? undefined;
    let response: Awaited<ReturnType<typeof egressRequest>>;
    try {
      response = await egressRequest({
        url,
        method: init?.method ?? request?.method ?? "GET",
        headers,
        ...(body === undefined ? {} : { body }),
        timeoutMs: CONNECT_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
        maxRedirects: 0,
      });
    } catch (error) {
      if (error instanceof EgressError) failure.error = error;
      throw error;
    }
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) responseHeaders.append(name, value);
    const stream = response.stream;
    if (NULL_BODY_STATUSES.has(response.status)) {
      stream.resume();
      return new Response(null, { status: response.status, headers: responseHeaders });
    }
    // Cancelling the web stream (the SDK's abort) destroys the Node response and its socket.
    const webBody = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
    return new Response(webBody, { status: response.status, headers: responseHeaders });
  };
}

/** What a throttled answer asked for: `retry-after`, or the rate-limit headers (see shared/limits). */
function retryAfter(headers: Headers | undefined): number | undefined {
  return headers === undefined ? undefined : throttleWaitSeconds((name) => headers.get(name));
}

/** The provider's own words for an error: `error.type: error.message` from OpenAI's or Anthropic's body. */
function describe(body: unknown, fallback: string): string {
  if (typeof body === "string") return body.slice(0, 500).trim() || fallback;
  if (body === null || typeof body !== "object") return fallback;
  const outer = body as { error?: unknown; message?: unknown; type?: unknown };
  const inner =
    outer.error !== null && typeof outer.error === "object"
      ? (outer.error as { message?: unknown; type?: unknown })
      : outer;
  if (typeof outer.error === "string") return outer.error;
  if (typeof inner.message === "string" && inner.message !== "") {
    return typeof inner.type === "string" && inner.type !== "error"
      ? `${inner.type}: ${inner.message}`
      : inner.message;
  }
  return fallback;
}

/** The shape both SDKs' APIError classes share. */
interface SdkApiError {
  status?: number | undefined;
  error?: unknown;
  headers?: Headers | undefined;
}

/**
 * Turns whatever an SDK call threw into a ProviderError: the egress guard's refusal is EGRESS_DENIED, an
 * HTTP error answer keeps its status (retryable for 408/409/429/5xx, with Retry-After), a stream's error
 * event and a dropped connection are retryable. An abort is passed on as the abort it is.
 */
export function toProviderError(options: {
  provider: string;
  error: unknown;
  failure: FetchFailure;
  secrets: readonly (string | undefined)[];
  signal?: AbortSignal | undefined;
  /** Whether an API error without a status (an error event inside the stream) may be retried. */
  streamErrorRetryable: (body: unknown) => boolean;
  /** The SDK's APIError and its connection / abort subclasses. */
  classes: {
    APIError: abstract new (...args: never[]) => Error;
    APIConnectionError: abstract new (...args: never[]) => Error;
    APIUserAbortError: abstract new (...args: never[]) => Error;
  };
}): unknown {
  const { provider, error, failure, secrets, classes } = options;
  if (error instanceof ProviderError) return error;
  if (options.signal?.aborted) return options.signal.reason ?? error;
  const egress = failure.error;
  if (egress !== undefined) {
    const denied = egress.code === "EGRESS_DENIED";
    return new ProviderError(
      `${provider}: ${redact(egress.message, secrets)}`,
      undefined,
      !denied && egress.code !== "HTTP_TOO_MANY_REDIRECTS",
      undefined,
      denied ? "EGRESS_DENIED" : "PROVIDER_ERROR",
    );
  }
  if (error instanceof classes.APIUserAbortError) {
    return new ProviderError(`${provider}: the request was aborted`, undefined, true);
  }
  if (error instanceof classes.APIConnectionError) {
    return new ProviderError(`${provider}: ${redact((error as Error).message, secrets)}`, undefined, true);
  }
  if (error instanceof classes.APIError) {
    const api = error as Error & SdkApiError;
    if (api.status !== undefined) {
      const message = redact(describe(api.error, "no details"), secrets);
      return new ProviderError(
        `${provider} answered ${api.status}: ${message}`,
        api.status,
        isRetryableStatus(api.status),
        retryAfter(api.headers),
      );
    }
    return new ProviderError(
      `${provider} stream error: ${redact(describe(api.error, "unknown"), secrets)}`,
      undefined,
      options.streamErrorRetryable(api.error),
    );
  }
  return new ProviderError(
    `${provider}: the stream broke off: ${redact((error as Error)?.message ?? String(error), secrets)}`,
    undefined,
    true,
  );
}
