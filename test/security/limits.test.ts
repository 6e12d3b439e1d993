/**
 * Every documented limit (README, "Limits"), checked at its edge: going over is a 4xx whose message names
 * the limit, or for limits that only a running step can hit, a failed step whose error names it.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_URL_CHARS } from "#infra/local/gateway";
import { MAX_FOREACH_ITEMS } from "#shared/engine/engine";
import { MAX_EXPRESSION_CHARS } from "#shared/engine/expressions";
import { MAX_BODY_BYTES } from "#shared/http/api";
import { type Platform, SocketClient, startPlatform } from "../support/platform.ts";

const CONNECTIONS = 3;
const SUBSCRIPTIONS = 3;
let platform: Platform;

beforeAll(async () => {
  // Small, so the test reaches it; the default is in the README.
  process.env.MAX_CONNECTIONS_PER_TENANT = String(CONNECTIONS);
  process.env.MAX_SUBSCRIPTIONS_PER_CONNECTION = String(SUBSCRIPTIONS);
  platform = await startPlatform();
});

afterAll(async () => {
  delete process.env.MAX_CONNECTIONS_PER_TENANT;
  delete process.env.MAX_SUBSCRIPTIONS_PER_CONNECTION;
  await platform?.stop();
});

const TERMINAL = ["succeeded", "failed", "cancelled", "timed_out"];

async function run(workflow: unknown, input: unknown = {}): Promise<any> {
  const created = await platform.api<any>("POST", "/v1/jobs", { workflow, input });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  for (let i = 0; i < 300; i++) {
    const job = (await platform.api<any>("GET", `/v1/jobs/${created.body.jobId}`)).body;
    if (TERMINAL.includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("job did not finish");
}

const raw = (path: string, init: RequestInit = {}) =>
  fetch(`${platform.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${platform.token}`, ...(init.headers ?? {}) },
  });

describe("request limits", () => {
  it("body size: over 1 MiB is a 413 that names the limit", async () => {
    const big = JSON.stringify({
      workflow: { name: "x", nodes: [] },
      input: { s: "x".repeat(MAX_BODY_BYTES) },
    });
    const response = await raw("/v1/jobs", {
      method: "POST",
      body: big,
      headers: { "content-type": "application/json" },
    });
    const body = await response.json();
    expect(response.status).toBe(413);
    expect(body).toMatchObject({ code: "PAYLOAD_TOO_LARGE", message: expect.stringContaining("body limit") });
    expect(body.requestId).toEqual(expect.any(String));
  });

  it("a body that is not UTF-8 is a 400, not read with replacement characters", async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"name":"'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('"}'),
    ]);
    const response = await raw("/v1/workflows/validate", {
      method: "POST",
      body: bytes,
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: "BAD_REQUEST",
      message: "Request body is not valid UTF-8",
    });
  });

  it("URL length: over the limit is a 414 with the contract's body, not Node's bare 431", async () => {
    for (const length of [MAX_URL_CHARS + 1, 16 * 1024 + 1, 40_000]) {
      const response = await raw(`/v1/jobs?cursor=${"a".repeat(length)}`);
      const body = await response.json();
      expect(response.status).toBe(414);
      expect(body).toMatchObject({ code: "URI_TOO_LONG", message: expect.stringContaining("URL limit") });
      expect(body.requestId).toEqual(expect.any(String));
    }
  });

  it("nodes per workflow: over 200 is a 400 that names the limit", async () => {
    const nodes = Array.from({ length: 201 }, (_, i) => ({ id: `n${i}`, type: "code", code: "return 1" }));
    const response = await platform.api<any>("POST", "/v1/workflows/validate", { name: "wide", nodes });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toMatch(/200/);
  });

  it("expression length: over the limit is a 400 that names the limit", async () => {
    const long = `{% ${"1 + ".repeat(MAX_EXPRESSION_CHARS / 4)}1 %}`;
    const response = await platform.api<any>("POST", "/v1/workflows/validate", {
      name: "long-expression",
      nodes: [{ id: "a", type: "code", input: { x: long }, code: "return 1" }],
    });
    expect(JSON.stringify(response.body)).toMatch(
      new RegExp(`${MAX_EXPRESSION_CHARS}-character expression limit`),
    );
    expect(response.status === 400 || response.body.valid === false).toBe(true);
  });

  it("code length: over 64,000 characters is a 400 that names the limit", async () => {
    const response = await platform.api<any>("POST", "/v1/workflows/validate", {
      name: "long-code",
      nodes: [{ id: "a", type: "code", code: `return 1;${" ".repeat(64_001)}` }],
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toMatch(/64000/);
  });
});

describe("limits a running step meets", () => {
  it("forEach items: over the limit fails the step with an error naming the limit", async () => {
    // The contract says 10,000; the engine enforces its own constant, so the test follows it.
    const job = await run({
      name: "too-many",
      nodes: [
        { id: "each", type: "code", forEach: `{% [1..${MAX_FOREACH_ITEMS + 1}] %}`, code: "return item" },
      ],
    });
    expect(job.status).toBe("failed");
    expect(job.steps[0].error.code).toBe("FOREACH_TOO_LARGE");
    expect(JSON.stringify(job.steps), JSON.stringify(job.steps).slice(0, 600)).toMatch(
      new RegExp(`the limit is ${MAX_FOREACH_ITEMS}\\b`),
    );
  });

  it("expression time: an endless expression stops at 1 s with an error naming the limit", async () => {
    const job = await run({
      name: "slow-expression",
      nodes: [
        {
          id: "a",
          type: "code",
          input: { x: "{% ( $f := function($n){ $f($n + 1) }; $f(0) ) %}" },
          code: "return 1",
        },
      ],
    });
    expect(job.status).toBe("failed");
    expect(job.steps[0].error.message).toMatch(/timeout after 1000 milliseconds/i);
  });

  it("code memory: past 32 MiB fails the step with CODE_MEMORY naming the limit", async () => {
    const job = await run({
      name: "memory",
      nodes: [{ id: "a", type: "code", code: "const a = []; while (true) a.push(new Array(1e6).fill(1))" }],
    });
    expect(job.steps[0].error).toMatchObject({
      code: "CODE_MEMORY",
      message: expect.stringContaining("32.0 MiB"),
    });
  });

  it("code time: a step stops at its timeoutSeconds with an error naming it", async () => {
    const job = await run({
      name: "time",
      nodes: [{ id: "a", type: "code", timeoutSeconds: 1, code: "while (true) {}" }],
    });
    expect(job.steps[0].error).toMatchObject({
      code: "CODE_TIMEOUT",
      message: "the code ran longer than 1000 ms",
    });
  });
});

describe("WebSocket limits", () => {
  it("frame size: a message over 128 KB closes the connection with 1009 (message too big)", async () => {
    const client = await SocketClient.open(platform.wsUrl, platform.token);
    const closed = new Promise<number>((resolve) => client.socket.once("close", (code) => resolve(code)));
    client.socket.send("x".repeat(128 * 1024 + 1));
    expect(await closed).toBe(1009);
  });

  it("subscriptions per connection: past the limit a subscribe answers LIMIT_EXCEEDED and adds nothing", async () => {
    const client = await SocketClient.open(platform.wsUrl, platform.token);
    try {
      const jobs: string[] = [];
      for (let i = 0; i < SUBSCRIPTIONS + 1; i++) {
        const created = await platform.api<any>("POST", "/v1/jobs", {
          workflow: { name: `sub-${i}`, nodes: [{ id: "a", type: "code", code: "return 1" }] },
        });
        jobs.push(created.body.jobId);
      }
      for (const jobId of jobs.slice(0, SUBSCRIPTIONS)) {
        client.send({ action: "subscribe", jobId });
        await client.waitFor((m) => m.type === "subscribed" && m.jobId === jobId);
      }
      // Subscribing again to one already held is not a new subscription.
      client.send({ action: "subscribe", jobId: jobs[0] });
      await client.waitFor((m) => m.type === "subscribed" && m.jobId === jobs[0]);
      client.send({ action: "subscribe", jobId: jobs[SUBSCRIPTIONS] });
      const refused = await client.waitFor((m) => m.type === "error");
      expect(refused.code).toBe("LIMIT_EXCEEDED");
      expect(refused.message).toContain(`at most ${SUBSCRIPTIONS} subscriptions`);
      // Giving one back makes room.
      client.send({ action: "unsubscribe", jobId: jobs[1] });
      await client.waitFor((m) => m.type === "unsubscribed" && m.jobId === jobs[1]);
      client.send({ action: "subscribe", jobId: jobs[SUBSCRIPTIONS] });
      await client.waitFor((m) => m.type === "subscribed" && m.jobId === jobs[SUBSCRIPTIONS]);
    } finally {
      client.socket.close();
    }
  });

  it(`connections per tenant: past the limit the handshake is refused with 429`, async () => {
    const open: SocketClient[] = [];
    try {
      for (let i = 0; i < CONNECTIONS; i++)
        open.push(await SocketClient.open(platform.wsUrl, platform.token));
      const refused = await SocketClient.open(platform.wsUrl, platform.token).then(
        (client) => {
          open.push(client);
          return "opened";
        },
        (error: Error) => error.message,
      );
      expect(refused).toBe("WebSocket refused: 429");

      // A closed connection gives its slot back.
      const first = open.shift() as SocketClient;
      await new Promise<void>((resolve) => {
        first.socket.once("close", () => resolve());
        first.socket.close();
      });
      let again: SocketClient | undefined;
      for (let i = 0; i < 50 && again === undefined; i++) {
        again = await SocketClient.open(platform.wsUrl, platform.token).catch(async () => {
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        });
      }
      expect(again).toBeDefined();
      if (again) open.push(again);
    } finally {
      for (const client of open) client.socket.close();
    }
  });
});
