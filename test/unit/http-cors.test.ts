import type { APIGatewayProxyEvent, Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import proxyFixture from "#events/fixtures/api-gateway-proxy.json" with { type: "json" };
import { createApiHandler, defineRoute } from "#shared/http/api";

const context = { functionName: "api", awsRequestId: "req-1" } as Context;
const dashboard = "https://d111111abcdef8.cloudfront.net";

const handler = createApiHandler({
  health: defineRoute({ handle: async () => ({ status: "ok" }) }),
  listJobs: defineRoute({
    handle: async () => {
      throw new Error("boom");
    },
  }),
});

function call(path: string, headers: Record<string, string>) {
  const event = structuredClone(proxyFixture) as unknown as APIGatewayProxyEvent;
  const resource = path === "/health" ? { resource: "/health", httpMethod: "GET" } : {};
  return handler({ ...event, ...resource, path, headers }, context);
}

describe("CORS on the api function's responses", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("echoes an allowed origin with Vary: Origin, read from CORS_ALLOW_ORIGIN", async () => {
    vi.stubEnv("CORS_ALLOW_ORIGIN", `${dashboard},http://localhost:3000`);
    const result = await call("/health", { Origin: dashboard });
    expect(result.statusCode).toBe(200);
    expect(result.headers?.["Access-Control-Allow-Origin"]).toBe(dashboard);
    expect(result.headers?.Vary).toBe("Origin");
    const second = await call("/health", { origin: "http://localhost:3000" });
    expect(second.headers?.["Access-Control-Allow-Origin"]).toBe("http://localhost:3000");
  });

  it("names no origin for one the stage does not allow, and still varies on it", async () => {
    vi.stubEnv("CORS_ALLOW_ORIGIN", dashboard);
    const result = await call("/health", { Origin: "https://evil.test" });
    expect(result.headers?.["Access-Control-Allow-Origin"]).toBeUndefined();
    expect(result.headers?.Vary).toBe("Origin");
  });

  it("allows no browser origin when the variable is unset", async () => {
    const result = await call("/health", { Origin: dashboard });
    expect(result.headers?.["Access-Control-Allow-Origin"]).toBeUndefined();
  });

  it("answers errors with the same headers, so the browser can read them", async () => {
    vi.stubEnv("CORS_ALLOW_ORIGIN", dashboard);
    const missing = await call("/nowhere", { Origin: dashboard });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers?.["Access-Control-Allow-Origin"]).toBe(dashboard);
    expect(missing.headers?.["Access-Control-Expose-Headers"]).toBe("Retry-After");
  });
});
