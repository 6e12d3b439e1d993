import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import {
  type GuestAnswer,
  SANDBOX_DEFAULTS,
  SandboxError,
  type SandboxGlobals,
  type SandboxOptions,
  type SandboxResult,
} from "./sandbox-guest.ts";

export {
  MAX_LOG_CHARS,
  SandboxError,
  type SandboxErrorCode,
  type SandboxGlobals,
  type SandboxOptions,
  type SandboxResult,
} from "./sandbox-guest.ts";

/**
 * Code runs in QuickJS inside a worker thread, never on the caller's event loop: a `while (true) {}` spins
 * one worker while the API, the pollers and other jobs go on. QuickJS stops the guest at its deadline when
 * it polls its interrupt handler; a guest stuck in one long native call is stopped by terminating its
 * worker shortly after, and a fresh worker replaces it. Idle workers are kept and reused, so a run costs
 * one message each way, not a thread start.
 *
 * The worker runs this very module: `import.meta.url` is this file under tsx and the function's bundle on
 * Lambda, and the check at the bottom turns it into the worker's message loop.
 */

/**
 * No code step runs longer than this, whatever its timeoutSeconds: the worker Lambda (120 s) runs a batch
 * of up to 10 steps on at most POOL_SIZE workers, so three rounds of steps at the cap still finish inside
 * its timeout. A unit test keeps the two in step.
 */
export const CODE_STEP_MAX_MS = 30_000;
/** Time the guest gets past its deadline to stop itself before its worker is terminated. */
const TERMINATE_GRACE_MS = 250;
/** Workers that may run at once (later runs queue): a batch of 10 steps at the cap takes three rounds. */
export const POOL_SIZE = 4;
/** V8 heap of a worker (the guest's own memory is the WebAssembly memory, bounded apart from this). */
const WORKER_HEAP_MB = 128;
const WORKER_MARK = "switchboard-sandbox";

interface Job {
  code: string;
  globals: SandboxGlobals;
  opts: SandboxOptions;
  resolve: (answer: GuestAnswer) => void;
  reject: (error: unknown) => void;
}

interface PoolWorker {
  worker: Worker;
  ready: Promise<void>;
  busy: boolean;
}

const idle: PoolWorker[] = [];
const waiting: Job[] = [];
let live = 0;

function newWorker(): Worker {
  const options = {
    workerData: { [WORKER_MARK]: true },
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  };
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL(import.meta.url), options);
  // From source (tsx, the test runner), a worker does not inherit the TypeScript loader: it registers tsx's.
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  );
  const boot = `import(${JSON.stringify(tsx.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

function spawn(): PoolWorker {
  const worker = newWorker();
  worker.unref();
  live++;
  const ready = new Promise<void>((resolve, reject) => {
    const onError = (error: unknown) => reject(error);
    worker.once("error", onError);
    worker.once("message", (message: unknown) => {
      worker.off("error", onError);
      if ((message as { ready?: boolean }).ready === true) resolve();
      else reject(new Error("the sandbox worker did not start"));
    });
  });
  const entry: PoolWorker = { worker, ready, busy: false };
  worker.once("exit", () => {
    live--;
    const at = idle.indexOf(entry);
    if (at >= 0) idle.splice(at, 1);
    pump();
  });
  return entry;
}

function dispose(entry: PoolWorker): void {
  void entry.worker.terminate();
}

function release(entry: PoolWorker): void {
  entry.busy = false;
  idle.push(entry);
  pump();
}

/** Starts queued runs while there are idle workers or room for a new one. */
function pump(): void {
  while (waiting.length > 0) {
    let entry = idle.pop();
    if (entry === undefined) {
      if (live >= POOL_SIZE) return;
      entry = spawn();
    }
    const job = waiting.shift() as Job;
    entry.busy = true;
    void dispatch(entry, job);
  }
}

async function dispatch(entry: PoolWorker, job: Job): Promise<void> {
  try {
    await entry.ready;
  } catch (error) {
    dispose(entry);
    job.reject(error);
    return;
  }
  const timeoutMs = job.opts.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs;
  const { worker } = entry;
  let settled = false;
  const finish = (outcome: () => void) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    worker.off("message", onMessage);
    worker.off("error", onError);
    worker.off("exit", onExit);
    outcome();
  };
  const onMessage = (answer: GuestAnswer) =>
    finish(() => {
      job.resolve(answer);
      release(entry);
    });
  const onError = (error: Error) =>
    finish(() => {
      dispose(entry);
      // The worker's own V8 heap ran out: the guest is the only thing in it that grows.
      if ((error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY") {
        job.resolve({ ok: false, code: "CODE_MEMORY", message: "the code used too much memory", logs: [] });
      } else job.reject(error);
    });
  const onExit = () => finish(() => job.reject(new Error("the sandbox worker stopped")));
  const timer = setTimeout(
    () =>
      finish(() => {
        dispose(entry);
        job.resolve({
          ok: false,
          code: "CODE_TIMEOUT",
          message: `the code ran longer than ${timeoutMs} ms`,
          logs: [],
        });
      }),
    timeoutMs + TERMINATE_GRACE_MS,
  );
  worker.on("message", onMessage);
  worker.once("error", onError);
  worker.once("exit", onExit);
  worker.postMessage({ code: job.code, globals: job.globals, opts: job.opts });
}

/**
 * An own `__proto__` key is harmless in JSON but turns into a prototype swap the moment host code copies the
 * object with Object.assign or a for-in loop, so guest output never carries one.
 */
function dropProtoKeys(key: string, value: unknown): unknown {
  return key === "__proto__" ? undefined : value;
}

/** The time a run gets: what it asks for, never more than CODE_STEP_MAX_MS. */
export function codeTimeoutMs(opts: Pick<SandboxOptions, "timeoutMs">): number {
  return Math.max(1, Math.min(opts.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs, CODE_STEP_MAX_MS));
}

/**
 * Runs `code` (the body of a function of input, item, index, attempt, steps) in the sandbox and returns
 * its JSON result and console lines. Throws SandboxError for anything the code did wrong.
 */
export async function runCode(
  code: string,
  globals: SandboxGlobals = {},
  opts: SandboxOptions = {},
): Promise<SandboxResult> {
  const timeoutMs = codeTimeoutMs(opts);
  const answer = await new Promise<GuestAnswer>((resolve, reject) => {
    waiting.push({ code, globals, opts: { ...opts, timeoutMs }, resolve, reject });
    pump();
  });
  if (!answer.ok) {
    const error = new SandboxError(answer.code, answer.message, answer.line);
    error.logs = answer.logs;
    throw error;
  }
  return { output: JSON.parse(answer.text, dropProtoKeys), logs: answer.logs, durationMs: answer.durationMs };
}

/** Whether a sandbox worker is up or starting, so a run now pays no thread start. */
export function sandboxWarm(): boolean {
  return idle.length > 0 || live > 0;
}

/** Starts a worker and loads QuickJS into it ahead of the first run (cold start). */
export async function warmSandbox(): Promise<void> {
  if (idle.length > 0 || live >= POOL_SIZE) return;
  const entry = spawn();
  await entry.ready;
  idle.push(entry);
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const { runInQuickJs, warmQuickJs } = await import("./sandbox-guest.ts");
  await warmQuickJs();
  port.on("message", (task: { code: string; globals: SandboxGlobals; opts: SandboxOptions }) => {
    // One run at a time: the host sends the next only after this answer.
    void runInQuickJs(task.code, task.globals, task.opts).then(
      (answer) => port.postMessage(answer),
      (error: unknown) =>
        port.postMessage({
          ok: false,
          code: "CODE_ERROR",
          message: error instanceof Error ? error.message : String(error),
          logs: [],
        } satisfies GuestAnswer),
    );
  });
  port.postMessage({ ready: true });
}

if (!isMainThread && (workerData as Record<string, unknown> | null)?.[WORKER_MARK] === true) void serve();
