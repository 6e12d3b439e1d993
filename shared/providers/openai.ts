import OpenAI from "openai";
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { type FetchFailure, guardedFetch, SDK_TIMEOUT_MS, toProviderError } from "./sdk-http.ts";
import {
  type ChatMessage,
  type ConverseRequest,
  type ConverseResult,
  type ModelProvider,
  ProviderError,
  parseArguments,
  type StopReason,
  type ToolCallRequest,
} from "./types.ts";

/**
 * Any OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM, LM Studio…), through the official
 * `openai` SDK with the egress guard as its `fetch`. Streaming uses `stream: true`, with usage requested in
 * the last chunk (`stream_options.include_usage`). The SDK does not retry (`maxRetries: 0`): the policy is
 * the one in providers/index.ts.
 */

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

function toWire(system: string | undefined, messages: ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = system ? [{ role: "system", content: system }] : [];
  for (const message of messages) {
    if (message.role === "user") out.push({ role: "user", content: message.content });
    else if (message.role === "tool") {
      out.push({ role: "tool", tool_call_id: message.toolCallId, content: message.content });
    } else {
      const calls = message.toolCalls ?? [];
      out.push({
        role: "assistant",
        content: message.content === "" && calls.length > 0 ? null : message.content,
        ...(calls.length === 0
          ? {}
          : {
              tool_calls: calls.map((call) => ({
                id: call.id,
                type: "function" as const,
                function: { name: call.name, arguments: JSON.stringify(call.arguments) },
              })),
            }),
      });
    }
  }
  return out;
}

function stopReason(finish: string | null | undefined, hasCalls: boolean): StopReason {
  if (hasCalls || finish === "tool_calls" || finish === "function_call") return "tool_use";
  if (finish === "length") return "max_tokens";
  if (finish === "content_filter") return "content_filter";
  return "end_turn";
}

export function createOpenAiProvider(options: {
  model: string;
  apiKey?: string;
  baseUrl?: string;
}): ModelProvider {
  const secrets = [options.apiKey];

  /** One client per call, so the guarded fetch's record of an egress refusal belongs to this call alone. */
  function client(failure: FetchFailure): OpenAI {
    return new OpenAI({
      // Explicit values throughout, so no OPENAI_* variable of the host is picked up for a tenant's agent.
      // The SDK insists on a key; without one, a placeholder stands in and its header is removed below.
      apiKey: options.apiKey ?? "no-key",
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      baseURL: options.baseUrl ?? OPENAI_DEFAULT_BASE_URL,
      fetch: guardedFetch(failure),
      maxRetries: 0,
      timeout: SDK_TIMEOUT_MS,
      logLevel: "off",
      // Without a key no Authorization header is sent at all (local servers that need none).
      ...(options.apiKey === undefined ? { defaultHeaders: { authorization: null } } : {}),
    });
  }

  const fail = (error: unknown, failure: FetchFailure, signal: AbortSignal | undefined) =>
    toProviderError({
      provider: "openai",
      error,
      failure,
      secrets,
      signal,
      streamErrorRetryable: () => true,
      classes: OpenAI,
    });

  return {
    name: "openai",
    model: options.model,
    async converse(request: ConverseRequest): Promise<ConverseResult> {
      const failure: FetchFailure = {};
      const openai = client(failure);
      const params: ChatCompletionCreateParamsBase = {
        model: options.model,
        messages: toWire(request.system, request.messages),
        ...(request.tools && request.tools.length > 0
          ? {
              tools: request.tools.map((tool) => ({
                type: "function" as const,
                function: { name: tool.name, description: tool.description, parameters: tool.parameters },
              })),
            }
          : {}),
        // `max_tokens` rather than `max_completion_tokens`: it is what compatible servers understand.
        ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
      };
      const requestOptions = request.signal === undefined ? {} : { signal: request.signal };

      if (request.onToken === undefined) {
        const completion = await openai.chat.completions
          .create({ ...params, stream: false }, requestOptions)
          .catch((error: unknown) => {
            throw fail(error, failure, request.signal);
          });
        const choice = completion.choices?.[0];
        if (choice === undefined)
          throw new ProviderError("openai: the response has no choices", undefined, true);
        const toolCalls: ToolCallRequest[] = (choice.message?.tool_calls ?? []).flatMap((call) =>
          call.type === "function"
            ? [{ id: call.id, name: call.function.name, arguments: parseArguments(call.function.arguments) }]
            : [],
        );
        return {
          text: choice.message?.content ?? "",
          toolCalls,
          stopReason: stopReason(choice.finish_reason, toolCalls.length > 0),
          usage: {
            inputTokens: completion.usage?.prompt_tokens ?? 0,
            outputTokens: completion.usage?.completion_tokens ?? 0,
          },
        };
      }

      let text = "";
      let finish: string | null | undefined;
      const usage = { inputTokens: 0, outputTokens: 0 };
      // Streamed tool calls arrive in pieces keyed by index: the id and name first, then argument deltas.
      const calls = new Map<number, { id: string; name: string; arguments: string }>();
      try {
        const stream = await openai.chat.completions.create(
          { ...params, stream: true, stream_options: { include_usage: true } },
          requestOptions,
        );
        for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
          if (chunk.usage) {
            usage.inputTokens = chunk.usage.prompt_tokens ?? usage.inputTokens;
            usage.outputTokens = chunk.usage.completion_tokens ?? usage.outputTokens;
          }
          const choice = chunk.choices?.[0];
          if (choice === undefined) continue;
          const piece = choice.delta?.content;
          if (piece) {
            text += piece;
            request.onToken(piece);
          }
          for (const delta of choice.delta?.tool_calls ?? []) {
            const call = calls.get(delta.index) ?? { id: "", name: "", arguments: "" };
            if (delta.id) call.id = delta.id;
            if (delta.function?.name) call.name += delta.function.name;
            if (delta.function?.arguments) call.arguments += delta.function.arguments;
            calls.set(delta.index, call);
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      } catch (error) {
        throw fail(error, failure, request.signal);
      }
      const toolCalls = [...calls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([index, call]) => ({
          id: call.id || `call_${index}`,
          name: call.name,
          arguments: parseArguments(call.arguments),
        }));
      return { text, toolCalls, stopReason: stopReason(finish, toolCalls.length > 0), usage };
    },
  };
}
