import { beforeAll, describe, expect, it } from "vitest";
import { manifest } from "#infra/manifest";
import {
  CODE_STEP_MAX_MS,
  codeTimeoutMs,
  POOL_SIZE,
  runCode,
  SandboxError,
  warmSandbox,
} from "#shared/engine/sandbox";

async function failure(promise: Promise<unknown>): Promise<SandboxError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SandboxError)) throw new Error(`expected a SandboxError, got ${String(err)}`);
  return err;
}

describe("runCode", () => {
  beforeAll(async () => {
    await warmSandbox();
  });

  it("returns what the code returns", async () => {
    const result = await runCode("return { n: input.items.length }", { input: { items: [1, 2, 3] } });

    expect(result.output).toEqual({ n: 3 });
    expect(result.logs).toEqual([]);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("sees input, item, index, attempt and steps", async () => {
    const result = await runCode("return [input.k, item * 2, index, attempt, steps.fetch.output.body]", {
      input: { k: "v" },
      item: 21,
      index: 4,
      attempt: 2,
      steps: { fetch: { status: "succeeded", output: { body: "b" } } },
    });

    expect(result.output).toEqual(["v", 42, 4, 2, "b"]);
  });

  it("supports async code", async () => {
    const result = await runCode("const x = await Promise.resolve(20); return x + 1");

    expect(result.output).toBe(21);
  });

  it("fails with 'output is not JSON' when the code returns undefined, a function or a Symbol", async () => {
    for (const code of [
      "return undefined",
      "let x = 1",
      "return () => 1",
      "return Symbol('s')",
      "return 10n",
    ]) {
      const err = await failure(runCode(code));
      expect(err.code).toBe("CODE_ERROR");
      expect(err.message).toMatch(/output is not JSON/);
    }
    expect((await runCode("return null")).output).toBeNull();
  });

  it("collects console output, up to a number of lines", async () => {
    const result = await runCode(
      "for (let i = 0; i < 5; i++) console.log('line', i, { i }); return 1",
      {},
      { maxLogLines: 3 },
    );

    expect(result.logs).toEqual([
      'line 0 {"i":0}',
      'line 1 {"i":1}',
      'line 2 {"i":2}',
      "… 2 more line(s) dropped",
    ]);
  });

  it("reports a throw as CODE_ERROR with its message and line", async () => {
    const err = await failure(runCode("const a = 1;\nthrow new TypeError('bad input');"));

    expect(err.code).toBe("CODE_ERROR");
    expect(err.message).toBe("TypeError: bad input (line 2)");
    expect(err.line).toBe(2);
  });

  it("reports a syntax error as CODE_ERROR", async () => {
    const err = await failure(runCode("return ("));

    expect(err.code).toBe("CODE_ERROR");
    expect(err.message).toMatch(/SyntaxError/);
  });

  it("reports a rejected promise as CODE_ERROR", async () => {
    const err = await failure(runCode("await null; throw new Error('later')"));

    expect(err).toMatchObject({ code: "CODE_ERROR", message: expect.stringContaining("later") });
  });

  it("reports output that is not JSON as CODE_ERROR", async () => {
    const err = await failure(runCode("return 10n"));

    expect(err.code).toBe("CODE_ERROR");
    expect(err.message).toMatch(/JSON/);
  });

  it("reports a promise that can never settle", async () => {
    const err = await failure(runCode("return new Promise(() => {})"));

    expect(err.message).toMatch(/never settles/);
  });

  it("stops an endless loop with CODE_TIMEOUT within the limit", async () => {
    const started = Date.now();

    const err = await failure(runCode("while (true) {}", {}, { timeoutMs: 300 }));

    expect(err.code).toBe("CODE_TIMEOUT");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("stops an endless async job chain with CODE_TIMEOUT", async () => {
    const err = await failure(runCode("while (true) await null", {}, { timeoutMs: 300 }));

    expect(err.code).toBe("CODE_TIMEOUT");
  });

  it("stops a memory bomb with CODE_MEMORY, and the next run works", async () => {
    const err = await failure(runCode("let a = []; while (true) a.push(new Array(1e6).fill(1))"));

    expect(err.code).toBe("CODE_MEMORY");
    expect((await runCode("return 'still fine'")).output).toBe("still fine");
  });

  it("stops a string bomb with CODE_MEMORY", async () => {
    const err = await failure(
      runCode(
        "let a = []; while (true) a.push('x'.repeat(1e6) + a.length)",
        {},
        { memoryLimitBytes: 8 * 1024 * 1024 },
      ),
    );

    expect(err.code).toBe("CODE_MEMORY");
  });

  it("turns runaway recursion into CODE_ERROR", async () => {
    const err = await failure(runCode("function f() { return f() + 1 } return f()"));

    expect(err.code).toBe("CODE_ERROR");
    expect(err.message).toMatch(/stack overflow/);
  });

  it("has no access to the host", async () => {
    const result = await runCode(
      "return [typeof process, typeof require, typeof fetch, typeof setTimeout, typeof module, typeof globalThis.std, typeof globalThis.os]",
    );

    expect(result.output).toEqual(Array(7).fill("undefined"));
  });

  it("keeps prototype pollution inside the guest", async () => {
    const result = await runCode(
      'Object.prototype.polluted = \'yes\'; Array.prototype.push = null; return JSON.parse(\'{"__proto__": {"polluted": "yes"}, "ok": 1}\')',
    );

    expect(result.output).toEqual({ ok: 1 });
    expect(Object.hasOwn(result.output as object, "__proto__")).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(typeof [].push).toBe("function");
    const next = await runCode("return ({}).polluted === undefined && typeof [].push === 'function'");
    expect(next.output).toBe(true);
  });

  it("cannot tamper with how its result is read", async () => {
    const result = await runCode("JSON.stringify = () => 'garbage'; JSON.parse = null; return { a: 1 }");

    expect(result.output).toEqual({ a: 1 });
  });

  it("does not leak memory across many runs", async () => {
    // Each run keeps a few MB alive until it ends. If runtimes leaked, the bounded module memory would
    // run out long before 200 runs and later runs would fail with CODE_MEMORY.
    for (let i = 0; i < 200; i++) {
      const result = await runCode("const a = new Array(200000).fill(index); return a.length + index", {
        index: i,
      });
      expect(result.output).toBe(200000 + i);
    }
    const big = await runCode("const a = new Array(2e6).fill(1); return a.length");
    expect(big.output).toBe(2e6);
  }, 60_000);

  it("keeps the caller's event loop free while the code spins", async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const spinning = failure(runCode("while (true) {}", {}, { timeoutMs: 1_000 }));
    // Another run finishes while the first one spins, and timers keep firing.
    const other = await runCode("return 'alongside'");
    const ticksBeforeEnd = ticks;
    const err = await spinning;
    clearInterval(ticker);

    expect(other.output).toBe("alongside");
    expect(err.code).toBe("CODE_TIMEOUT");
    expect(ticksBeforeEnd).toBeGreaterThan(0);
  });

  it("stops a catastrophic regular expression inside the guest at its deadline", async () => {
    const err = await failure(runCode("return /(a+)+$/.test('a'.repeat(40) + '!')", {}, { timeoutMs: 300 }));

    expect(err).toMatchObject({ code: "CODE_TIMEOUT", message: "the code ran longer than 300 ms" });
    expect((await runCode("return 'replaced'")).output).toBe("replaced");
  });

  it("caps the time of any code step so a batch of steps fits the worker Lambda's timeout", async () => {
    const worker = manifest.functions.worker;
    const batch = manifest.queues.find((q) => q.consumer?.function === "worker")?.consumer?.batchSize ?? 10;

    expect(Math.ceil(batch / POOL_SIZE) * CODE_STEP_MAX_MS).toBeLessThan(worker.timeoutSeconds * 1000);
    expect(codeTimeoutMs({ timeoutMs: 10 * 60_000 })).toBe(CODE_STEP_MAX_MS);
    expect(codeTimeoutMs({ timeoutMs: 2_000 })).toBe(2_000);
  });

  it("bounds console output to 8 KB and returns it with a failure too", async () => {
    const many = await runCode("for (let i = 0; i < 50; i++) console.log('y'.repeat(1000)); return 1");
    expect(many.logs.slice(0, -1).join("").length).toBeLessThanOrEqual(8 * 1024);
    expect(many.logs.at(-1)).toMatch(/more line\(s\) dropped/);

    const err = await failure(runCode("console.log('before'); throw new Error('boom')"));
    expect(err.logs).toEqual(["before"]);
  });
});
