import Anthropic from "@anthropic-ai/sdk";
import type {
  MessageCreateParamsBase,
  MessageParam,
  RawMessageStreamEvent,
  Tool,
} from "@anthropic-ai/sdk/resources/messages";
import { type FetchFailure, guardedFetch, SDK_TIMEOUT_MS, toProviderError } from "./sdk-http.ts";
import {
  type ChatMessage,
  type ConverseRequest,
  type ConverseResult,
  type ModelProvider,
  parseArguments,
  type StopReason,
  type ToolCallRequest,
} from "./types.ts";

/**
 * Anthropic's Messages API through the official `@anthropic-ai/sdk`, with the egress guard as its `fetch`.
 * Streaming reads the raw events message_start, content_block_start / content_block_delta (text_delta,
 * input_json_delta) / content_block_stop, message_delta (stop reason, output tokens) and message_stop.
 * The SDK does not retry (`maxRetries: 0`): the policy is the one in providers/index.ts.
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

/**
 * The SDK, told to leave the host's own credentials alone: without this it would look for an Anthropic
 * profile on disk or workload-identity variables when an agent names no key.
 */
class GuardedAnthropic extends Anthropic {
  protected override _shouldResolveDefaultCredentials(): boolean {
    return false;
  }
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
  const secrets = [options.apiKey];

  /** One client per call, so the guarded fetch's record of an egress refusal belongs to this call alone. */
  function client(failure: FetchFailure): Anthropic {
    return new GuardedAnthropic({
      // No credential option: the key travels as `x-api-key` (below), and no ANTHROPIC_* variable of the
      // host is read for a tenant's agent.
      apiKey: null,
      authToken: null,
      baseURL: options.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL,
      fetch: guardedFetch(failure),
      maxRetries: 0,
      timeout: SDK_TIMEOUT_MS,
      logLevel: "off",
      defaultHeaders: {
        "anthropic-version": ANTHROPIC_VERSION,
        authorization: null,
        ...(options.apiKey === undefined ? {} : { "x-api-key": options.apiKey }),
      },
    });
  }

  const fail = (error: unknown, failure: FetchFailure, signal: AbortSignal | undefined) =>
    toProviderError({
      provider: "anthropic",
      error,
      failure,
      secrets,
      signal,
      streamErrorRetryable: (body) => {
        const type = (body as { error?: { type?: string } } | undefined)?.error?.type ?? "error";
        return type === "overloaded_error" || type === "api_error" || type === "rate_limit_error";
      },
      classes: Anthropic,
    });

  return {
    name: "anthropic",
    model: options.model,
    async converse(request: ConverseRequest): Promise<ConverseResult> {
      const failure: FetchFailure = {};
      const anthropic = client(failure);
      const params: MessageCreateParamsBase = {
        model: options.model,
        max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
        ...(request.system ? { system: request.system } : {}),
        messages: toWire(request.messages) as MessageParam[],
        ...(request.tools && request.tools.length > 0
          ? {
              tools: request.tools.map(
                (tool): Tool => ({
                  name: tool.name,
                  description: tool.description,
                  input_schema: tool.parameters as Tool.InputSchema,
                }),
              ),
            }
          : {}),
        ...(request.temperature === undefined ? {} : { temperature: Math.min(1, request.temperature) }),
      };
      const requestOptions = request.signal === undefined ? {} : { signal: request.signal };

      if (request.onToken === undefined) {
        const message = await anthropic.messages
          .create({ ...params, stream: false }, requestOptions)
          .catch((error: unknown) => {
            throw fail(error, failure, request.signal);
          });
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
        const stream = await anthropic.messages.create({ ...params, stream: true }, requestOptions);
        for await (const event of stream as AsyncIterable<RawMessageStreamEvent>) {
          switch (event.type) {
            case "message_start":
              usage.inputTokens = event.message?.usage?.input_tokens ?? 0;
              usage.outputTokens = event.message?.usage?.output_tokens ?? 0;
              break;
            case "content_block_start":
              if (event.content_block?.type === "tool_use") {
                blocks.set(event.index, {
                  id: event.content_block.id,
                  name: event.content_block.name,
                  json: "",
                });
              } else if (event.content_block?.type === "text" && event.content_block.text) {
                text += event.content_block.text;
                request.onToken(event.content_block.text);
              }
              break;
            case "content_block_delta":
              if (event.delta?.type === "text_delta" && event.delta.text) {
                text += event.delta.text;
                request.onToken(event.delta.text);
              } else if (event.delta?.type === "input_json_delta") {
                const block = blocks.get(event.index);
                if (block) block.json += event.delta.partial_json ?? "";
              }
              break;
            case "message_delta":
              if (event.delta?.stop_reason) reason = event.delta.stop_reason;
              // message_delta's usage is cumulative.
              if (event.usage?.output_tokens != null) usage.outputTokens = event.usage.output_tokens;
              if (event.usage?.input_tokens != null) usage.inputTokens = event.usage.input_tokens;
              break;
            default:
              break;
          }
          if (event.type === "message_stop") break;
        }
      } catch (error) {
        throw fail(error, failure, request.signal);
      }
      const toolCalls = [...blocks.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, block]) => ({ id: block.id, name: block.name, arguments: parseArguments(block.json) }));
      return { text, toolCalls, stopReason: stopReason(reason, toolCalls.length > 0), usage };
    },
  };
}
