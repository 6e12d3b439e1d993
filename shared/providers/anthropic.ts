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
 * Anthropic's Messages API over HTTP through the egress guard. Streaming reads the SSE events
 * message_start, content_block_start / content_block_delta (text_delta, input_json_delta) /
 * content_block_stop, message_delta (stop reason, output tokens) and message_stop.
 */

export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";
export const ANTHROPIC_VERSION = "2023-06-01";
/** The API requires max_tokens; this is the default when the agent sets none. */
const DEFAULT_MAX_TOKENS = 4096;

type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean };

interface WireMessage {
  role: "user" | "assistant";
  content: Block[];
}

interface MessageResponse {
  content?: Block[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

interface StreamEvent {
  type: string;
  index?: number;
  message?: { usage?: { input_tokens?: number; output_tokens?: number } };
  content_block?: Block;
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: { input_tokens?: number; output_tokens?: number };
  error?: { type?: string; message?: string };
}

/** Tool results travel as user turns; consecutive turns of one role are merged, as the API wants them to alternate. */
function toWire(messages: ChatMessage[]): WireMessage[] {
  const out: WireMessage[] = [];
  const push = (role: WireMessage["role"], blocks: Block[]) => {
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const message of messages) {
    if (message.role === "user") push("user", [{ type: "text", text: message.content }]);
    else if (message.role === "tool") {
      push("user", [
        {
          type: "tool_result",
          tool_use_id: message.toolCallId,
          content: message.content,
          ...(message.isError ? { is_error: true } : {}),
        },
      ]);
    } else {
      const blocks: Block[] = message.content === "" ? [] : [{ type: "text", text: message.content }];
      for (const call of message.toolCalls ?? []) {
        blocks.push({ type: "tool_use", id: call.id, name: call.name, input: call.arguments });
      }
      push("assistant", blocks);
    }
  }
  return out;
}

function stopReason(reason: string | null | undefined, hasCalls: boolean): StopReason {
  if (hasCalls || reason === "tool_use") return "tool_use";
  if (reason === "max_tokens") return "max_tokens";
  if (reason === "stop_sequence") return "stop_sequence";
  if (reason === "refusal") return "content_filter";
  return "end_turn";
}

export function createAnthropicProvider(options: {
  model: string;
  apiKey?: string;
  baseUrl?: string;
}): ModelProvider {
  const url = joinUrl(options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL, "v1/messages");
  const secrets = [options.apiKey];
  const headers: Record<string, string> = {
    "anthropic-version": ANTHROPIC_VERSION,
    ...(options.apiKey === undefined ? {} : { "x-api-key": options.apiKey }),
  };

  return {
    name: "anthropic",
    model: options.model,
    async converse(request: ConverseRequest): Promise<ConverseResult> {
      const stream = request.onToken !== undefined;
      const body = {
        model: options.model,
        max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
        ...(request.system ? { system: request.system } : {}),
        messages: toWire(request.messages),
        ...(request.tools && request.tools.length > 0
          ? {
              tools: request.tools.map((tool) => ({
                name: tool.name,
                description: tool.description,
                input_schema: tool.parameters,
              })),
            }
          : {}),
        ...(request.temperature === undefined ? {} : { temperature: Math.min(1, request.temperature) }),
        ...(stream ? { stream: true } : {}),
      };
      const response = await postJson({
        provider: "anthropic",
        url,
        headers,
        body,
        secrets,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });

      if (!stream) {
        const message = await readJson<MessageResponse>(response, "anthropic");
        let text = "";
        const toolCalls: ToolCallRequest[] = [];
        for (const block of message.content ?? []) {
          if (block.type === "text") text += block.text;
          else if (block.type === "tool_use") {
            toolCalls.push({
              id: block.id,
              name: block.name,
              arguments: (block.input ?? {}) as Record<string, unknown>,
            });
          }
        }
        return {
          text,
          toolCalls,
          stopReason: stopReason(message.stop_reason, toolCalls.length > 0),
          usage: {
            inputTokens: message.usage?.input_tokens ?? 0,
            outputTokens: message.usage?.output_tokens ?? 0,
          },
        };
      }

      let text = "";
      let reason: string | null | undefined;
      const usage = { inputTokens: 0, outputTokens: 0 };
      const blocks = new Map<number, { id: string; name: string; json: string }>();
      try {
        for await (const sse of parseSse(response.stream)) {
          let event: StreamEvent;
          try {
            event = JSON.parse(sse.data) as StreamEvent;
          } catch {
            continue;
          }
          switch (event.type) {
            case "message_start":
              usage.inputTokens = event.message?.usage?.input_tokens ?? 0;
              usage.outputTokens = event.message?.usage?.output_tokens ?? 0;
              break;
            case "content_block_start":
              if (event.content_block?.type === "tool_use" && event.index !== undefined) {
                blocks.set(event.index, {
                  id: event.content_block.id,
                  name: event.content_block.name,
                  json: "",
                });
              } else if (event.content_block?.type === "text" && event.content_block.text) {
                text += event.content_block.text;
                request.onToken?.(event.content_block.text);
              }
              break;
            case "content_block_delta":
              if (event.delta?.type === "text_delta" && event.delta.text) {
                text += event.delta.text;
                request.onToken?.(event.delta.text);
              } else if (event.delta?.type === "input_json_delta" && event.index !== undefined) {
                const block = blocks.get(event.index);
                if (block) block.json += event.delta.partial_json ?? "";
              }
              break;
            case "message_delta":
              if (event.delta?.stop_reason) reason = event.delta.stop_reason;
              // message_delta's usage is cumulative.
              if (event.usage?.output_tokens !== undefined) usage.outputTokens = event.usage.output_tokens;
              if (event.usage?.input_tokens !== undefined) usage.inputTokens = event.usage.input_tokens;
              break;
            case "error": {
              const type = event.error?.type ?? "error";
              const retryable =
                type === "overloaded_error" || type === "api_error" || type === "rate_limit_error";
              throw new ProviderError(
                `anthropic stream error: ${type}: ${redact(event.error?.message ?? "unknown", secrets)}`,
                undefined,
                retryable,
              );
            }
            default:
              break;
          }
          if (event.type === "message_stop") break;
        }
      } catch (error) {
        if (error instanceof ProviderError || request.signal?.aborted) throw error;
        throw new ProviderError(
          `anthropic: the stream broke off: ${redact((error as Error).message, secrets)}`,
          undefined,
          true,
        );
      }
      const toolCalls = [...blocks.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, block]) => ({ id: block.id, name: block.name, arguments: parseArguments(block.json) }));
      return { text, toolCalls, stopReason: stopReason(reason, toolCalls.length > 0), usage };
    },
  };
}
