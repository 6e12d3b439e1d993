import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerMessage } from "#events/ws";
import { costOf, priceOf } from "#shared/agents/prices";
import { parseConfidence, promptOf } from "#shared/agents/run-agent";
import { TokenStream } from "#shared/agents/token-stream";

/** Time passes on the test's clock only: the stream's intervals are fake timers, so load cannot move them. */
const sleep = (ms: number) => vi.advanceTimersByTimeAsync(ms);

function stream(subscribers: string[], options: { intervalMs?: number; refreshMs?: number } = {}) {
  const sent: { connectionId: string; message: ServerMessage }[] = [];
  const lookup = vi.fn(async () => subscribers);
  const tokens = new TokenStream({
    tenantId: "t1",
    jobId: "j1",
    nodeId: "ask",
    lookup,
    send: async (connectionId, message) => {
      sent.push({ connectionId, message });
      return connectionId === "gone" ? "gone" : "sent";
    },
    ...options,
  });
  return { tokens, sent, lookup };
}

describe("token streaming", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends the first token at once, then coalesces into one message per interval, in order", async () => {
    const { tokens, sent } = stream(["c1"], { intervalMs: 40 });
    tokens.push("Hel");
    await sleep(5);
    expect(sent.map((s) => (s.message as { text: string }).text)).toEqual(["Hel"]);
    for (const piece of ["lo", ", ", "wor", "ld"]) tokens.push(piece);
    await sleep(5);
    expect(sent).toHaveLength(1);
    await tokens.close();
    const messages = sent.map(
      (s) => s.message as { type: string; text: string; index: number; jobId: string; nodeId: string },
    );
    expect(messages.map((m) => m.text).join("")).toBe("Hello, world");
    expect(messages).toHaveLength(2);
    expect(messages.map((m) => m.index)).toEqual([0, 1]);
    expect(messages[0]).toMatchObject({ type: "agent.token", jobId: "j1", nodeId: "ask" });
  });

  it("sends a connection that joins mid-step the whole text so far, then only what is new", async () => {
    const subscribers = ["c1"];
    const { tokens, sent } = stream(subscribers, { intervalMs: 1, refreshMs: 20 });
    tokens.push("Hello");
    await sleep(10);
    subscribers.push("c2");
    await sleep(30);
    tokens.push(", wor");
    await sleep(10);
    tokens.push("ld");
    await tokens.close();
    const to = (id: string) =>
      sent.filter((s) => s.connectionId === id).map((s) => s.message as { text: string; offset: number });
    const late = to("c2");
    expect(late[0]).toMatchObject({ offset: 0, text: expect.stringMatching(/^Hello, wor/) });
    // Applied by offset, as the dashboard does, each connection ends with the whole text.
    const apply = (messages: { text: string; offset: number }[]) =>
      messages.reduce((text, m) => text.slice(0, m.offset) + m.text, "");
    expect(apply(late)).toBe("Hello, world");
    expect(apply(to("c1"))).toBe("Hello, world");
    expect(to("c1").map((m) => m.offset)).toEqual([0, 5, 10]);
  });

  it("sends to every subscriber, and stops sending to one that is gone", async () => {
    const { tokens, sent } = stream(["c1", "gone"], { intervalMs: 1 });
    tokens.push("a");
    await sleep(10);
    tokens.push("b");
    await tokens.close();
    expect(sent.filter((s) => s.connectionId === "gone")).toHaveLength(1);
    expect(sent.filter((s) => s.connectionId === "c1")).toHaveLength(2);
  });

  it("sends nothing when nobody is subscribed, and looks subscribers up again after the refresh interval", async () => {
    const { tokens, sent, lookup } = stream([], { intervalMs: 1, refreshMs: 20 });
    tokens.push("x");
    await sleep(30);
    tokens.push("y");
    await tokens.close();
    expect(sent).toHaveLength(0);
    expect(lookup.mock.calls.length).toBe(2);
  });
});

describe("agent output helpers", () => {
  it.each([
    ["The answer.\nCONFIDENCE: 0.82", "The answer.", 0.82],
    ["Sure.\n\nConfidence: 91%", "Sure.", 0.91],
    ["Done **Confidence**: 1", "Done **Confidence**: 1", undefined],
    ["No score here", "No score here", undefined],
    ["Bad\nCONFIDENCE: 7", "Bad\nCONFIDENCE: 7", undefined],
  ])("parses a trailing confidence line from %j", (text, rest, confidence) => {
    const parsed = parseConfidence(text);
    expect(parsed.text).toBe(rest);
    expect(parsed.confidence).toBe(confidence);
  });

  it("turns the node's input into the prompt", () => {
    expect(promptOf("Summarize this")).toBe("Summarize this");
    expect(promptOf({ prompt: "Summarize" })).toBe("Summarize");
    expect(promptOf({ prompt: "Summarize", doc: "x" })).toContain('"doc": "x"');
    expect(promptOf(undefined)).toBe("(no input)");
  });

  it("prices known models by their longest prefix and unknown ones at zero", () => {
    expect(priceOf("openai", "gpt-4o-mini-2024-07-18")).toEqual({ input: 0.15, output: 0.6 });
    expect(priceOf("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0")).toEqual({
      input: 0.8,
      output: 4,
    });
    expect(costOf("anthropic", "claude-sonnet-4-5", { inputTokens: 1_000_000, outputTokens: 100_000 })).toBe(
      4.5,
    );
    expect(costOf("openai", "llama3.1:8b", { inputTokens: 1000, outputTokens: 1000 })).toBe(0);
    expect(costOf("scripted", "demo", { inputTokens: 1000, outputTokens: 1000 })).toBe(0);
  });
});
