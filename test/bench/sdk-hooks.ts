/**
 * One middleware on every AWS SDK v3 client in this process, so the bench can meter and the chaos suite can
 * inject faults without touching application code. The twin runs the handlers in-process, so patching the
 * smithy `Client.prototype.send` that every client inherits reaches the application's clients too: on a
 * client's first send, a middleware is added to its stack that runs the registered hooks around the call.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { Client as EsmClient } from "@smithy/core/client";
import { FunctionRunner } from "#infra/local/functions";
import type { FunctionName } from "#infra/manifest";

export interface SdkCall {
  /** `DynamoDBClient`, `SQSClient`, `ApiGatewayManagementApiClient`, … */
  clientName: string;
  /** `TransactWriteItemsCommand`, `SendMessageBatchCommand`, … */
  commandName: string;
  /** The command's input; a hook may change it before the call goes out. */
  input: Record<string, unknown>;
}

/** Runs around one SDK call: may change the input, throw instead of calling, or look at the output. */
export type SdkHook = (
  call: SdkCall,
  next: () => Promise<{ output: unknown }>,
) => Promise<{ output: unknown }>;

/** Around the whole call (the SDK's retries included), and around each attempt (inside the retry loop). */
const hooks = { call: new Map<string, SdkHook>(), attempt: new Map<string, SdkHook>() };
const INSTALLED = Symbol.for("switchboard.bench.sdkHooks");

type Stack = { add(middleware: unknown, options: Record<string, unknown>): void; [INSTALLED]?: true };
type ClientPrototype = {
  send: (this: { middlewareStack: Stack }, ...args: unknown[]) => unknown;
  [INSTALLED]?: true;
};

const middlewareFor =
  (registry: Map<string, SdkHook>) =>
  (
    next: (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>,
    context: Record<string, unknown>,
  ) =>
  (args: { input: Record<string, unknown> }) => {
    const call: SdkCall = {
      clientName: String(context.clientName ?? "unknown"),
      commandName: String(context.commandName ?? "unknown"),
      input: args.input,
    };
    const chain = [...registry.values()].reduceRight<() => Promise<{ output: unknown }>>(
      (inner, hook) => () => hook(call, inner),
      () => next({ ...args, input: call.input }),
    );
    return chain();
  };

function patch(prototype: ClientPrototype): void {
  if (prototype[INSTALLED]) return;
  prototype[INSTALLED] = true;
  const send = prototype.send;
  prototype.send = function (this: { middlewareStack: Stack }, ...args: unknown[]) {
    const stack = this.middlewareStack;
    if (!stack[INSTALLED]) {
      stack[INSTALLED] = true;
      stack.add(middlewareFor(hooks.call), {
        step: "initialize",
        name: "switchboardCallHooks",
        priority: "low",
        override: true,
      });
      // The retry middleware is a high-priority finalizeRequest step; a low-priority one runs inside its loop.
      stack.add(middlewareFor(hooks.attempt), {
        step: "finalizeRequest",
        name: "switchboardAttemptHooks",
        priority: "low",
        override: true,
      });
    }
    return send.apply(this, args);
  };
}

/** Patches the ESM and the CommonJS copy of smithy's Client, so a client from either kind of import is seen. */
export function installSdkHooks(): void {
  patch(EsmClient.prototype as unknown as ClientPrototype);
  const { Client: CjsClient } = createRequire(import.meta.url)("@smithy/core/client") as {
    Client: { prototype: unknown };
  };
  patch(CjsClient.prototype as ClientPrototype);
}

/**
 * Registers a hook; `attempt` hooks run once per try inside the SDK's retry loop, so an error they throw is
 * retried as a real one would be (a throttling error with backoff). Returns the function that removes it.
 */
export function addSdkHook(name: string, hook: SdkHook, where: "call" | "attempt" = "call"): () => void {
  installSdkHooks();
  hooks[where].set(name, hook);
  return () => hooks[where].delete(name);
}

/** Which function invocation an SDK call belongs to, set on the twin's invoke path by `scopeInvocations`. */
export const invocationScope = new AsyncLocalStorage<{ function: string; event?: unknown }>();

export interface Invocation {
  name: FunctionName;
  event: unknown;
  ms: number;
  error?: unknown;
}

const invocationListeners = new Set<(invocation: Invocation) => void>();

/**
 * Wraps the twin's `FunctionRunner.invoke`, which every trigger (gateway, pollers, schedules) goes through:
 * SDK calls made during an invocation know their function, and listeners hear of every invocation.
 */
export function scopeInvocations(): void {
  const prototype = FunctionRunner.prototype as unknown as {
    invoke: (this: FunctionRunner, name: FunctionName, event: unknown) => Promise<unknown>;
    [INSTALLED]?: true;
  };
  if (prototype[INSTALLED]) return;
  prototype[INSTALLED] = true;
  const invoke = prototype.invoke;
  prototype.invoke = function (name, event) {
    const started = performance.now();
    return invocationScope.run({ function: name, event }, async () => {
      let error: unknown;
      try {
        return await invoke.call(this, name, event);
      } catch (thrown) {
        error = thrown;
        throw thrown;
      } finally {
        const invocation: Invocation = {
          name,
          event,
          ms: performance.now() - started,
          ...(error === undefined ? {} : { error }),
        };
        for (const listener of invocationListeners) listener(invocation);
      }
    });
  };
}

export function onInvocation(listener: (invocation: Invocation) => void): () => void {
  scopeInvocations();
  invocationListeners.add(listener);
  return () => invocationListeners.delete(listener);
}
