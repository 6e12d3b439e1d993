import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import { type FunctionName, type FunctionSpec, manifest } from "#infra/manifest";
import { createLambdaContext } from "./lambda-context.ts";
import { describeError, type Logger } from "./log.ts";

export type LambdaHandler = (
  // biome-ignore lint/suspicious/noExplicitAny: a handler takes whatever event its trigger sends.
  event: any,
  context: Context,
  callback?: (error?: unknown, result?: unknown) => void,
) => unknown;
export type FunctionOverrides = Partial<Record<FunctionName, LambdaHandler>>;

type Loaded = { handler: LambdaHandler } | { error: Error };

function runtimeError(name: string, message: string, cause?: unknown): Error {
  const error = new Error(message, { cause });
  error.name = name;
  return error;
}

/**
 * The functions of the manifest, run in this process. Each one is imported once, as a Lambda cold start
 * would, and invoked with a `Context` whose deadline is the manifest's timeout.
 */
export class FunctionRunner {
  private readonly loaded = new Map<FunctionName, Loaded>();

  constructor(
    private readonly options: {
      root: string;
      region: string;
      overrides: FunctionOverrides;
      /** When false, only overridden functions exist (tests that must not import application code). */
      loadEntries: boolean;
      /** Seconds, per function, instead of the manifest's timeout (tests that cannot wait minutes). */
      timeouts?: Partial<Record<FunctionName, number>>;
      log: Logger;
    },
  ) {}

  /**
   * Imports every entry point now, so a broken one shows at start rather than on first use. A function that
   * fails to import stays broken, and each invocation fails as `Runtime.ImportModuleError` does in Lambda.
   */
  async loadAll(): Promise<void> {
    const names = Object.keys(manifest.functions) as FunctionName[];
    await Promise.all(names.map((name) => this.load(name)));
  }

  private async load(name: FunctionName): Promise<Loaded> {
    const cached = this.loaded.get(name);
    if (cached) return cached;
    const override = this.options.overrides[name];
    let loaded: Loaded;
    if (override) {
      loaded = { handler: override };
    } else if (!this.options.loadEntries) {
      loaded = {
        error: runtimeError("Runtime.HandlerNotFound", `No handler for ${name}: entries are not loaded`),
      };
    } else {
      const entry = manifest.functions[name].entry;
      try {
        const module = (await import(pathToFileURL(resolve(this.options.root, entry)).href)) as {
          handler?: unknown;
        };
        loaded =
          typeof module.handler === "function"
            ? { handler: module.handler as LambdaHandler }
            : {
                error: runtimeError("Runtime.HandlerNotFound", `${entry} does not export a handler function`),
              };
      } catch (error) {
        loaded = { error: runtimeError("Runtime.ImportModuleError", `${entry} failed to load`, error) };
      }
      if ("error" in loaded) {
        const cause =
          loaded.error.cause === undefined ? "" : `: ${describeError(loaded.error.cause).split("\n")[0]}`;
        this.options.log.error(`${name}: ${loaded.error.message}${cause}`);
      }
    }
    this.loaded.set(name, loaded);
    return loaded;
  }

  /**
   * Invokes a function and returns what it returned; throws what it threw (a Lambda function error). At
   * the function's timeout the invocation fails with Lambda's `Sandbox.Timedout`, whatever the handler
   * does afterwards: its late result is dropped, so a queue message it was working on is not deleted and
   * comes back when its visibility timeout ends. Code cannot be stopped in-process, so the handler runs on
   * in the background; the twin only says so.
   */
  async invoke<T = unknown>(name: FunctionName, event: unknown): Promise<T> {
    const loaded = await this.load(name);
    if ("error" in loaded) throw loaded.error;
    const manifestSpec: FunctionSpec = manifest.functions[name];
    const timeoutSeconds = this.options.timeouts?.[name] ?? manifestSpec.timeoutSeconds;
    const spec = { ...manifestSpec, timeoutSeconds };
    const context = createLambdaContext(name, spec, this.options.region);
    const run = new Promise<T>((resolvePromise, reject) => {
      const callback = (error?: unknown, result?: unknown) =>
        error ? reject(error) : resolvePromise(result as T);
      const returned = loaded.handler(event, context, callback);
      if (
        returned !== null &&
        typeof returned === "object" &&
        typeof (returned as Promise<T>).then === "function"
      ) {
        (returned as Promise<T>).then(resolvePromise, reject);
      } else if (loaded.handler.length < 3) {
        resolvePromise(returned as T);
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.options.log.warn(
          `${name} (${context.awsRequestId}) timed out after ${timeoutSeconds}s; its result will be ignored`,
        );
        reject(runtimeError("Sandbox.Timedout", `Task timed out after ${timeoutSeconds.toFixed(2)} seconds`));
      }, timeoutSeconds * 1000);
    });
    try {
      return await Promise.race([run, timedOut]);
    } finally {
      clearTimeout(timer);
      // A handler that settles after its timeout must not surface as an unhandled rejection.
      run.catch(() => undefined);
    }
  }
}
