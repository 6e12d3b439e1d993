import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "#events/timeline";
import { deliveryIdFor, nextAttemptDelay, notificationOf, signature } from "#shared/notifications/derive";

const at = "2026-12-01T10:00:00.000Z";
const base = { jobId: "j_1", seq: 7, at };

describe("notificationOf", () => {
  it("turns an approval request into approval.requested", () => {
    const event: TimelineEvent = {
      ...base,
      type: "approval.requested",
      approvalId: "ap_1",
      nodeId: "gate",
      message: "Ship?",
      confidence: 0.4,
    };
    expect(notificationOf("t1", event)).toEqual({
      type: "approval.requested",
      at,
      tenantId: "t1",
      jobId: "j_1",
      seq: 7,
      nodeId: "gate",
      approvalId: "ap_1",
      message: "Ship?",
      confidence: 0.4,
    });
  });

  it("turns a failed job, and only a failed one, into job.failed", () => {
    const failed: TimelineEvent = {
      ...base,
      type: "job.status_changed",
      status: "failed",
      previousStatus: "running",
      error: { code: "CODE_ERROR", message: "kaput" },
    };
    expect(notificationOf("t1", failed)).toMatchObject({ type: "job.failed", error: { code: "CODE_ERROR" } });
    const succeeded: TimelineEvent = { ...base, type: "job.status_changed", status: "succeeded" };
    expect(notificationOf("t1", succeeded)).toBeUndefined();
  });

  it("reads the engine's approval.notice note as review.notified, with its confidence", () => {
    const note: TimelineEvent = {
      ...base,
      type: "job.note",
      nodeId: "write",
      message: "approval.notice: write went on with confidence 0.8 (auto-approve at 0.9)",
    };
    expect(notificationOf("t1", note)).toMatchObject({
      type: "review.notified",
      nodeId: "write",
      confidence: 0.8,
      message: "write went on with confidence 0.8 (auto-approve at 0.9)",
    });
    expect(notificationOf("t1", { ...base, type: "job.note", message: "something else" })).toBeUndefined();
  });

  it("ignores step changes", () => {
    const step: TimelineEvent = {
      ...base,
      type: "step.status_changed",
      nodeId: "a",
      status: "failed",
      attempt: 1,
    };
    expect(notificationOf("t1", step)).toBeUndefined();
  });
});

describe("signature", () => {
  it("is the hex HMAC-SHA256 of the raw body with the secret", () => {
    const body = '{"type":"job.failed"}';
    expect(signature("s3cret", body)).toBe(
      `sha256=${createHmac("sha256", "s3cret").update(body).digest("hex")}`,
    );
    expect(signature("other", body)).not.toBe(signature("s3cret", body));
  });
});

describe("deliveryIdFor", () => {
  it("is the same for the same target and event, different otherwise, and sorts by event time", () => {
    const one = deliveryIdFor("nt_a", base);
    expect(deliveryIdFor("nt_a", base)).toBe(one);
    expect(deliveryIdFor("nt_b", base)).not.toBe(one);
    expect(deliveryIdFor("nt_a", { ...base, seq: 8 })).not.toBe(one);
    const later = deliveryIdFor("nt_a", { ...base, at: "2026-12-01T10:00:01.000Z" });
    expect(later > one).toBe(true);
  });
});

describe("nextAttemptDelay", () => {
  const policy = { baseSeconds: 30, maxAttempts: 5, maxDelaySeconds: 900 };
  it("doubles from the base after each failure and gives up after the last attempt", () => {
    expect([1, 2, 3, 4].map((n) => nextAttemptDelay(policy, n))).toEqual([30, 60, 120, 240]);
    expect(nextAttemptDelay(policy, 5)).toBeUndefined();
  });
  it("never waits longer than SQS can delay a message", () => {
    expect(nextAttemptDelay({ ...policy, maxAttempts: 20 }, 10)).toBe(900);
  });
});
