import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  InvokeModelCommand,
} from "@aws-sdk/client-bedrock-runtime";
import OpenAI from "openai";
import type { EmbeddingProviderName } from "#events/collections";
import { type FetchFailure, guardedFetch, SDK_TIMEOUT_MS, toProviderError } from "../providers/sdk-http.ts";
import { isRetryableStatus, ProviderError, redact } from "../providers/types.ts";
import { checkDestination, EgressError, pinnedLookup } from "../tools/egress.ts";
import { HASHING_DIMENSION, HASHING_MODEL, hashingEmbedding } from "./hashing-embedder.ts";

/**
 * Embedding providers behind one interface: Bedrock Titan Text Embeddings v2 (InvokeModel), any
 * OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM), and the built-in `local` hashing
 * embedder. Failures are ProviderErrors, as for chat models, so callers map them the same way.
 */

export const DEFAULT_EMBEDDING_MODELS: Record<EmbeddingProviderName, string> = {
  bedrock: "amazon.titan-embed-text-v2:0",
  openai: "text-embedding-3-small",
  local: HASHING_MODEL,
};

/** Titan v2 accepts only these sizes; 1024 is its default. */
export const TITAN_V2_DIMENSIONS = [256, 512, 1024] as const;

/** USD per million input tokens (list prices, as of 2026-03); unknown models cost 0 and are counted in tokens. */
const EMBEDDING_PRICES: Record<string, number> = {
  "bedrock/amazon.titan-embed-text-v2": 0.02,
  "bedrock/amazon.titan-embed-text-v1": 0.1,
  "openai/text-embedding-3-small": 0.02,
  "openai/text-embedding-3-large": 0.13,
  "openai/text-embedding-ada-002": 0.1,
};

export function embeddingCost(provider: EmbeddingProviderName, model: string, inputTokens: number): number {
  const key = Object.keys(EMBEDDING_PRICES)
    .filter((prefix) => `${provider}/${model}`.startsWith(prefix))
    .sort((a, b) => b.length - a.length)[0];
  return key === undefined ? 0 : ((EMBEDDING_PRICES[key] as number) * inputTokens) / 1_000_000;
}

export interface EmbeddingResult {
  vectors: number[][];
  inputTokens: number;
}

export interface Embedder {
  readonly provider: EmbeddingProviderName;
  readonly model: string;
  embed(texts: string[], signal?: AbortSignal): Promise<EmbeddingResult>;
}

export interface EmbedderConfig {
  provider: EmbeddingProviderName;
  model?: string | undefined;
  baseUrl?: string | undefined;
  dimensions?: number | undefined;
  /** The decrypted credential, for as long as the call lasts. */
  secret?: string | undefined;
}

/** OpenAI accepts up to 2,048 inputs a request; smaller batches keep one request's body modest. */
const OPENAI_BATCH = 64;
/** Titan embeds one text per call; this many run at once. */
const BEDROCK_CONCURRENCY = 4;

/** About four characters a token: the local embedder's count, so usage has something to add up. */
export const estimateTokens = (text: string) => Math.ceil(text.length / 4);

function localEmbedder(): Embedder {
  return {
    provider: "local",
    model: HASHING_MODEL,
    async embed(texts) {
      return {
        vectors: texts.map((text) => hashingEmbedding(text, HASHING_DIMENSION)),
        inputTokens: texts.reduce((sum, text) => sum + estimateTokens(text), 0),
      };
    },
  };
}

function openAiEmbedder(config: EmbedderConfig, model: string): Embedder {
  const secrets = [config.secret];
  return {
    provider: "openai",
    model,
    async embed(texts, signal) {
      const vectors: number[][] = [];
      let inputTokens = 0;
      for (let i = 0; i < texts.length; i += OPENAI_BATCH) {
        const failure: FetchFailure = {};
        const client = new OpenAI({
          apiKey: config.secret ?? "no-key",
          adminAPIKey: null,
          organization: null,
          project: null,
          webhookSecret: null,
          baseURL: config.baseUrl ?? "https://api.openai.com/v1",
          fetch: guardedFetch(failure),
          maxRetries: 0,
          timeout: SDK_TIMEOUT_MS,
          logLevel: "off",
          ...(config.secret === undefined ? { defaultHeaders: { authorization: null } } : {}),
        });
        const batch = texts.slice(i, i + OPENAI_BATCH);
        try {
          const response = await client.embeddings.create(
            {
              model,
              input: batch,
              encoding_format: "float",
              ...(config.dimensions === undefined ? {} : { dimensions: config.dimensions }),
            },
            signal === undefined ? {} : { signal },
          );
          const ordered = [...response.data].sort((a, b) => a.index - b.index);
          if (ordered.length !== batch.length)
            throw new ProviderError(
              `openai returned ${ordered.length} embeddings for ${batch.length} inputs`,
              undefined,
              false,
            );
          vectors.push(...ordered.map((item) => item.embedding));
          inputTokens +=
            response.usage?.prompt_tokens ?? batch.reduce((sum, t) => sum + estimateTokens(t), 0);
        } catch (error) {
          throw toProviderError({
            provider: "openai",
            error,
            failure,
            secrets,
            signal,
            streamErrorRetryable: () => false,
            classes: OpenAI,
          });
        }
      }
      return { vectors, inputTokens };
    },
  };
}

function bedrockError(error: unknown, secrets: readonly (string | undefined)[]): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof EgressError) {
    const denied = error.code === "EGRESS_DENIED";
    return new ProviderError(
      `bedrock: ${error.message}`,
      undefined,
      !denied,
      undefined,
      denied ? "EGRESS_DENIED" : "PROVIDER_ERROR",
    );
  }
  const e = error as Error & { $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const retryable =
    e.name === "ThrottlingException" ||
    (status !== undefined
      ? isRetryableStatus(status)
      : ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT"].includes((e as NodeJS.ErrnoException).code ?? ""));
  const label = status === undefined ? e.name : `${status} ${e.name}`;
  return new ProviderError(
    `bedrock answered ${label}: ${redact(e.message ?? "", secrets)}`,
    status,
    retryable,
  );
}

async function bedrockEmbedder(config: EmbedderConfig, model: string): Promise<Embedder> {
  const secrets = [config.secret];
  const clientConfig: BedrockRuntimeClientConfig = { maxAttempts: 1 };
  if (config.secret !== undefined) {
    let credentials:
      | { accessKeyId?: unknown; secretAccessKey?: unknown; sessionToken?: unknown; region?: unknown }
      | undefined;
    try {
      credentials = JSON.parse(config.secret) as typeof credentials;
    } catch {
      credentials = undefined;
    }
    if (typeof credentials?.accessKeyId === "string" && typeof credentials.secretAccessKey === "string") {
      clientConfig.credentials = {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        ...(typeof credentials.sessionToken === "string" ? { sessionToken: credentials.sessionToken } : {}),
      };
      if (typeof credentials.region === "string") clientConfig.region = credentials.region;
    } else {
      clientConfig.token = { token: config.secret };
      clientConfig.authSchemePreference = ["httpBearerAuth"];
    }
  }
  if (config.baseUrl !== undefined) {
    try {
      const destination = await checkDestination(new URL(config.baseUrl));
      clientConfig.endpoint = config.baseUrl;
      clientConfig.requestHandler = {
        nodeHttp2ConnectOptions: { lookup: pinnedLookup(destination) },
      } as BedrockRuntimeClientConfig["requestHandler"];
    } catch (error) {
      throw bedrockError(error, secrets);
    }
  }
  const client = new BedrockRuntimeClient(clientConfig);
  const one = async (text: string, signal?: AbortSignal) => {
    try {
      const output = await client.send(
        new InvokeModelCommand({
          modelId: model,
          contentType: "application/json",
          accept: "application/json",
          body: JSON.stringify({ inputText: text, normalize: true, dimensions: config.dimensions ?? 1024 }),
        }),
        signal === undefined ? {} : { abortSignal: signal },
      );
      const body = JSON.parse(Buffer.from(output.body).toString("utf8")) as {
        embedding?: unknown;
        inputTextTokenCount?: unknown;
      };
      if (!Array.isArray(body.embedding))
        throw new ProviderError("bedrock returned no embedding", undefined, false);
      return {
        vector: body.embedding as number[],
        tokens:
          typeof body.inputTextTokenCount === "number" ? body.inputTextTokenCount : estimateTokens(text),
      };
    } catch (error) {
      throw bedrockError(error, secrets);
    }
  };
  return {
    provider: "bedrock",
    model,
    async embed(texts, signal) {
      const vectors: number[][] = new Array(texts.length);
      let inputTokens = 0;
      let next = 0;
      const worker = async () => {
        while (next < texts.length) {
          const at = next++;
          const result = await one(texts[at] as string, signal);
          vectors[at] = result.vector;
          inputTokens += result.tokens;
        }
      };
      await Promise.all(Array.from({ length: Math.min(BEDROCK_CONCURRENCY, texts.length) }, worker));
      return { vectors, inputTokens };
    },
  };
}

export async function createEmbedder(config: EmbedderConfig): Promise<Embedder> {
  const model = config.model ?? DEFAULT_EMBEDDING_MODELS[config.provider];
  switch (config.provider) {
    case "local":
      return localEmbedder();
    case "openai":
      return openAiEmbedder(config, model);
    case "bedrock":
      return bedrockEmbedder(config, model);
  }
}
