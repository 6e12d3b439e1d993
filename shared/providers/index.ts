import type { AgentScript, ProviderName } from "#events/agents";
import { MIN_QUEUED_WAIT_SECONDS } from "../limits/accounting.ts";
import { logger } from "../observability.ts";
import { type BreakerEndpoint, CircuitOpenError, throughBreaker } from "../resilience/breaker.ts";
import { createAnthropicProvider } from "./anthropic.ts";
import { createBedrockProvider } from "./bedrock.ts";
import { createOpenAiProvider, OPENAI_DEFAULT_BASE_URL } from "./openai.ts";
import { createScriptedProvider } from "./scripted.ts";
import { type ConverseRequest, type ModelProvider, ProviderError } from "./types.ts";

export * from "./types.ts";

export interface ProviderConfig {
  provider: ProviderName;
  model: string;
  baseUrl?: string;
  script?: AgentScript;
  /** The decrypted credential, if the agent names one. Lives only as long as the step. */
  secret?: string;
  /** Whose circuit breaker the calls go through; without it there is none (a provider used outside a step). */
  tenantId?: string;
}

export const PROVIDER_RETRIES = 3;
const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 8_000;

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * Retries a provider call on throttling and server errors, up to three more times with exponential
 * back-off and jitter (or the provider's Retry-After, capped). A call that already streamed text is not
 * retried: the tokens were delivered and a second answer would repeat them.
 */
export function withRetries(
  provider: ModelProvider,
  retries = PROVIDER_RETRIES,
  baseDelayMs = BASE_DELAY_MS,
): ModelProvider {
  return {
    name: provider.name,
    model: provider.model,
    async converse(request: ConverseRequest) {
      for (let attempt = 0; ; attempt++) {
        let streamed = false;
        const onToken = request.onToken;
        const tracked: ConverseRequest =
          onToken === undefined
            ? request
            : {
                ...request,
                onToken: (text) => {
                  streamed = true;
                  onToken(text);
                },
              };
        try {
          return await provider.converse(tracked);
        } catch (error) {
          if (!(error instanceof ProviderError) || !error.retryable || streamed || attempt >= retries)
            throw error;
          // An open breaker fails the step fast; the step's own retry policy decides when to come back.
          if (error.code === "CIRCUIT_OPEN") throw error;
          // A throttle that asks for a real wait is waited out on the queue, holding no compute (shared/limits).
          if (error.status === 429 && (error.retryAfterSeconds ?? 0) > MIN_QUEUED_WAIT_SECONDS) throw error;
          if (request.signal?.aborted) throw error;
          const backoff = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** attempt) * (0.5 + Math.random() / 2);
          const wait =
            error.retryAfterSeconds === undefined
              ? backoff
              : Math.min(MAX_DELAY_MS, error.retryAfterSeconds * 1000);
          logger.info("Provider call failed; retrying", {
            provider: provider.name,
            model: provider.model,
            status: error.status,
            attempt: attempt + 1,
            waitMs: Math.round(wait),
          });
          await delay(wait, request.signal);
        }
      }
    },
  };
}

/** What a provider's breaker guards: the endpoint its calls go to. */
export function providerEndpoint(config: Pick<ProviderConfig, "provider" | "baseUrl">): string {
  const origin = (url: string) => {
    try {
      const parsed = new URL(url);
      return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
    } catch {
      return url;
    }
  };
  if (config.baseUrl !== undefined) return `${config.provider} ${origin(config.baseUrl)}`;
  switch (config.provider) {
    case "openai":
      return `openai ${OPENAI_DEFAULT_BASE_URL}`;
    case "anthropic":
      return "anthropic https://api.anthropic.com";
    default:
      return `${config.provider} ${process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME ?? `aws ${process.env.AWS_REGION ?? "default region"}`}`;
  }
}

/**
 * Each call (each retry too) passes the endpoint's breaker. Throttling, server errors and dropped
 * connections count against it; a refused request (400, 401) says the endpoint is up.
 */
export function withBreaker(provider: ModelProvider, endpoint: BreakerEndpoint): ModelProvider {
  return {
    name: provider.name,
    model: provider.model,
    async converse(request: ConverseRequest) {
      try {
        return await throughBreaker(endpoint, () => provider.converse(request), {
          failed: (error) =>
            (error instanceof ProviderError && error.retryable) ||
            (!(error instanceof ProviderError) && request.signal?.aborted === true),
          describe: ({ error }) =>
            error instanceof ProviderError
              ? error.status === undefined
                ? "connection failed"
                : `HTTP ${error.status}`
              : "timed out",
        });
      } catch (error) {
        if (error instanceof CircuitOpenError) {
          throw new ProviderError(error.message, undefined, true, undefined, "CIRCUIT_OPEN");
        }
        throw error;
      }
    },
  };
}

/** The provider an agent names, with its credential, wrapped in the retry policy. */
export async function createProvider(config: ProviderConfig): Promise<ModelProvider> {
  const base: ModelProvider = await (async () => {
    switch (config.provider) {
      case "openai":
        return createOpenAiProvider({
          model: config.model,
          ...(config.secret === undefined ? {} : { apiKey: config.secret }),
          ...(config.baseUrl === undefined ? {} : { baseUrl: config.baseUrl }),
        });
      case "anthropic":
        return createAnthropicProvider({
          model: config.model,
          ...(config.secret === undefined ? {} : { apiKey: config.secret }),
          ...(config.baseUrl === undefined ? {} : { baseUrl: config.baseUrl }),
        });
      case "bedrock":
        return createBedrockProvider({
          model: config.model,
          ...(config.secret === undefined ? {} : { secret: config.secret }),
          ...(config.baseUrl === undefined ? {} : { baseUrl: config.baseUrl }),
        });
      case "scripted":
        return createScriptedProvider({
          model: config.model,
          ...(config.script === undefined ? {} : { script: config.script }),
        });
    }
  })();
  if (config.provider === "scripted") return base;
  const guarded =
    config.tenantId === undefined
      ? base
      : withBreaker(base, { tenantId: config.tenantId, kind: "provider", target: providerEndpoint(config) });
  return withRetries(guarded);
}
