import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ContentBlock,
  ConverseCommand,
  ConverseStreamCommand,
  type Message,
  type Tool,
} from "@aws-sdk/client-bedrock-runtime";
import { checkDestination, EgressError, pinnedLookup } from "../tools/egress.ts";
import {
  type ChatMessage,
  type ConverseRequest,
  type ConverseResult,
  isRetryableStatus,
  type ModelProvider,
  ProviderError,
  parseArguments,
  redact,
  type StopReason,
  type ToolCallRequest,
} from "./types.ts";

/**
 * Amazon Bedrock's Converse and ConverseStream through the AWS SDK, which speaks the REST-JSON and
 * event-stream wire formats. The endpoint comes from the SDK's standard configuration
 * (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`), or from the agent's `baseUrl`, which then passes the egress guard
 * and is pinned like any other tenant-chosen URL.
 *
 * Credentials: a stored secret holding JSON `{accessKeyId, secretAccessKey, sessionToken?, region?}` signs
 * with SigV4; any other secret is a Bedrock API key sent as a bearer token; no secret uses the worker's role.
 */

interface AwsCredentialsSecret {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region?: string;
}

function parseCredentials(secret: string): AwsCredentialsSecret | undefined {
  try {
    const value = JSON.parse(secret) as Partial<AwsCredentialsSecret>;
    if (typeof value.accessKeyId === "string" && typeof value.secretAccessKey === "string") {
      return value as AwsCredentialsSecret;
    }
  } catch {
    // not JSON: an API key
  }
  return undefined;
}

function textBlock(text: string): ContentBlock[] {
  return text === "" ? [] : [{ text }];
}

/** Tool results go back as user turns; turns of one role are merged, since Converse wants them to alternate. */
function toWire(messages: ChatMessage[]): Message[] {
  const out: Message[] = [];
  const push = (role: "user" | "assistant", blocks: ContentBlock[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last?.role === role) last.content = [...(last.content ?? []), ...blocks];
    else out.push({ role, content: blocks });
  };
  for (const message of messages) {
    if (message.role === "user") push("user", textBlock(message.content));
    else if (message.role === "tool") {
      push("user", [
        {
          toolResult: {
            toolUseId: message.toolCallId,
            content: [{ text: message.content }],
            status: message.isError ? "error" : "success",
          },
        },
      ]);
    } else {
      push("assistant", [
        ...textBlock(message.content),
        ...(message.toolCalls ?? []).map(
          (call): ContentBlock => ({
            toolUse: { toolUseId: call.id, name: call.name, input: call.arguments as never },
          }),
        ),
      ]);
    }
  }
  return out;
}

function stopReason(reason: string | undefined, hasCalls: boolean): StopReason {
  if (hasCalls || reason === "tool_use") return "tool_use";
  if (reason === "max_tokens") return "max_tokens";
  if (reason === "stop_sequence") return "stop_sequence";
  if (reason === "content_filtered" || reason === "guardrail_intervened") return "content_filter";
  return "end_turn";
}

const RETRYABLE_NAMES = new Set([
  "ThrottlingException",
  "ServiceUnavailableException",
  "InternalServerException",
  "ModelNotReadyException",
  "ModelTimeoutException",
  "ModelStreamErrorException",
]);

function toProviderError(error: unknown, secrets: readonly (string | undefined)[]): ProviderError {
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
  const e = error as Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = e.$metadata?.httpStatusCode;
  const retryable =
    RETRYABLE_NAMES.has(e.name) ||
    e.$retryable !== undefined ||
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

export async function createBedrockProvider(options: {
  model: string;
  secret?: string;
  baseUrl?: string;
}): Promise<ModelProvider> {
  const secrets = [options.secret];
  const config: BedrockRuntimeClientConfig = { maxAttempts: 1 };
  if (options.secret !== undefined) {
    const credentials = parseCredentials(options.secret);
    if (credentials) {
      config.credentials = {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
      };
      if (credentials.region) config.region = credentials.region;
    } else {
      config.token = { token: options.secret };
      config.authSchemePreference = ["httpBearerAuth"];
    }
  }
  if (options.baseUrl !== undefined) {
    try {
      const destination = await checkDestination(new URL(options.baseUrl));
      const lookup = pinnedLookup(destination);
      config.endpoint = options.baseUrl;
      // The Bedrock runtime client speaks HTTP/2; its sessions connect through the pinned lookup.
      config.requestHandler = {
        nodeHttp2ConnectOptions: { lookup },
      } as BedrockRuntimeClientConfig["requestHandler"];
    } catch (error) {
      throw toProviderError(error, secrets);
    }
  }
  const client = new BedrockRuntimeClient(config);

  return {
    name: "bedrock",
    model: options.model,
    async converse(request: ConverseRequest): Promise<ConverseResult> {
      const input = {
        modelId: options.model,
        messages: toWire(request.messages),
        ...(request.system ? { system: [{ text: request.system }] } : {}),
        ...(request.tools && request.tools.length > 0
          ? {
              toolConfig: {
                tools: request.tools.map(
                  (tool): Tool => ({
                    toolSpec: {
                      name: tool.name,
                      description: tool.description,
                      inputSchema: { json: tool.parameters as never },
                    },
                  }),
                ),
              },
            }
          : {}),
        inferenceConfig: {
          ...(request.maxTokens === undefined ? {} : { maxTokens: request.maxTokens }),
          ...(request.temperature === undefined ? {} : { temperature: Math.min(1, request.temperature) }),
        },
      };
      const sendOptions = request.signal === undefined ? {} : { abortSignal: request.signal };
      try {
        if (request.onToken === undefined) {
          const output = await client.send(new ConverseCommand(input), sendOptions);
          let text = "";
          const toolCalls: ToolCallRequest[] = [];
          for (const block of output.output?.message?.content ?? []) {
            if (block.text !== undefined) text += block.text;
            if (block.toolUse) {
              toolCalls.push({
                id: block.toolUse.toolUseId ?? `tool_${toolCalls.length}`,
                name: block.toolUse.name ?? "",
                arguments: (block.toolUse.input ?? {}) as Record<string, unknown>,
              });
            }
          }
          return {
            text,
            toolCalls,
            stopReason: stopReason(output.stopReason, toolCalls.length > 0),
            usage: {
              inputTokens: output.usage?.inputTokens ?? 0,
              outputTokens: output.usage?.outputTokens ?? 0,
            },
          };
        }

        const output = await client.send(new ConverseStreamCommand(input), sendOptions);
        let text = "";
        let reason: string | undefined;
        const usage = { inputTokens: 0, outputTokens: 0 };
        const tools = new Map<number, { id: string; name: string; json: string }>();
        for await (const event of output.stream ?? []) {
          if (event.contentBlockStart?.start?.toolUse) {
            const { toolUseId, name } = event.contentBlockStart.start.toolUse;
            tools.set(event.contentBlockStart.contentBlockIndex ?? tools.size, {
              id: toolUseId ?? "",
              name: name ?? "",
              json: "",
            });
          } else if (event.contentBlockDelta) {
            const { delta, contentBlockIndex } = event.contentBlockDelta;
            if (delta?.text) {
              text += delta.text;
              request.onToken(delta.text);
            } else if (delta?.toolUse) {
              const tool = tools.get(contentBlockIndex ?? -1);
              if (tool) tool.json += delta.toolUse.input ?? "";
            }
          } else if (event.messageStop) {
            reason = event.messageStop.stopReason;
          } else if (event.metadata?.usage) {
            usage.inputTokens = event.metadata.usage.inputTokens ?? 0;
            usage.outputTokens = event.metadata.usage.outputTokens ?? 0;
          } else {
            const failure =
              event.throttlingException ??
              event.serviceUnavailableException ??
              event.internalServerException ??
              event.modelStreamErrorException ??
              event.validationException;
            if (failure) throw failure;
          }
        }
        const toolCalls = [...tools.entries()]
          .sort(([a], [b]) => a - b)
          .map(([index, tool]) => ({
            id: tool.id || `tool_${index}`,
            name: tool.name,
            arguments: parseArguments(tool.json),
          }));
        return { text, toolCalls, stopReason: stopReason(reason, toolCalls.length > 0), usage };
      } catch (error) {
        if (request.signal?.aborted) throw error;
        throw toProviderError(error, secrets);
      }
    },
  };
}
