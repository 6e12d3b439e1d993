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
import { implementRoutes } from "../api.ts";

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

export const notificationRoutes = implementRoutes({
  createNotificationTarget: {
    handle: async ({ body, principal }) => {
      await checkUrl(body.url);
      return createTarget(principal, body);
    },
  },
  listNotificationTargets: {
    handle: async ({ query, principal }) => {
      const found = await listTargets(principal.tenantId, query);
      return { ...found, items: found.items.map(publicTarget) };
    },
  },
  getNotificationTarget: {
    handle: async ({ params, principal }) =>
      publicTarget(await requireTarget(principal.tenantId, params.id ?? "")),
  },
  deleteNotificationTarget: {
    handle: async ({ params, principal }) => {
      if (!(await deleteTarget(principal.tenantId, params.id ?? "")))
        throw notFound("Notification target", params.id);
      return { status: 204 };
    },
  },
  testNotificationTarget: {
    handle: ({ params, principal }) => sendTestDelivery(principal.tenantId, params.id ?? ""),
  },
  listNotificationDeliveries: {
    handle: async ({ params, query, principal }) => {
      const id = params.id ?? "";
      await requireTarget(principal.tenantId, id);
      return listDeliveries(principal.tenantId, id, query);
    },
  },
});
