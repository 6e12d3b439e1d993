import { z } from "zod";
import { PageQuery, page } from "#events/auth";
import {
  CreatedNotificationTarget,
  CreateNotificationTargetRequest,
  NotificationDelivery,
  NotificationTarget,
} from "#events/notifications";
import { notFound, validationFailed } from "../../errors.ts";
import { createTarget, sendTestDelivery } from "../../notifications/service.ts";
import {
  deleteTarget,
  getTarget,
  listDeliveries,
  listTargets,
  publicTarget,
} from "../../stores/notifications.ts";
import { checkDestination, EgressError } from "../../tools/egress.ts";
import { defineRoute, type RouteTable } from "../api.ts";

/** Refused now when the egress guard would refuse every delivery anyway (checked again on each, as DNS changes). */
async function checkUrl(url: string): Promise<void> {
  try {
    await checkDestination(new URL(url));
  } catch (error) {
    if (error instanceof EgressError && error.code === "EGRESS_DENIED") {
      throw validationFailed("The notification target is not valid", [
        { path: "url", message: error.message, code: "custom" },
      ]);
    }
  }
}

async function requireTarget(tenantId: string, id: string) {
  const target = await getTarget(tenantId, id);
  if (target === undefined) throw notFound("Notification target", id);
  return target;
}

export const notificationRoutes: RouteTable = {
  createNotificationTarget: defineRoute({
    summary:
      "Add a signed webhook for approval.requested, review.notified and job.failed; the secret is shown once",
    body: CreateNotificationTargetRequest,
    response: CreatedNotificationTarget,
    status: 201,
    handle: async ({ body, principal }) => {
      await checkUrl(body.url);
      return createTarget(principal, body);
    },
  }),
  listNotificationTargets: defineRoute({
    summary: "The tenant's notification targets, newest first",
    query: PageQuery,
    response: page(NotificationTarget),
    handle: async ({ query, principal }) => {
      const found = await listTargets(principal.tenantId, query);
      return { ...found, items: found.items.map(publicTarget) };
    },
  }),
  getNotificationTarget: defineRoute({
    summary: "A notification target (never its secret)",
    response: NotificationTarget,
    handle: async ({ params, principal }) =>
      publicTarget(await requireTarget(principal.tenantId, params.id ?? "")),
  }),
  deleteNotificationTarget: defineRoute({
    summary: "Remove a notification target; deliveries not yet made are recorded as failed",
    status: 204,
    handle: async ({ params, principal }) => {
      if (!(await deleteTarget(principal.tenantId, params.id ?? "")))
        throw notFound("Notification target", params.id);
      return { status: 204 };
    },
  }),
  testNotificationTarget: defineRoute({
    summary: "Send a signed `test` delivery to the target",
    response: z.object({ deliveryId: z.string(), status: z.literal("pending") }),
    status: 202,
    handle: ({ params, principal }) => sendTestDelivery(principal.tenantId, params.id ?? ""),
  }),
  listNotificationDeliveries: defineRoute({
    summary: "A target's deliveries, newest first, with their status, attempts and last error",
    query: PageQuery,
    response: page(NotificationDelivery),
    handle: async ({ params, query, principal }) => {
      const id = params.id ?? "";
      await requireTarget(principal.tenantId, id);
      return listDeliveries(principal.tenantId, id, query);
    },
  }),
};
