import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttp2Server, type Http2Session } from "node:http2";
import type { AddressInfo, Server } from "node:net";
import { EventStreamCodec } from "@smithy/core/event-streams";

/**
 * Local stand-ins for model providers, each speaking its real wire protocol on 127.0.0.1 (port 0):
 * OpenAI chat completions (JSON and SSE), Anthropic messages (JSON and SSE), and Bedrock Converse (JSON)
 * and ConverseStream (AWS event-stream binary frames). Bedrock's fake speaks HTTP/2 (cleartext), as the
 * SDK's Bedrock runtime client only talks HTTP/2. Tests queue replies; every request is recorded.
 */

export type ProviderKind = "openai" | "anthropic" | "bedrock";

export interface FakeToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface FakeReply {
  text?: string;
  toolCalls?: FakeToolCall[];
  usage?: { input: number; output: number };
  /** Answer with this HTTP error status instead (429, 500…). */
  status?: number;
  errorMessage?: string;
  /** With an error status: these response headers instead of `retry-after: 0` (rate-limit headers, say). */
  headers?: Record<string, string>;
  /** Answer 307 with this Location instead (a misconfigured or hostile endpoint). */
  redirect?: string;
  /** Pause between streamed tokens. */
  tokenDelayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: any;
  raw: string;
  stream: boolean;
}

const codec = new EventStreamCodec(
  (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8"),
  (text: string) => Buffer.from(text, "utf8"),
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** OpenAI's fake embeds in this many dimensions unless the request asks for another size. */
export const FAKE_EMBEDDING_DIMENSION = 26;

/**
 * The fakes' embedding: letter frequencies (a–z, repeated to fill the size), normalised. Deterministic, so a
 * test can compute what the model "would" return.
 */
export function fakeEmbedding(text: string, dimension: number): number[] {
  const counts = new Array(26).fill(0) as number[];
  for (const char of text.toLowerCase()) {
    const code = char.charCodeAt(0) - 97;
    if (code >= 0 && code < 26) counts[code] = (counts[code] as number) + 1;
  }
  const vector = Array.from({ length: dimension }, (_, i) => (counts[i % 26] as number) + 0.01);
  const length = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  return vector.map((v) => v / length);
}

/** The reply's text as the tokens a model would stream: words with their following spaces. */
export function tokensOf(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text === "" ? [] : [text]);
}

export class FakeProvider {
  readonly requests: RecordedRequest[] = [];
  /** performance.now() when the first text token of each streamed reply was written to the socket. */
  readonly firstTokenAt: number[] = [];
  private readonly queue: (FakeReply | ((request: RecordedRequest) => FakeReply))[] = [];
  defaultReply: FakeReply = { text: "Hello from the fake model." };

  private readonly sessions = new Set<Http2Session>();

  private constructor(
    readonly kind: ProviderKind,
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(kind: ProviderKind): Promise<FakeProvider> {
    let fake: FakeProvider | undefined;
    // The HTTP/2 compatibility API has the same request and response methods this fake uses.
    const onRequest = (request: IncomingMessage, response: ServerResponse) => {
      void fake?.handle(request, response).catch((error) => {
        response.destroy(error as Error);
      });
    };
    const server: Server =
      kind === "bedrock" ? createHttp2Server(onRequest as never) : createServer(onRequest);
    if (kind === "bedrock") {
      server.on("session", (session: Http2Session) => {
        fake?.sessions.add(session);
        session.on("close", () => fake?.sessions.delete(session));
      });
    }
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    fake = new FakeProvider(kind, server, (server.address() as AddressInfo).port);
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `127.0.0.1:<port>`, as SWITCHBOARD_ALLOW_HOSTS lists it. */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replies for the next requests, in order; after them, `defaultReply`. */
  enqueue(...replies: (FakeReply | ((request: RecordedRequest) => FakeReply))[]): void {
    this.queue.push(...replies);
  }

  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.firstTokenAt.length = 0;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const session of this.sessions) session.destroy();
      (this.server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let body: any;
    try {
      body = raw === "" ? {} : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const path = request.url ?? "/";
    const stream = this.kind === "bedrock" ? path.endsWith("/converse-stream") : body?.stream === true;
    const recorded: RecordedRequest = {
      method: request.method ?? "GET",
      path,
      headers: request.headers,
      body,
      raw,
      stream,
    };
    this.requests.push(recorded);
    const next = this.queue.shift() ?? this.defaultReply;
    const reply = typeof next === "function" ? next(recorded) : next;
    if (reply.redirect !== undefined) {
      response.writeHead(307, { location: reply.redirect });
      response.end();
      return;
    }
    if (reply.status !== undefined) return this.error(response, reply);
    if (this.kind === "openai" && path.endsWith("/embeddings")) return this.openAiEmbeddings(response, body);
    if (this.kind === "bedrock" && path.endsWith("/invoke")) return this.titanEmbedding(response, body);
    switch (this.kind) {
      case "openai":
        return stream ? this.openAiStream(response, body, reply) : this.openAiPlain(response, body, reply);
      case "anthropic":
        return stream
          ? this.anthropicStream(response, body, reply)
          : this.anthropicPlain(response, body, reply);
      case "bedrock":
        return stream ? this.bedrockStream(response, reply) : this.bedrockPlain(response, reply);
    }
  }

  private error(response: ServerResponse, reply: FakeReply): void {
    const status = reply.status ?? 500;
    const message = reply.errorMessage ?? (status === 429 ? "Rate limit reached" : "Internal server error");
    if (this.kind === "bedrock") {
      const type =
        status === 429
          ? "ThrottlingException"
          : status >= 500
            ? "InternalServerException"
            : "ValidationException";
      response.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
      response.end(JSON.stringify({ message }));
      return;
    }
    const body =
      this.kind === "anthropic"
        ? { type: "error", error: { type: status === 429 ? "rate_limit_error" : "api_error", message } }
        : { error: { message, type: status === 429 ? "rate_limit_exceeded" : "server_error", code: null } };
    response.writeHead(status, {
      "content-type": "application/json",
      ...(reply.headers ?? (status === 429 ? { "retry-after": "0" } : {})),
    });
    response.end(JSON.stringify(body));
  }

  private usage(reply: FakeReply) {
    return (
      reply.usage ?? {
        input: 11,
        output: tokensOf(reply.text ?? "").length + (reply.toolCalls?.length ?? 0) * 5,
      }
    );
  }

  private callId(call: FakeToolCall, index: number): string {
    return call.id ?? `call_${this.requests.length}_${index}`;
  }

  private markFirstToken(seen: { first: boolean }): void {
    if (seen.first) return;
    seen.first = true;
    this.firstTokenAt.push(performance.now());
  }

  // --- OpenAI -------------------------------------------------------------------------------------------

  private openAiEmbeddings(response: ServerResponse, body: any): void {
    const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input];
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        object: "list",
        model: body.model,
        data: inputs.map((text, index) => ({
          object: "embedding",
          index,
          embedding: fakeEmbedding(text, body.dimensions ?? FAKE_EMBEDDING_DIMENSION),
        })),
        usage: {
          prompt_tokens: inputs.reduce((sum, text) => sum + tokensOf(text).length, 0),
          total_tokens: inputs.reduce((sum, text) => sum + tokensOf(text).length, 0),
        },
      }),
    );
  }

  /** Titan Text Embeddings v2's InvokeModel answer. */
  private titanEmbedding(response: ServerResponse, body: any): void {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        embedding: fakeEmbedding(String(body.inputText), body.dimensions ?? 1024),
        inputTextTokenCount: tokensOf(String(body.inputText)).length,
      }),
    );
  }

  private openAiPlain(response: ServerResponse, body: any, reply: FakeReply): void {
    const usage = this.usage(reply);
    const calls = reply.toolCalls ?? [];
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: reply.text ?? null,
              ...(calls.length === 0
                ? {}
                : {
                    tool_calls: calls.map((call, i) => ({
                      id: this.callId(call, i),
                      type: "function",
                      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
                    })),
                  }),
            },
            finish_reason: calls.length > 0 ? "tool_calls" : "stop",
          },
        ],
        usage: {
          prompt_tokens: usage.input,
          completion_tokens: usage.output,
          total_tokens: usage.input + usage.output,
        },
      }),
    );
  }

  private async openAiStream(response: ServerResponse, body: any, reply: FakeReply): Promise<void> {
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    const base = {
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: body.model,
    };
    const send = (chunk: unknown) => response.write(`data: ${JSON.stringify(chunk)}\n\n`);
    send({
      ...base,
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
    });
    const seen = { first: false };
    for (const token of tokensOf(reply.text ?? "")) {
      send({ ...base, choices: [{ index: 0, delta: { content: token }, finish_reason: null }] });
      this.markFirstToken(seen);
      if (reply.tokenDelayMs) await sleep(reply.tokenDelayMs);
    }
    const calls = reply.toolCalls ?? [];
    for (const [index, call] of calls.entries()) {
      send({
        ...base,
        choices: [
          {
            index: 0,
            delta: {
              tool_calls: [
                {
                  index,
                  id: this.callId(call, index),
                  type: "function",
                  function: { name: call.name, arguments: "" },
                },
              ],
            },
            finish_reason: null,
          },
        ],
      });
      // Arguments arrive in pieces, as real models stream them.
      const json = JSON.stringify(call.arguments);
      const cut = Math.ceil(json.length / 2);
      for (const piece of [json.slice(0, cut), json.slice(cut)]) {
        send({
          ...base,
          choices: [
            {
              index: 0,
              delta: { tool_calls: [{ index, function: { arguments: piece } }] },
              finish_reason: null,
            },
          ],
        });
      }
    }
    send({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: calls.length > 0 ? "tool_calls" : "stop" }],
    });
    const usage = this.usage(reply);
    if (body.stream_options?.include_usage) {
      send({
        ...base,
        choices: [],
        usage: {
          prompt_tokens: usage.input,
          completion_tokens: usage.output,
          total_tokens: usage.input + usage.output,
        },
      });
    }
    response.end("data: [DONE]\n\n");
  }

  // --- Anthropic ----------------------------------------------------------------------------------------

  private anthropicPlain(response: ServerResponse, body: any, reply: FakeReply): void {
    const usage = this.usage(reply);
    const calls = reply.toolCalls ?? [];
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        id: "msg_fake",
        type: "message",
        role: "assistant",
        model: body.model,
        content: [
          ...(reply.text ? [{ type: "text", text: reply.text }] : []),
          ...calls.map((call, i) => ({
            type: "tool_use",
            id: this.callId(call, i),
            name: call.name,
            input: call.arguments,
          })),
        ],
        stop_reason: calls.length > 0 ? "tool_use" : "end_turn",
        stop_sequence: null,
        usage: { input_tokens: usage.input, output_tokens: usage.output },
      }),
    );
  }

  private async anthropicStream(response: ServerResponse, body: any, reply: FakeReply): Promise<void> {
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (type: string, data: Record<string, unknown>) =>
      response.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    const usage = this.usage(reply);
    send("message_start", {
      message: {
        id: "msg_fake",
        type: "message",
        role: "assistant",
        content: [],
        model: body.model,
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: usage.input, output_tokens: 1 },
      },
    });
    let index = 0;
    const seen = { first: false };
    if (reply.text) {
      send("content_block_start", { index, content_block: { type: "text", text: "" } });
      send("ping", {});
      for (const token of tokensOf(reply.text)) {
        send("content_block_delta", { index, delta: { type: "text_delta", text: token } });
        this.markFirstToken(seen);
        if (reply.tokenDelayMs) await sleep(reply.tokenDelayMs);
      }
      send("content_block_stop", { index });
      index++;
    }
    const calls = reply.toolCalls ?? [];
    for (const [i, call] of calls.entries()) {
      send("content_block_start", {
        index,
        content_block: { type: "tool_use", id: this.callId(call, i), name: call.name, input: {} },
      });
      const json = JSON.stringify(call.arguments);
      const cut = Math.ceil(json.length / 2);
      for (const piece of ["", json.slice(0, cut), json.slice(cut)]) {
        send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
      }
      send("content_block_stop", { index });
      index++;
    }
    send("message_delta", {
      delta: { stop_reason: calls.length > 0 ? "tool_use" : "end_turn", stop_sequence: null },
      usage: { output_tokens: usage.output },
    });
    send("message_stop", {});
    response.end();
  }

  // --- Bedrock ------------------------------------------------------------------------------------------

  private bedrockPlain(response: ServerResponse, reply: FakeReply): void {
    const usage = this.usage(reply);
    const calls = reply.toolCalls ?? [];
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        output: {
          message: {
            role: "assistant",
            content: [
              ...(reply.text ? [{ text: reply.text }] : []),
              ...calls.map((call, i) => ({
                toolUse: { toolUseId: this.callId(call, i), name: call.name, input: call.arguments },
              })),
            ],
          },
        },
        stopReason: calls.length > 0 ? "tool_use" : "end_turn",
        usage: {
          inputTokens: usage.input,
          outputTokens: usage.output,
          totalTokens: usage.input + usage.output,
        },
        metrics: { latencyMs: 5 },
      }),
    );
  }

  private async bedrockStream(response: ServerResponse, reply: FakeReply): Promise<void> {
    response.writeHead(200, { "content-type": "application/vnd.amazon.eventstream" });
    const send = (eventType: string, payload: unknown) =>
      response.write(
        codec.encode({
          headers: {
            ":event-type": { type: "string", value: eventType },
            ":content-type": { type: "string", value: "application/json" },
            ":message-type": { type: "string", value: "event" },
          },
          body: Buffer.from(JSON.stringify(payload), "utf8"),
        }),
      );
    send("messageStart", { role: "assistant" });
    let index = 0;
    const seen = { first: false };
    if (reply.text) {
      for (const token of tokensOf(reply.text)) {
        send("contentBlockDelta", { contentBlockIndex: index, delta: { text: token } });
        this.markFirstToken(seen);
        if (reply.tokenDelayMs) await sleep(reply.tokenDelayMs);
      }
      send("contentBlockStop", { contentBlockIndex: index });
      index++;
    }
    const calls = reply.toolCalls ?? [];
    for (const [i, call] of calls.entries()) {
      send("contentBlockStart", {
        contentBlockIndex: index,
        start: { toolUse: { toolUseId: this.callId(call, i), name: call.name } },
      });
      const json = JSON.stringify(call.arguments);
      const cut = Math.ceil(json.length / 2);
      for (const piece of [json.slice(0, cut), json.slice(cut)]) {
        send("contentBlockDelta", { contentBlockIndex: index, delta: { toolUse: { input: piece } } });
      }
      send("contentBlockStop", { contentBlockIndex: index });
      index++;
    }
    send("messageStop", { stopReason: calls.length > 0 ? "tool_use" : "end_turn" });
    const usage = this.usage(reply);
    send("metadata", {
      usage: {
        inputTokens: usage.input,
        outputTokens: usage.output,
        totalTokens: usage.input + usage.output,
      },
      metrics: { latencyMs: 5 },
    });
    response.end();
  }
}
