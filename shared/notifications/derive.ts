import { createHash, createHmac } from "node:crypto";
import type { Notification } from "#events/notifications";
import type { TimelineEvent } from "#events/timeline";

/** The engine's timeline note for a result that went on between `notifyAt` and `autoApproveAt`. */
const REVIEW_NOTICE = /^approval\.notice: (.*)$/s;
const NOTICE_CONFIDENCE = /with confidence (-?\d+(?:\.\d+)?(?:e-?\d+)?)/i;

/**
 * Which notification, if any, a timeline event is. Derived from the job's change stream, so the engine
 * writes nothing for notifications: approvals it already records as events, a failed job is a status
 * change, and a review between the two thresholds is the engine's `approval.notice` note.
 */
export function notificationOf(tenantId: string, event: TimelineEvent): Notification | undefined {
  const base = { at: event.at, tenantId, jobId: event.jobId, seq: event.seq };
  switch (event.type) {
    case "approval.requested":
      return {
        ...base,
        type: "approval.requested",
        nodeId: event.nodeId,
        approvalId: event.approvalId,
        message: event.message,
        ...(event.confidence === undefined ? {} : { confidence: event.confidence }),
      };
    case "job.status_changed":
      if (event.status !== "failed") return undefined;
      return { ...base, type: "job.failed", ...(event.error === undefined ? {} : { error: event.error }) };
    case "job.note": {
      const notice = REVIEW_NOTICE.exec(event.message);
      if (notice === null) return undefined;
      const confidence = NOTICE_CONFIDENCE.exec(event.message);
      return {
        ...base,
        type: "review.notified",
        ...(event.nodeId === undefined ? {} : { nodeId: event.nodeId }),
        message: notice[1] ?? event.message,
        ...(confidence?.[1] === undefined ? {} : { confidence: Number(confidence[1]) }),
      };
    }
    default:
      return undefined;
  }
}

/** `sha256=<hex>`: the HMAC-SHA256 of the exact bytes sent, keyed with the target's secret. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/**
 * One delivery per target and event, whatever the number of times the stream hands the event over: the id
 * is a hash of both, after the event's time so a target's deliveries list in order.
 */
export function deliveryIdFor(targetId: string, notification: Pick<Notification, "jobId" | "seq" | "at">) {
  const hash = createHash("sha256")
    .update(`${targetId}|${notification.jobId}|${notification.seq}`)
    .digest("hex")
    .slice(0, 16);
  return `dl_${Date.parse(notification.at).toString(36).padStart(9, "0")}${hash}`;
}

export interface RetryPolicy {
  baseSeconds: number;
  maxAttempts: number;
  maxDelaySeconds: number;
}

/**
 * After the `attempts`-th failed attempt: wait `baseSeconds × 2^(attempts-1)`, capped (SQS delays a message
 * by at most 15 minutes), or give up once `maxAttempts` were made.
 */
export function nextAttemptDelay(policy: RetryPolicy, attempts: number): number | undefined {
  if (attempts >= policy.maxAttempts) return undefined;
  return Math.min(policy.maxDelaySeconds, Math.ceil(policy.baseSeconds * 2 ** Math.max(0, attempts - 1)));
}
