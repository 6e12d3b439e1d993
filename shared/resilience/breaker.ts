import { ENV, numberEnv } from "../config.ts";
import { logger } from "../observability.ts";
import {
  admit,
  afterFailure,
  afterSuccess,
  type BreakerPolicy,
  type BreakerRecord,
} from "./breaker-state.ts";
import { type BreakerEndpoint, readBreaker, writeBreaker } from "./breaker-store.ts";

export type { BreakerEndpoint } from "./breaker-store.ts";

/**
 * Calls to model providers, MCP servers and custom HTTP tools pass through a breaker per endpoint and
 * tenant, whose state lives in the table, so every worker (many Lambdas at once) sees the same one.
 * A healthy endpoint costs one eventually consistent read per call and no write. The breaker protects;
 * it is not a dependency: when its own item cannot be read or written, the call goes ahead and the
 * miss is logged.
 */

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_COOLDOWN_SECONDS = 30;
/** Conditional writes lost to other workers before this one gives up recording its outcome. */
const MAX_WRITE_ATTEMPTS = 4;

/** Read on every call, so operators (and tests) can change it without a restart. */
export function breakerPolicy(): BreakerPolicy {
  return {
    failureThreshold: Math.max(1, numberEnv(ENV.breakerFailures, DEFAULT_FAILURE_THRESHOLD)),
    cooldownMs: Math.max(0, numberEnv(ENV.breakerCooldownSeconds, DEFAULT_COOLDOWN_SECONDS)) * 1000,
  };
}

export class CircuitOpenError extends Error {
  override readonly name = "CircuitOpenError";
  readonly code = "CIRCUIT_OPEN";
  constructor(
    readonly endpoint: BreakerEndpoint,
    readonly retryInMs: number,
  ) {
    super(
      `The circuit breaker for ${endpoint.target} is open after repeated failures; the next probe is allowed in ${Math.ceil(retryInMs / 1000)} s`,
    );
  }
}

export interface BreakerOptions<T> {
  /** Whether a thrown error says the endpoint is unhealthy (a refused argument does not). */
  failed: (error: unknown) => boolean;
  /** Whether a returned value says so (an HTTP 503 the tool returns rather than throws). */
  failedResult?: (value: T) => boolean;
  /** A short description of the failure kept on the breaker, for the System page. Never a secret. */
  describe?: (outcome: { error?: unknown; value?: T }) => string | undefined;
  now?: () => number;
  policy?: BreakerPolicy;
}

async function record(
  endpoint: BreakerEndpoint,
  first: BreakerRecord,
  step: (current: BreakerRecord) => BreakerRecord | undefined,
  lastError?: string,
): Promise<void> {
  let current = first;
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const next = step(current);
    if (next === undefined) return;
    if (await writeBreaker(endpoint, current.version, next, lastError)) return;
    current = await readBreaker(endpoint, true);
  }
  logger.warn("Breaker outcome not recorded: too many concurrent writers", {
    kind: endpoint.kind,
    target: endpoint.target,
  });
}

/** Runs `call` if the endpoint's breaker lets it, and records how it went. Open: CircuitOpenError. */
export async function throughBreaker<T>(
  endpoint: BreakerEndpoint,
  call: () => Promise<T>,
  options: BreakerOptions<T>,
): Promise<T> {
  const now = options.now ?? Date.now;
  const policy = options.policy ?? breakerPolicy();
  let seen: BreakerRecord;
  try {
    seen = await readBreaker(endpoint);
    const admission = admit(seen, policy, now());
    if (admission.kind === "reject") throw new CircuitOpenError(endpoint, admission.retryInMs);
    if (admission.kind === "probe") {
      if (!(await writeBreaker(endpoint, seen.version, admission.next))) {
        // Another worker took the probe (or changed the breaker): this call waits its turn.
        const again = await readBreaker(endpoint, true);
        const retry = admit(again, policy, now());
        throw new CircuitOpenError(endpoint, retry.kind === "reject" ? retry.retryInMs : policy.cooldownMs);
      }
      seen = admission.next;
    }
  } catch (error) {
    if (error instanceof CircuitOpenError) throw error;
    logger.warn("Breaker state unavailable; the call goes ahead unguarded", {
      kind: endpoint.kind,
      target: endpoint.target,
      error: (error as Error).name,
    });
    return call();
  }

  const settle = (failed: boolean, lastError?: string) =>
    record(
      endpoint,
      seen,
      (current) => (failed ? afterFailure(current, policy, now()) : afterSuccess(current)),
      lastError,
    ).catch((error: Error) => {
      logger.warn("Breaker outcome not recorded", {
        kind: endpoint.kind,
        target: endpoint.target,
        error: error.name,
      });
    });

  let value: T;
  try {
    value = await call();
  } catch (error) {
    if (options.failed(error)) await settle(true, options.describe?.({ error }));
    else await settle(false);
    throw error;
  }
  if (options.failedResult?.(value) === true) await settle(true, options.describe?.({ value }));
  else await settle(false);
  return value;
}
