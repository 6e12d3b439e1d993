/**
 * One interface over every model provider. Each provider translates this neutral conversation into its
 * own wire format (OpenAI chat completions, Anthropic messages, Bedrock Converse, or the scripted rules)
 * and back, streaming text through `onToken` when it is given.
 */

export interface ToolCallRequest {
  /** The provider's id for the call, echoed back with its result. */
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export type ChatMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCallRequest[] }
  | { role: "tool"; toolCallId: string; name: string; content: string; isError?: boolean };

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON schema of the arguments. */
  parameters: Record<string, unknown>;
}

export interface ConverseRequest {
  system?: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  maxTokens?: number;
  temperature?: number;
  /** Given: the provider streams, and calls this with each piece of text as it arrives. */
  onToken?: (text: string) => void;
  signal?: AbortSignal;
}

export type StopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "content_filter"
  | "other";

export interface ConverseResult {
  text: string;
  toolCalls: ToolCallRequest[];
  stopReason: StopReason;
  usage: { inputTokens: number; outputTokens: number };
  /** Only the scripted provider knows its own confidence. */
  confidence?: number;
}

export interface ModelProvider {
  readonly name: string;
  readonly model: string;
  converse(request: ConverseRequest): Promise<ConverseResult>;
}

/**
 * A provider call that failed. `retryable` marks throttling, server errors and dropped connections: the
 * step may be tried again. The message never carries the credential (see `redact`).
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    /** Seconds the provider asked us to wait (Retry-After). */
    readonly retryAfterSeconds?: number,
    /**
     * EGRESS_DENIED when the endpoint itself is refused by the egress guard; CIRCUIT_OPEN when its breaker
     * refused the call without trying.
     */
    readonly code: "PROVIDER_ERROR" | "EGRESS_DENIED" | "CIRCUIT_OPEN" = "PROVIDER_ERROR",
  ) {
    super(message);
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Replaces every occurrence of each secret in a text, so an echoing error page cannot leak a key. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join("[redacted]");
  }
  return out;
}

/** Parses tool arguments that arrived as JSON text; a model that sends broken JSON gets its text back. */
export function parseArguments(json: string): Record<string, unknown> {
  if (json.trim() === "") return {};
  try {
    const value = JSON.parse(json) as unknown;
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : { value };
  } catch {
    return { _invalidJson: json };
  }
}
