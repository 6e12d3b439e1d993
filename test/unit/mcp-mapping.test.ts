import { describe, expect, it } from "vitest";
import { parseMcpToolRef } from "#events/mcp";
import { textOf } from "#shared/mcp/client";
import { modelToolName } from "#shared/mcp/service";
import { providerEndpoint } from "#shared/providers/index";
import { providerProbeUrl } from "#shared/resilience/health";

describe("MCP tool references", () => {
  it("splits mcp:<server>/<tool> and mcp:<server>/*", () => {
    expect(parseMcpToolRef("mcp:everything/get-sum")).toEqual({ server: "everything", tool: "get-sum" });
    expect(parseMcpToolRef("mcp:gh/*")).toEqual({ server: "gh", tool: "*" });
    expect(parseMcpToolRef("mcp:gh/repos.list")).toEqual({ server: "gh", tool: "repos.list" });
  });

  it("refuses what is not a reference", () => {
    for (const ref of ["get-sum", "mcp:/x", "mcp:gh/", "mcp:gh/a/b", "mcp:1gh/x", "mcp:gh/a*", "mcp:g h/x"]) {
      expect(parseMcpToolRef(ref), ref).toBeUndefined();
    }
  });
});

describe("model-facing tool names", () => {
  it("uses only the characters every provider accepts", () => {
    expect(modelToolName("everything", "get-sum")).toBe("mcp__everything__get-sum");
    expect(modelToolName("gh", "repos.list/all")).toBe("mcp__gh__repos_list_all");
  });

  it("stays within 64 characters, and distinct for long names", () => {
    const a = modelToolName("server", `${"x".repeat(80)}a`);
    const b = modelToolName("server", `${"x".repeat(80)}b`);
    expect(a).toHaveLength(64);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
  });
});

describe("tool results", () => {
  it("joins the text blocks and ignores the rest", () => {
    expect(
      textOf([
        { type: "text", text: "one" },
        { type: "image", data: "…" },
        { type: "text", text: "two" },
        null,
      ]),
    ).toBe("one\ntwo");
  });
});

describe("breaker endpoints and health probes", () => {
  it("names a provider's endpoint by its base URL or its default", () => {
    expect(providerEndpoint({ provider: "openai" })).toBe("openai https://api.openai.com/v1");
    expect(providerEndpoint({ provider: "openai", baseUrl: "http://127.0.0.1:11434/v1/" })).toBe(
      "openai http://127.0.0.1:11434/v1",
    );
    expect(providerEndpoint({ provider: "anthropic" })).toBe("anthropic https://api.anthropic.com");
  });

  it("checks a cheap listing of each provider, and nothing for the built-in one", () => {
    expect(providerProbeUrl("openai", undefined)).toBe("https://api.openai.com/v1/models");
    expect(providerProbeUrl("openai", "http://localhost:11434/v1/")).toBe("http://localhost:11434/v1/models");
    expect(providerProbeUrl("anthropic", undefined)).toBe("https://api.anthropic.com/v1/models");
    expect(providerProbeUrl("bedrock", undefined, "eu-west-1")).toBe(
      "https://bedrock-runtime.eu-west-1.amazonaws.com/",
    );
    expect(providerProbeUrl("scripted", undefined)).toBeUndefined();
  });
});
