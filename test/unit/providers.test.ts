import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAnthropicProvider } from "#shared/providers/anthropic";
import { createBedrockProvider } from "#shared/providers/bedrock";
import { createProvider, type ModelProvider, ProviderError, withRetries } from "#shared/providers/index";
import { createOpenAiProvider } from "#shared/providers/openai";
import { createScriptedProvider } from "#shared/providers/scripted";
import { FakeProvider, type ProviderKind, tokensOf } from "../support/fake-providers.ts";

const KEY = "sk-test-4f1d0c2e9b7a";
const tools = [
  {
    name: "lookup",
    description: "Look something up",
    parameters: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
  },
];

const fakes = {} as Record<ProviderKind, FakeProvider>;
const saved = { ...process.env };

beforeAll(async () => {
  for (const kind of ["openai", "anthropic", "bedrock"] as const)
    fakes[kind] = await FakeProvider.start(kind);
  process.env.SWITCHBOARD_ALLOW_HOSTS = [fakes.openai.hostPort, fakes.anthropic.hostPort].join(",");
  process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = fakes.bedrock.url;
  process.env.AWS_REGION = "us-east-1";
  process.env.AWS_ACCESS_KEY_ID = "test";
  process.env.AWS_SECRET_ACCESS_KEY = "test";
});

afterEach(() => {
  for (const fake of Object.values(fakes)) fake.reset();
});

afterAll(async () => {
  await Promise.all(Object.values(fakes).map((fake) => fake.close()));
  process.env = saved;
});

async function providerFor(kind: ProviderKind): Promise<ModelProvider> {
  switch (kind) {
    case "openai":
      return createOpenAiProvider({ model: "gpt-4o-mini", apiKey: KEY, baseUrl: `${fakes.openai.url}/v1` });
    case "anthropic":
      return createAnthropicProvider({
        model: "claude-haiku-4-5",
        apiKey: KEY,
        baseUrl: fakes.anthropic.url,
      });
    case "bedrock":
      return createBedrockProvider({ model: "anthropic.claude-3-5-haiku-20241022-v1:0", secret: KEY });
  }
}

const credentialHeader = (kind: ProviderKind, headers: Record<string, unknown>) =>
  kind === "anthropic" ? headers["x-api-key"] : headers.authorization;

describe.each(["openai", "anthropic", "bedrock"] as const)(
  "%s provider against its wire protocol",
  (kind) => {
    it("returns a plain reply with usage, sending the key in the provider's header", async () => {
      const fake = fakes[kind];
      fake.enqueue({ text: "The answer is 42.", usage: { input: 20, output: 6 } });
      const provider = await providerFor(kind);

      const result = await provider.converse({
        system: "Be brief.",
        messages: [{ role: "user", content: "What is it?" }],
      });

      expect(result).toMatchObject({ text: "The answer is 42.", toolCalls: [], stopReason: "end_turn" });
      expect(result.usage).toEqual({ inputTokens: 20, outputTokens: 6 });
      const request = fake.requests[0];
      expect(request?.stream).toBe(false);
      expect(credentialHeader(kind, request?.headers ?? {})).toBe(
        kind === "anthropic" ? KEY : `Bearer ${KEY}`,
      );
      if (kind === "anthropic") expect(request?.headers["anthropic-version"]).toBe("2023-06-01");
      expect(request?.raw).toContain("Be brief.");
    });

    it("streams a reply token by token through onToken", async () => {
      const fake = fakes[kind];
      const text = "Streaming works one word at a time.";
      fake.enqueue({ text, usage: { input: 9, output: 8 } });
      const provider = await providerFor(kind);
      const tokens: string[] = [];

      const result = await provider.converse({
        messages: [{ role: "user", content: "Go" }],
        onToken: (t) => tokens.push(t),
      });

      expect(fake.requests[0]?.stream).toBe(true);
      expect(tokens).toEqual(tokensOf(text));
      expect(result.text).toBe(text);
      expect(result.usage).toEqual({ inputTokens: 9, outputTokens: 8 });
    });

    it.each([false, true])("asks for a tool and reads its result back (streaming: %s)", async (streaming) => {
      const fake = fakes[kind];
      fake.enqueue({
        toolCalls: [{ id: "call_1", name: "lookup", arguments: { id: "a-7", nested: { n: 1 } } }],
      });
      fake.enqueue({ text: "Found it." });
      const provider = await providerFor(kind);
      const onToken = streaming ? () => undefined : undefined;

      const first = await provider.converse({
        messages: [{ role: "user", content: "Find a-7" }],
        tools,
        ...(onToken ? { onToken } : {}),
      });
      expect(first.stopReason).toBe("tool_use");
      expect(first.toolCalls).toEqual([
        { id: "call_1", name: "lookup", arguments: { id: "a-7", nested: { n: 1 } } },
      ]);

      const second = await provider.converse({
        messages: [
          { role: "user", content: "Find a-7" },
          { role: "assistant", content: first.text, toolCalls: first.toolCalls },
          { role: "tool", toolCallId: "call_1", name: "lookup", content: '{"title":"Widget"}' },
        ],
        tools,
        ...(onToken ? { onToken } : {}),
      });
      expect(second.text).toBe("Found it.");

      // The tool's definition went out in the provider's shape, and its result came back with the call's id.
      const [sent, resent] = fake.requests.map((r) => r.body);
      if (kind === "openai") {
        expect(sent.tools[0]).toEqual({
          type: "function",
          function: { name: "lookup", description: "Look something up", parameters: tools[0]?.parameters },
        });
        expect(resent.messages.at(-1)).toEqual({
          role: "tool",
          tool_call_id: "call_1",
          content: '{"title":"Widget"}',
        });
        expect(resent.messages.at(-2).tool_calls[0].function).toEqual({
          name: "lookup",
          arguments: '{"id":"a-7","nested":{"n":1}}',
        });
      } else if (kind === "anthropic") {
        expect(sent.tools[0]).toEqual({
          name: "lookup",
          description: "Look something up",
          input_schema: tools[0]?.parameters,
        });
        expect(resent.messages.at(-1)).toEqual({
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "call_1", content: '{"title":"Widget"}' }],
        });
        expect(resent.messages.at(-2).content).toContainEqual({
          type: "tool_use",
          id: "call_1",
          name: "lookup",
          input: { id: "a-7", nested: { n: 1 } },
        });
      } else {
        expect(sent.toolConfig.tools[0].toolSpec).toMatchObject({
          name: "lookup",
          inputSchema: { json: tools[0]?.parameters },
        });
        expect(resent.messages.at(-1)).toEqual({
          role: "user",
          content: [
            {
              toolResult: {
                toolUseId: "call_1",
                content: [{ text: '{"title":"Widget"}' }],
                status: "success",
              },
            },
          ],
        });
      }
    });

    it("retries a 429 and then succeeds", async () => {
      const fake = fakes[kind];
      fake.enqueue({ status: 429 }, { status: 503 }, { text: "Third time lucky." });
      const provider = withRetries(await providerFor(kind), 3, 1);

      const result = await provider.converse({ messages: [{ role: "user", content: "Hi" }] });

      expect(result.text).toBe("Third time lucky.");
      expect(fake.requests).toHaveLength(3);
    });

    it("gives up after three retries with a retryable PROVIDER_ERROR", async () => {
      const fake = fakes[kind];
      fake.enqueue(...Array.from({ length: 4 }, () => ({ status: 500 })));
      const provider = withRetries(await providerFor(kind), 3, 1);

      const error = await provider
        .converse({ messages: [{ role: "user", content: "Hi" }] })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: "PROVIDER_ERROR", status: 500, retryable: true });
      expect(fake.requests).toHaveLength(4);
    });

    it("does not retry a 400, and keeps the key out of the message", async () => {
      const fake = fakes[kind];
      fake.enqueue({ status: 400, errorMessage: `Invalid API key ${KEY}` });
      const provider = withRetries(await providerFor(kind), 3, 1);

      const error = (await provider
        .converse({ messages: [{ role: "user", content: "Hi" }] })
        .catch((e: unknown) => e)) as ProviderError;

      expect(error).toMatchObject({ code: "PROVIDER_ERROR", status: 400, retryable: false });
      expect(fake.requests).toHaveLength(1);
      if (kind !== "bedrock") expect(error.message).toContain("[redacted]");
      expect(error.message).not.toContain(KEY);
    });
  },
);

describe("provider endpoints obey the egress guard", () => {
  it("refuses an OpenAI-compatible baseUrl on a loopback address that is not allowlisted", async () => {
    const provider = await createProvider({
      provider: "openai",
      model: "m",
      baseUrl: "http://127.0.0.2:9/v1",
      secret: KEY,
    });
    const error = await provider
      .converse({ messages: [{ role: "user", content: "Hi" }] })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "EGRESS_DENIED", retryable: false });
  });

  it.each(["openai", "anthropic"] as const)(
    "%s: the SDK path refuses a baseUrl on 127.0.0.1 that is not allowlisted, before any request",
    async (kind) => {
      // A live server on loopback, not in SWITCHBOARD_ALLOW_HOSTS: the guard must refuse it unreached.
      const hits: string[] = [];
      const server = createServer((req, res) => {
        hits.push(req.url ?? "");
        res.end("{}");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const { port } = server.address() as AddressInfo;
        const provider = await createProvider({
          provider: kind,
          model: "m",
          baseUrl: `http://127.0.0.1:${port}${kind === "openai" ? "/v1" : ""}`,
          secret: KEY,
        });
        for (const onToken of [undefined, () => undefined]) {
          const error = (await provider
            .converse({ messages: [{ role: "user", content: "Hi" }], ...(onToken ? { onToken } : {}) })
            .catch((e: unknown) => e)) as ProviderError;
          expect(error).toBeInstanceOf(ProviderError);
          expect(error).toMatchObject({ code: "EGRESS_DENIED", retryable: false });
          expect(error.message).toContain(`127.0.0.1:${port}`);
          expect(error.message).not.toContain(KEY);
        }
        expect(hits).toEqual([]);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  );

  it.each(["openai", "anthropic"] as const)(
    "%s: the SDK path does not follow a redirect to a private address, nor send the key there",
    async (kind) => {
      const fake = fakes[kind];
      const hits: string[] = [];
      const target = createServer((req, res) => {
        hits.push(JSON.stringify(req.headers));
        res.end("{}");
      });
      await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
      const { port } = target.address() as AddressInfo;
      // The allowlisted provider answers with a redirect: once to the metadata service, once to a loopback
      // server that is not allowlisted.
      try {
        for (const location of [
          "http://169.254.169.254/latest/meta-data/",
          `http://127.0.0.1:${port}/v1/x`,
        ]) {
          fake.enqueue({ redirect: location }, { redirect: location });
          const provider = withRetries(await providerFor(kind), 3, 1);
          for (const onToken of [undefined, () => undefined]) {
            const error = (await provider
              .converse({ messages: [{ role: "user", content: "Hi" }], ...(onToken ? { onToken } : {}) })
              .catch((e: unknown) => e)) as ProviderError;
            expect(error).toBeInstanceOf(ProviderError);
            expect(error).toMatchObject({ code: "PROVIDER_ERROR", retryable: false });
            expect(error.message).toContain("redirect");
            expect(error.message).not.toContain(KEY);
          }
        }
        // Not retried, and nothing reached the redirect's target.
        expect(fake.requests).toHaveLength(4);
        expect(hits).toEqual([]);
      } finally {
        await new Promise<void>((resolve) => target.close(() => resolve()));
      }
    },
  );

  it("reaches an allowlisted Bedrock baseUrl over the pinned HTTP/2 connection", async () => {
    const before = process.env.SWITCHBOARD_ALLOW_HOSTS;
    process.env.SWITCHBOARD_ALLOW_HOSTS = `${before},${fakes.bedrock.hostPort}`;
    try {
      fakes.bedrock.enqueue({ text: "via baseUrl" });
      const provider = await createBedrockProvider({ model: "m", baseUrl: fakes.bedrock.url, secret: KEY });
      expect((await provider.converse({ messages: [{ role: "user", content: "Hi" }] })).text).toBe(
        "via baseUrl",
      );
    } finally {
      process.env.SWITCHBOARD_ALLOW_HOSTS = before;
    }
  });

  it("refuses a Bedrock baseUrl pointing at the metadata service", async () => {
    const error = await createBedrockProvider({ model: "m", baseUrl: "http://169.254.169.254/" }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "EGRESS_DENIED" });
  });
});

describe("scripted provider", () => {
  const script = {
    rules: [
      { match: "^weather in (\\w+)", toolCall: { name: "lookup", arguments: { id: "$1" } }, confidence: 0.4 },
      { match: '"title"', reply: "It is sunny there.", confidence: 0.93 },
    ],
    defaultReply: "I cannot help with that.",
    tokenDelayMs: 0,
  };

  it("matches the latest message: a tool call with capture groups, then a reply with confidence, streamed word by word", async () => {
    const provider = createScriptedProvider({ model: "demo", script });
    const first = await provider.converse({ messages: [{ role: "user", content: "Weather in Lisbon" }] });
    expect(first).toMatchObject({
      toolCalls: [{ name: "lookup", arguments: { id: "Lisbon" } }],
      confidence: 0.4,
      stopReason: "tool_use",
    });

    const tokens: string[] = [];
    const second = await provider.converse({
      messages: [
        { role: "user", content: "Weather in Lisbon" },
        { role: "assistant", content: "", toolCalls: first.toolCalls },
        {
          role: "tool",
          toolCallId: first.toolCalls[0]?.id ?? "",
          name: "lookup",
          content: '{"title":"sun"}',
        },
      ],
      onToken: (t) => tokens.push(t),
    });
    expect(second).toMatchObject({ text: "It is sunny there.", confidence: 0.93, toolCalls: [] });
    expect(tokens).toEqual(["It ", "is ", "sunny ", "there."]);
    expect(second.usage.inputTokens).toBeGreaterThan(0);
  });

  it("falls back to the default reply", async () => {
    const provider = createScriptedProvider({ model: "demo", script });
    expect((await provider.converse({ messages: [{ role: "user", content: "hello" }] })).text).toBe(
      "I cannot help with that.",
    );
  });
});
