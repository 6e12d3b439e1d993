import { describe, expect, it } from "vitest";
import {
  admit,
  afterFailure,
  afterSuccess,
  type BreakerRecord,
  CLOSED,
} from "#shared/resilience/breaker-state";

const policy = { failureThreshold: 3, cooldownMs: 10_000 };

function failTimes(record: BreakerRecord, times: number, now: number): BreakerRecord {
  let current = record;
  for (let i = 0; i < times; i++) current = afterFailure(current, policy, now);
  return current;
}

describe("breaker state machine", () => {
  it("lets calls through while closed, counting consecutive failures below the threshold", () => {
    const twice = failTimes(CLOSED, 2, 1_000);
    expect(twice).toEqual({ state: "closed", failures: 2, version: 2 });
    expect(admit(twice, policy, 1_000)).toEqual({ kind: "pass" });
  });

  it("opens at the threshold and refuses calls until the cooldown has passed", () => {
    const open = failTimes(CLOSED, 3, 5_000);
    expect(open).toMatchObject({ state: "open", failures: 3, openedAt: 5_000 });
    expect(admit(open, policy, 5_000)).toEqual({ kind: "reject", retryInMs: 10_000 });
    expect(admit(open, policy, 14_999)).toEqual({ kind: "reject", retryInMs: 1 });
  });

  it("lets one probe through after the cooldown, as half-open", () => {
    const open = failTimes(CLOSED, 3, 5_000);
    const admission = admit(open, policy, 15_000);
    expect(admission).toEqual({
      kind: "probe",
      next: { ...open, state: "half_open", probeAt: 15_000, version: open.version + 1 },
    });
    const half = (admission as { next: BreakerRecord }).next;
    expect(admit(half, policy, 15_001)).toEqual({ kind: "reject", retryInMs: 9_999 });
  });

  it("closes on the probe's success and resets the count", () => {
    const half: BreakerRecord = { state: "half_open", failures: 3, openedAt: 0, probeAt: 10_000, version: 4 };
    expect(afterSuccess(half)).toEqual({ state: "closed", failures: 0, version: 5 });
  });

  it("opens again, with a new cooldown, on the probe's failure", () => {
    const half: BreakerRecord = { state: "half_open", failures: 3, openedAt: 0, probeAt: 10_000, version: 4 };
    const reopened = afterFailure(half, policy, 10_500);
    expect(reopened).toMatchObject({ state: "open", openedAt: 10_500, version: 5 });
    expect(admit(reopened, policy, 20_499).kind).toBe("reject");
    expect(admit(reopened, policy, 20_500).kind).toBe("probe");
  });

  it("gives up on a probe that never reported back after another cooldown", () => {
    const stuck: BreakerRecord = {
      state: "half_open",
      failures: 3,
      openedAt: 0,
      probeAt: 10_000,
      version: 4,
    };
    expect(admit(stuck, policy, 19_999).kind).toBe("reject");
    expect(admit(stuck, policy, 20_000)).toMatchObject({ kind: "probe", next: { probeAt: 20_000 } });
  });

  it("resets the count on a success, so only consecutive failures open it", () => {
    const twice = failTimes(CLOSED, 2, 0);
    const reset = afterSuccess(twice) as BreakerRecord;
    expect(reset).toEqual({ state: "closed", failures: 0, version: 3 });
    expect(failTimes(reset, 2, 0).state).toBe("closed");
  });

  it("writes nothing for a success on a healthy endpoint", () => {
    expect(afterSuccess(CLOSED)).toBeUndefined();
  });

  it("keeps an open breaker's cooldown when a call admitted on a stale read fails", () => {
    const open = failTimes(CLOSED, 3, 1_000);
    const later = afterFailure(open, policy, 4_000);
    expect(later).toMatchObject({ state: "open", openedAt: 1_000, failures: 4 });
  });
});
