import { joinUrl, postJson, readJson } from "./http.ts";
import { parseSse } from "./sse.ts";
import {
  type ChatMessage,
  type ConverseRequest,
  type ConverseResult,
  type ModelProvider,
  ProviderError,
  parseArguments,
  redact,
  type StopReason,
  type ToolCallRequest,
} from "./types.ts";

/**
 * Any OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM, LM Studio…), over `fetch`-style
 * HTTP through the egress guard. Streaming uses `stream: true` server-sent events, with usage requested
 * in the last chunk (`stream_options.include_usage`).
 */

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

interface WireToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

type WireMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: WireToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

interface Completion {
  choices?: {
    message?: { content?: string | null; tool_calls?: WireToolCall[] };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

interface Chunk {
  choices?: {
    delta?: {
      content?: string | null;
      tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[];
    };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string };
}

function toWire(system: string | undefined, messages: ChatMessage[]): WireMessage[] {
  const out: WireMessage[] = system ? [{ role: "system", content: system }] : [];
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
  const url = joinUrl(options.baseUrl ?? OPENAI_DEFAULT_BASE_URL, "chat/completions");
  const secrets = [options.apiKey];
  const headers: Record<string, string> =
    options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` };

  return {
    name: "openai",
    model: options.model,
    async converse(request: ConverseRequest): Promise<ConverseResult> {
      const stream = request.onToken !== undefined;
      const body = {
        model: options.model,
        messages: toWire(request.system, request.messages),
        ...(request.tools && request.tools.length > 0
          ? {
              tools: request.tools.map((tool) => ({
                type: "function",
                function: { name: tool.name, description: tool.description, parameters: tool.parameters },
              })),
            }
          : {}),
        // `max_tokens` rather than `max_completion_tokens`: it is what compatible servers understand.
        ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      };
      const response = await postJson({
        provider: "openai",
        url,
        headers,
        body,
        secrets,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });

      if (!stream) {
        const completion = await readJson<Completion>(response, "openai");
        const choice = completion.choices?.[0];
        if (choice === undefined)
          throw new ProviderError("openai: the response has no choices", response.status, true);
        const toolCalls: ToolCallRequest[] = (choice.message?.tool_calls ?? []).map((call) => ({
          id: call.id,
          name: call.function.name,
          arguments: parseArguments(call.function.arguments),
        }));
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
        for await (const event of parseSse(response.stream)) {
          if (event.data === "[DONE]") break;
          let chunk: Chunk;
          try {
            chunk = JSON.parse(event.data) as Chunk;
          } catch {
            continue;
          }
          if (chunk.error) {
            throw new ProviderError(
              `openai stream error: ${redact(chunk.error.message ?? "unknown", secrets)}`,
              undefined,
              true,
            );
          }
          if (chunk.usage) {
            usage.inputTokens = chunk.usage.prompt_tokens ?? usage.inputTokens;
            usage.outputTokens = chunk.usage.completion_tokens ?? usage.outputTokens;
          }
          const choice = chunk.choices?.[0];
          if (choice === undefined) continue;
          const piece = choice.delta?.content;
          if (piece) {
            text += piece;
            request.onToken?.(piece);
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
        if (error instanceof ProviderError || request.signal?.aborted) throw error;
        throw new ProviderError(
          `openai: the stream broke off: ${redact((error as Error).message, secrets)}`,
          undefined,
          true,
        );
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
