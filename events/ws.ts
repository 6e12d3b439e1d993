import { z } from "zod";
import { Notification } from "./notifications.ts";
import { TimelineEvent } from "./timeline.ts";

/** Client → server. Routed on `$request.body.action`. */
export const SubscribeMessage = z.union([
  z
    .object({
      action: z.literal("subscribe"),
      jobId: z.string().min(1).max(64),
      /** Replay the timeline events after this sequence number before going live. */
      since: z.number().int().min(0).optional(),
      /** Live events may come several to a frame, as `{"type":"batch","events":[…]}`. */
      batch: z.boolean().optional(),
    })
    .strict(),
  z.object({ action: z.literal("subscribe"), all: z.literal(true), batch: z.boolean().optional() }).strict(),
]);
export const UnsubscribeMessage = z.union([
  z.object({ action: z.literal("unsubscribe"), jobId: z.string().min(1).max(64) }).strict(),
  z.object({ action: z.literal("unsubscribe"), all: z.literal(true) }).strict(),
]);
export const PingMessage = z.object({ action: z.literal("ping") }).strict();

export const ClientMessage = z.union([SubscribeMessage, UnsubscribeMessage, PingMessage]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** Server → client. Every message has `type` and `at`. */
export const SubscribedMessage = z.object({
  type: z.literal("subscribed"),
  at: z.string(),
  jobId: z.string().optional(),
  all: z.boolean().optional(),
  /** The job's latest sequence number when the subscription was made. */
  seq: z.number().int().optional(),
});
export const UnsubscribedMessage = z.object({
  type: z.literal("unsubscribed"),
  at: z.string(),
  jobId: z.string().optional(),
  all: z.boolean().optional(),
});
export const PongMessage = z.object({ type: z.literal("pong"), at: z.string() });
export const ErrorMessage = z.object({
  type: z.literal("error"),
  at: z.string(),
  code: z.string(),
  message: z.string(),
});
export const AgentToken = z.object({
  type: z.literal("agent.token"),
  at: z.string(),
  jobId: z.string(),
  nodeId: z.string(),
  itemIndex: z.number().int().optional(),
  text: z.string(),
  index: z.number().int(),
  /**
   * Where `text` starts in the step's whole streamed text. A connection's first message for a step carries
   * all the text so far (offset 0, or later when that was cut to MAX_CATCH_UP_CHARS), so a late join or a
   * reconnect shows the whole text rather than starting mid-sentence.
   */
  offset: z.number().int().min(0).optional(),
});

/** Several timeline events of one job in one frame, for subscriptions made with `batch: true`. */
export const BatchMessage = z.object({
  type: z.literal("batch"),
  at: z.string(),
  jobId: z.string(),
  events: z.array(TimelineEvent),
});
/**
 * `review.notified` and `job.failed`, as notification targets receive them (`approval.requested` already
 * arrives as a timeline event). No `seq`: they are not timeline events, and clients that order the timeline
 * by `seq` must not take them for one.
 */
export const NotificationFrame = Notification.omit({ seq: true, tenantId: true }).extend({
  type: z.enum(["review.notified", "job.failed"]),
});
export type NotificationFrame = z.infer<typeof NotificationFrame>;

export const ServerMessage = z.union([
  SubscribedMessage,
  UnsubscribedMessage,
  PongMessage,
  ErrorMessage,
  AgentToken,
  TimelineEvent,
  BatchMessage,
  NotificationFrame,
]);
export type ServerMessage = z.infer<typeof ServerMessage>;
