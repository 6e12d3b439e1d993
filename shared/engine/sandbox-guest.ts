import variantExport from "@jitl/quickjs-singlefile-cjs-release-sync";
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from "quickjs-emscripten-core";

/**
 * The QuickJS side of the sandbox: runs a `code` node's JavaScript in QuickJS compiled to WebAssembly.
 * The guest has no host objects at all: no require, process, fetch, timers or I/O. Data crosses the
 * boundary only as JSON text. This module runs inside the sandbox's worker thread (see sandbox.ts), so a
 * guest that spins blocks that thread only, and the host terminates it at its deadline.
 *
 * The time limit is checked whenever QuickJS polls its interrupt handler (on loop back-edges and calls);
 * one long native call, such as sorting a huge array, can overrun it, and the host's deadline ends that.
 */

export type SandboxErrorCode = "CODE_ERROR" | "CODE_TIMEOUT" | "CODE_MEMORY";

export class SandboxError extends Error {
  override readonly name = "SandboxError";
  readonly code: SandboxErrorCode;
  /** 1-based line in the node's code, when QuickJS reported one. */
  readonly line: number | undefined;
  /** What the code wrote to the console before it failed. */
  logs: string[] = [];

  constructor(code: SandboxErrorCode, message: string, line?: number) {
    super(message);
    this.code = code;
    this.line = line;
  }
}

export interface SandboxGlobals {
  input?: unknown;
  item?: unknown;
  index?: number;
  attempt?: number;
  steps?: Record<string, unknown>;
}

export interface SandboxOptions {
  /** Wall-clock budget for the run. Default 5 s, at most CODE_STEP_MAX_MS. */
  timeoutMs?: number;
  /** Heap budget. Default 32 MiB. */
  memoryLimitBytes?: number;
  /** Guest stack budget. Default 256 KiB (about 1,500 plain recursive calls). */
  maxStackBytes?: number;
  /** console.* lines kept. Default 100; each line is cut at 2,000 characters, all of them at 8 KB. */
  maxLogLines?: number;
}

export interface SandboxResult {
  output: unknown;
  logs: string[];
  durationMs: number;
}

/** The guest's answer as it crosses back from the worker: the output stays JSON text until the host parses it. */
export type GuestAnswer =
  | { ok: true; text: string; logs: string[]; durationMs: number }
  | { ok: false; code: SandboxErrorCode; message: string; line?: number; logs: string[] };

const MiB = 1024 * 1024;
const WASM_PAGE = 64 * 1024;
export const SANDBOX_DEFAULTS = {
  timeoutMs: 5_000,
  memoryLimitBytes: 32 * MiB,
  maxStackBytes: 256 * 1024,
  maxLogLines: 100,
};
const DEFAULTS = SANDBOX_DEFAULTS;
const MAX_LOG_LINE = 2_000;
/** All console output of one run, in UTF-16 code units (about 8 KB of ASCII). */
export const MAX_LOG_CHARS = 8 * 1024;
/**
 * The build reserves 16 MiB of linear memory for its data, its C stack and the first heap pages. The
 * guest may grow memory by its own budget on top of that.
 */
const BASE_MEMORY = 16 * MiB;
/**
 * Above this the host's own (V8) stack, not QuickJS's check, would overflow first: each guest frame costs
 * more host stack than QuickJS accounts for.
 */
const MAX_STACK_CEILING = 384 * 1024;

/** Node's ESM loader hands us `module.exports` of this CJS package, so the variant may sit on `.default`. */
const baseVariant: QuickJSSyncVariant =
  (variantExport as unknown as { default?: QuickJSSyncVariant }).default ?? variantExport;

/**
 * QuickJS's own memory limit cannot count bytes in this build (malloc_usable_size is unavailable under
 * Emscripten, so only allocation counts accumulate). The reliable bound is the WebAssembly memory itself:
 * each module gets a memory that cannot grow past the budget, so malloc fails and QuickJS throws
 * "out of memory". One module per budget, loaded once per process and reused by every run.
 */
const modules = new Map<number, Promise<QuickJSWASMModule>>();

function moduleFor(memoryLimitBytes: number): Promise<QuickJSWASMModule> {
  const pages = Math.ceil((BASE_MEMORY + memoryLimitBytes) / WASM_PAGE);
  let loading = modules.get(pages);
  if (!loading) {
    const memory = new WebAssembly.Memory({ initial: BASE_MEMORY / WASM_PAGE, maximum: pages });
    loading = newQuickJSWASMModuleFromVariant(newVariant(baseVariant, { wasmMemory: memory }));
    loading.catch(() => modules.delete(pages));
    modules.set(pages, loading);
  }
  return loading;
}

/**
 * After an out-of-memory or a host-side stack overflow the module's allocator or interpreter state may be
 * inconsistent (freeing the runtime can then abort the whole module), so such a module is dropped
 * without disposing and the next run loads a fresh one.
 */
function discardModule(memoryLimitBytes: number): void {
  modules.delete(Math.ceil((BASE_MEMORY + memoryLimitBytes) / WASM_PAGE));
}

/** Loads the WebAssembly module ahead of the first run (cold start). */
export async function warmQuickJs(opts: Pick<SandboxOptions, "memoryLimitBytes"> = {}): Promise<void> {
  await moduleFor(opts.memoryLimitBytes ?? DEFAULTS.memoryLimitBytes);
}

/**
 * Installed before the user's code. It captures JSON before the user can replace it, installs console,
 * and returns the runner that parses the arguments, awaits the function and serialises its result.
 */
const BOOTSTRAP = `(function () {
  const parse = JSON.parse, stringify = JSON.stringify;
  const write = globalThis.__sandboxLog;
  delete globalThis.__sandboxLog;
  const format = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return String(v);
    try { const s = stringify(v); return s === undefined ? String(v) : s; } catch { return String(v); }
  };
  const log = (...args) => { write(args.map(format).join(" ")); };
  globalThis.console = { log, info: log, warn: log, error: log, debug: log };
  return async (fn, json) => {
    const a = parse(json);
    const result = await fn(a.input, a.item, a.index, a.attempt, a.steps);
    let text;
    try { text = stringify(result); } catch (e) {
      throw new TypeError("output is not JSON: " + (e && e.message));
    }
    if (text === undefined) {
      throw new TypeError("output is not JSON: the code returned " + (typeof result === "undefined" ? "undefined (return a value, or null)" : "a " + typeof result));
    }
    return text;
  };
})()`;

/**
 * The code is the body of an async function, so it may `await`. The header sits alone on line 1, so
 * guest line N is line N - 1 of the node's code.
 */
const HEADER = "(async function (input, item, index, attempt, steps) {\n";
const CODE_FILE = "code.js";

interface GuestError {
  name?: string;
  message?: string;
  stack?: string;
}

function lineOf(stack: string | undefined, lines: number): number | undefined {
  const m = stack?.match(/code\.js:(\d+)/);
  if (!m) return undefined;
  // A syntax error at the end of the code is reported on the closing line of the wrapper.
  const line = Math.min(Number(m[1]) - 1, lines);
  return line >= 1 ? line : undefined;
}

function describe(ctx: QuickJSContext, handle: QuickJSHandle): GuestError {
  try {
    const dumped = ctx.dump(handle) as unknown;
    if (dumped !== null && typeof dumped === "object") return dumped as GuestError;
    return { message: String(dumped) };
  } catch {
    return { message: "unknown error" };
  }
}

/**
 * Runs `code` (the body of a function of input, item, index, attempt, steps) and returns its result as
 * JSON text. Call it through sandbox.ts's runCode, which runs it off the caller's event loop.
 */
export async function runInQuickJs(
  code: string,
  globals: SandboxGlobals = {},
  opts: SandboxOptions = {},
): Promise<GuestAnswer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const memoryLimitBytes = opts.memoryLimitBytes ?? DEFAULTS.memoryLimitBytes;
  const maxStackBytes = Math.min(opts.maxStackBytes ?? DEFAULTS.maxStackBytes, MAX_STACK_CEILING);
  const maxLogLines = opts.maxLogLines ?? DEFAULTS.maxLogLines;
  const args = JSON.stringify({
    input: globals.input ?? null,
    item: globals.item ?? null,
    index: globals.index ?? null,
    attempt: globals.attempt ?? 1,
    steps: globals.steps ?? {},
  });

  const module = await moduleFor(memoryLimitBytes);
  // Everything below is synchronous, so concurrent runs never interleave inside one module.
  const started = Date.now();
  const deadline = started + timeoutMs;
  const logs: string[] = [];
  let droppedLogs = 0;
  let logChars = 0;
  let timedOut = false;
  let poisoned = false;

  let runtime: QuickJSRuntime;
  let ctx: QuickJSContext;
  try {
    runtime = module.newRuntime();
    ctx = runtime.newContext();
  } catch (err) {
    // The module itself is broken (an earlier abort); the next run loads a fresh one.
    discardModule(memoryLimitBytes);
    throw err;
  }
  const finishLogs = (): string[] =>
    droppedLogs > 0 ? [...logs, `… ${droppedLogs} more line(s) dropped`] : logs;
  const handles: QuickJSHandle[] = [];
  const keep = (h: QuickJSHandle): QuickJSHandle => {
    handles.push(h);
    return h;
  };

  const fail = (h: QuickJSHandle): SandboxError => {
    const e = describe(ctx, h);
    const message = e.message ?? "unknown error";
    if (timedOut) return new SandboxError("CODE_TIMEOUT", `the code ran longer than ${timeoutMs} ms`);
    if (e.name === "InternalError" && /out of memory/i.test(message)) {
      poisoned = true;
      return new SandboxError(
        "CODE_MEMORY",
        `the code used more than ${(memoryLimitBytes / MiB).toFixed(1)} MiB of memory`,
      );
    }
    const line = lineOf(e.stack, code.split("\n").length);
    const label = e.name ? `${e.name}: ${message}` : message;
    return new SandboxError("CODE_ERROR", line === undefined ? label : `${label} (line ${line})`, line);
  };

  try {
    runtime.setMemoryLimit(memoryLimitBytes);
    runtime.setMaxStackSize(maxStackBytes);
    runtime.setInterruptHandler(() => {
      if (Date.now() > deadline) timedOut = true;
      return timedOut;
    });

    const logFn = keep(
      ctx.newFunction("log", (line) => {
        if (logs.length >= maxLogLines || logChars >= MAX_LOG_CHARS) {
          droppedLogs++;
          return;
        }
        const text = ctx.getString(line).slice(0, Math.min(MAX_LOG_LINE, MAX_LOG_CHARS - logChars));
        logChars += text.length;
        logs.push(text);
      }),
    );
    ctx.setProp(ctx.global, "__sandboxLog", logFn);

    const boot = ctx.evalCode(BOOTSTRAP, "sandbox.js");
    if (boot.error) throw fail(keep(boot.error));
    const runner = keep(boot.value);

    const compiled = ctx.evalCode(`${HEADER}${code}\n})`, CODE_FILE);
    if (compiled.error) throw fail(keep(compiled.error));
    const fn = keep(compiled.value);

    const called = ctx.callFunction(runner, ctx.undefined, fn, keep(ctx.newString(args)));
    if (called.error) throw fail(keep(called.error));
    const promise = keep(called.value);

    // Async code settles only as its jobs run; a deadline stops a job chain that never ends.
    while (runtime.hasPendingJob() && !timedOut) {
      const ran = runtime.executePendingJobs(64);
      if (ran.error) keep(ran.error);
    }
    if (timedOut) throw new SandboxError("CODE_TIMEOUT", `the code ran longer than ${timeoutMs} ms`);

    const state = ctx.getPromiseState(promise);
    if (state.type === "pending") {
      throw new SandboxError(
        "CODE_ERROR",
        "the code returned a promise that never settles (there are no timers)",
      );
    }
    if (state.type === "rejected") throw fail(keep(state.error));
    if (!state.notAPromise) keep(state.value);
    const text = ctx.getString(state.value);
    return { ok: true, text, logs: finishLogs(), durationMs: Date.now() - started };
  } catch (err) {
    let failure: SandboxError;
    if (err instanceof SandboxError) failure = err;
    else {
      // A RangeError here is the host's stack overflowing inside the guest: the module is unsafe to reuse.
      poisoned = true;
      failure =
        err instanceof RangeError
          ? new SandboxError("CODE_ERROR", "stack overflow")
          : new SandboxError("CODE_ERROR", err instanceof Error ? err.message : String(err));
    }
    return {
      ok: false,
      code: failure.code,
      message: failure.message,
      ...(failure.line === undefined ? {} : { line: failure.line }),
      logs: finishLogs(),
    };
  } finally {
    if (poisoned) {
      discardModule(memoryLimitBytes);
    } else {
      try {
        for (const h of handles.reverse()) if (h.alive) h.dispose();
        ctx.dispose();
        runtime.dispose();
      } catch {
        discardModule(memoryLimitBytes);
      }
    }
  }
}
