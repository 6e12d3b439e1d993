/**
 * The circuit breaker as pure functions of (record, policy, now), so the rules are tested without a table
 * or a timer. `closed` lets calls through and counts consecutive failures; at the threshold it turns
 * `open` and refuses calls until the cooldown has passed; then one caller wins the `half_open` probe
 * (the others are still refused); the probe's success closes the breaker, its failure opens it again. A
 * probe that never reports back (a worker that died) is given up after another cooldown, so a breaker
 * cannot stay half-open for ever.
 */

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before a probe is let through. */
  cooldownMs: number;
}

export interface BreakerRecord {
  state: BreakerState;
  failures: number;
  /** When the breaker last opened (epoch ms). */
  openedAt?: number;
  /** When the current probe was let through (epoch ms). */
  probeAt?: number;
  /** Bumped by every write; each write is conditional on the version read. */
  version: number;
}

export const CLOSED: BreakerRecord = { state: "closed", failures: 0, version: 0 };

export type Admission =
  | { kind: "pass" }
  | { kind: "probe"; next: BreakerRecord }
  | { kind: "reject"; retryInMs: number };

export function admit(record: BreakerRecord, policy: BreakerPolicy, now: number): Admission {
  if (record.state === "closed") return { kind: "pass" };
  const since = record.state === "open" ? (record.openedAt ?? 0) : (record.probeAt ?? 0);
  const due = since + policy.cooldownMs;
  if (now < due) return { kind: "reject", retryInMs: due - now };
  return {
    kind: "probe",
    next: { ...record, state: "half_open", probeAt: now, version: record.version + 1 },
  };
}

/** The record after a call that succeeded; undefined when nothing changes (the cheap, common case). */
export function afterSuccess(record: BreakerRecord): BreakerRecord | undefined {
  if (record.state === "closed" && record.failures === 0) return undefined;
  return { state: "closed", failures: 0, version: record.version + 1 };
}

/** The record after a call that failed: one more failure, or open again when it was the probe. */
export function afterFailure(record: BreakerRecord, policy: BreakerPolicy, now: number): BreakerRecord {
  const failures = record.failures + 1;
  // An open breaker that still saw a failure (a call admitted on a stale read) keeps its cooldown.
  if (record.state === "open") return { ...record, failures, version: record.version + 1 };
  if (record.state === "half_open" || failures >= policy.failureThreshold) {
    return { state: "open", failures, openedAt: now, version: record.version + 1 };
  }
  return { state: "closed", failures, version: record.version + 1 };
}
