import { SendMessageBatchCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type {
  CreateNotificationTargetRequest,
  DeliveryMessage,
  Notification,
  NotificationTarget,
} from "#events/notifications";
import { NOTIFICATION_EVENT_TYPES } from "#events/notifications";
import type { NotificationFrame } from "#events/ws";
import { subscribersAllowed } from "../auth/ownership.ts";
import { sqsClient } from "../aws.ts";
import { ENV, numberEnv, requireEnv } from "../config.ts";
import { notFound } from "../errors.ts";
import type { Principal } from "../http/api.ts";
import { newId, randomToken } from "../ids.ts";
import { logger } from "../observability.ts";
import { seal, unseal } from "../secrets/envelope.ts";
import { sendToConnection } from "../sockets.ts";
import { deleteConnection, listeningSubscribers } from "../stores/connections.ts";
import {
  getDelivery,
  getTarget,
  insertDelivery,
  publicTarget,
  putTarget,
  recordAttempt,
  type StoredDelivery,
  type StoredTarget,
  targetsFor,
} from "../stores/notifications.ts";
import { EgressError, egressRequest, readBody } from "../tools/egress.ts";
import { deliveryIdFor, nextAttemptDelay, type RetryPolicy, signature } from "./derive.ts";
import { publishToTopic } from "./topic.ts";

/** A receiver has this long to answer; webhook receivers are expected to queue the work and answer at once. */
export const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_ERROR_CHARS = 500;

export function retryPolicy(): RetryPolicy {
  return {
    baseSeconds: numberEnv(ENV.notifyRetryBaseSeconds, 30),
    maxAttempts: numberEnv(ENV.notifyMaxAttempts, 8),
    maxDelaySeconds: 900,
  };
}

const secretContext = (tenantId: string, targetId: string) => ({
  tenantId,
  name: `notification-target:${targetId}`,
});

export async function createTarget(
  principal: Pick<Principal, "tenantId" | "principalId">,
  body: CreateNotificationTargetRequest,
  now = new Date(),
): Promise<NotificationTarget & { secret: string }> {
  const id = newId("nt_", now.getTime());
  const secret = `whsec_${randomToken(32)}`;
  const target: StoredTarget = {
    id,
    tenantId: principal.tenantId,
    type: "webhook",
    url: body.url,
    events: body.events ?? [...NOTIFICATION_EVENT_TYPES],
    ...(body.description === undefined ? {} : { description: body.description }),
    createdAt: now.toISOString(),
    createdBy: principal.principalId,
    secret: await seal(secret, secretContext(principal.tenantId, id)),
  };
  await putTarget(target);
  return { ...publicTarget(target), secret };
}

async function sendDeliveryMessages(messages: { message: DeliveryMessage; delaySeconds: number }[]) {
  const QueueUrl = requireEnv(ENV.notificationsQueueUrl);
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const result = await sqsClient().send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: chunk.map((entry, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(entry.message),
          DelaySeconds: Math.max(0, Math.min(900, Math.ceil(entry.delaySeconds))),
        })),
      }),
    );
    if (result.Failed !== undefined && result.Failed.length > 0) {
      throw new Error(
        `SQS refused ${result.Failed.length} notification message(s): ${result.Failed[0]?.Code}`,
      );
    }
  }
}

/**
 * Hands one notification to every target that wants it (a recorded delivery and a queue message each), to
 * the job's WebSocket subscribers, and to the stage's SNS topic. Safe to repeat: the delivery ids come
 * from the target and the event, so a repeat finds its deliveries already recorded and only queues them
 * again, which the notifier ignores once they are settled.
 */
export async function dispatchNotification(notification: Notification, now = new Date()): Promise<number> {
  const targets = await targetsFor(notification.tenantId, notification.type);
  const body = JSON.stringify(notification);
  const messages: { message: DeliveryMessage; delaySeconds: number }[] = [];
  for (const target of targets) {
    const id = deliveryIdFor(target.id, notification);
    const delivery: StoredDelivery = {
      id,
      tenantId: notification.tenantId,
      targetId: target.id,
      type: notification.type,
      jobId: notification.jobId,
      status: "pending",
      attempts: 0,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      body,
    };
    await insertDelivery(delivery, now);
    messages.push({
      message: { tenantId: notification.tenantId, targetId: target.id, deliveryId: id },
      delaySeconds: 0,
    });
  }
  await sendDeliveryMessages(messages);
  await Promise.all([pushToSockets(notification), publishToTopic(notification)]);
  return messages.length;
}

/** `approval.requested` already reaches the sockets as a timeline event; the other two are sent here. */
async function pushToSockets(notification: Notification): Promise<void> {
  if (notification.type === "approval.requested") return;
  const { tenantId, jobId, seq: _seq, tenantId: _tenant, ...rest } = notification;
  const frame: NotificationFrame = { ...rest, jobId, type: notification.type };
  const subscribers = await subscribersAllowed(tenantId, jobId, await listeningSubscribers(tenantId, jobId));
  await Promise.all(
    subscribers.map(async ({ connectionId }) => {
      if ((await sendToConnection(connectionId, frame)) === "gone") {
        await deleteConnection(tenantId, connectionId);
      }
    }),
  );
}

/** `POST /v1/notification-targets/{id}/test`: a delivery like any other, of type `test`. */
export async function sendTestDelivery(tenantId: string, targetId: string, now = new Date()) {
  const target = await getTarget(tenantId, targetId);
  if (target === undefined) throw notFound("Notification target", targetId);
  const id = newId("dl_", now.getTime());
  const body = JSON.stringify({ type: "test", at: now.toISOString(), tenantId, targetId });
  const delivery: StoredDelivery = {
    id,
    tenantId,
    targetId,
    type: "test",
    status: "pending",
    attempts: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    body,
  };
  await insertDelivery(delivery, now);
  await sendDeliveryMessages([{ message: { tenantId, targetId, deliveryId: id }, delaySeconds: 0 }]);
  return { deliveryId: id, status: "pending" as const };
}

interface AttemptResult {
  ok: boolean;
  statusCode?: number;
  error?: string;
  /** A receiver's `Retry-After`, in seconds. */
  retryAfter?: number;
  /** Never worth another attempt (the egress guard refused the address). */
  final?: boolean;
}

function retryAfterSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

async function post(target: StoredTarget, delivery: StoredDelivery, secret: string): Promise<AttemptResult> {
  try {
    const response = await egressRequest({
      url: target.url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "switchboard-notifications/1",
        "x-switchboard-signature": signature(secret, delivery.body),
        "x-switchboard-event": delivery.type,
        "x-switchboard-delivery": delivery.id,
      },
      body: delivery.body,
      timeoutMs: DELIVERY_TIMEOUT_MS,
      maxRedirects: 0,
    });
    const { body } = await readBody(response.stream, 4096);
    if (response.status >= 200 && response.status < 300) return { ok: true, statusCode: response.status };
    const retryAfter = retryAfterSeconds(response.headers["retry-after"]);
    return {
      ok: false,
      statusCode: response.status,
      error: `HTTP ${response.status}: ${body.toString("utf8").slice(0, MAX_ERROR_CHARS)}`,
      ...(retryAfter === undefined ? {} : { retryAfter }),
    };
  } catch (error) {
    const message = (error as Error).message.slice(0, MAX_ERROR_CHARS);
    if (error instanceof EgressError && error.code === "EGRESS_DENIED")
      return { ok: false, error: message, final: true };
    return { ok: false, error: message };
  }
}

/**
 * One attempt at one delivery, from its queue message. Success or failure is recorded on the delivery; a
 * failure that may pass is queued again after the backoff (or the receiver's `Retry-After`, when longer).
 * Throws only when it could not record, so the message comes back and, after the queue's receives, is parked
 * in its DLQ.
 */
export async function attemptDelivery(message: DeliveryMessage, now = new Date()): Promise<void> {
  const delivery = await getDelivery(message.tenantId, message.targetId, message.deliveryId);
  if (delivery === undefined || delivery.status !== "pending") return;
  const at = now.toISOString();
  const target = await getTarget(message.tenantId, message.targetId);
  if (target === undefined) {
    await recordAttempt(delivery, { status: "failed", lastError: "The notification target was deleted", at });
    return;
  }
  const secret = await unseal(target.secret, secretContext(target.tenantId, target.id));
  const result = await post(target, delivery, secret);
  if (result.ok) {
    await recordAttempt(delivery, { status: "delivered", lastStatusCode: result.statusCode, at });
    return;
  }
  const delay = result.final ? undefined : nextAttemptDelay(retryPolicy(), delivery.attempts + 1);
  const wait = delay === undefined ? undefined : Math.min(900, Math.max(delay, result.retryAfter ?? 0));
  const recorded = await recordAttempt(delivery, {
    status: wait === undefined ? "failed" : "pending",
    lastStatusCode: result.statusCode,
    lastError: result.error,
    nextAttemptAt: wait === undefined ? undefined : new Date(now.getTime() + wait * 1000).toISOString(),
    at,
  });
  if (!recorded) return;
  logger.info("Notification delivery failed", {
    deliveryId: delivery.id,
    targetId: target.id,
    attempts: delivery.attempts + 1,
    retryInSeconds: wait,
    error: result.error,
  });
  if (wait !== undefined) {
    await sqsClient().send(
      new SendMessageCommand({
        QueueUrl: requireEnv(ENV.notificationsQueueUrl),
        MessageBody: JSON.stringify(message),
        DelaySeconds: Math.ceil(wait),
      }),
    );
  }
}
