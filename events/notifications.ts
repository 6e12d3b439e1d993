import { z } from "zod";

/** What a notification target can be told about. */
export const NotificationEventType = z.enum(["approval.requested", "review.notified", "job.failed"]);
export type NotificationEventType = z.infer<typeof NotificationEventType>;
export const NOTIFICATION_EVENT_TYPES = NotificationEventType.options;

/**
 * The body of every delivery (webhook, SNS message and WebSocket frame): `type`, `at`, `tenantId`, and what
 * the event is about. Signed as sent: `x-switchboard-signature: sha256=<hex HMAC-SHA256 of the raw body>`.
 */
export const Notification = z.object({
  type: NotificationEventType,
  at: z.string(),
  tenantId: z.string(),
  jobId: z.string(),
  /** The timeline event this notification was derived from: with the job, it names the event once. */
  seq: z.number().int(),
  nodeId: z.string().optional(),
  approvalId: z.string().optional(),
  message: z.string().optional(),
  confidence: z.number().optional(),
  error: z.object({ code: z.string().optional(), message: z.string().optional() }).passthrough().optional(),
});
export type Notification = z.infer<typeof Notification>;

const WebhookUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL");

export const CreateNotificationTargetRequest = z
  .object({
    type: z.literal("webhook"),
    url: WebhookUrl,
    /** Which events it receives; all of them when left out. */
    events: z.array(NotificationEventType).min(1).max(NOTIFICATION_EVENT_TYPES.length).optional(),
    description: z.string().max(500).optional(),
  })
  .strict();
export type CreateNotificationTargetRequest = z.infer<typeof CreateNotificationTargetRequest>;

export const NotificationTarget = z.object({
  id: z.string(),
  type: z.literal("webhook"),
  url: z.string(),
  events: z.array(NotificationEventType),
  description: z.string().optional(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type NotificationTarget = z.infer<typeof NotificationTarget>;

/** Only the create response carries the signing secret. */
export const CreatedNotificationTarget = NotificationTarget.extend({ secret: z.string() });

export const DeliveryStatus = z.enum(["pending", "delivered", "failed"]);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

export const NotificationDelivery = z.object({
  id: z.string(),
  targetId: z.string(),
  type: NotificationEventType.or(z.literal("test")),
  jobId: z.string().optional(),
  status: DeliveryStatus,
  attempts: z.number().int(),
  /** HTTP status of the last answer, when there was one. */
  lastStatusCode: z.number().int().optional(),
  lastError: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deliveredAt: z.string().optional(),
});
export type NotificationDelivery = z.infer<typeof NotificationDelivery>;

export const TestDeliveryResponse = z.object({ deliveryId: z.string(), status: z.literal("pending") });

/** The notifications queue's message: which delivery to attempt next. */
export const DeliveryMessage = z.object({
  tenantId: z.string(),
  targetId: z.string(),
  deliveryId: z.string(),
});
export type DeliveryMessage = z.infer<typeof DeliveryMessage>;
