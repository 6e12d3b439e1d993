import { accessScope, requireAccess } from "../../auth/ownership.ts";
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  updateSchedule,
} from "../../schedules/service.ts";
import { implementRoutes } from "../api.ts";

export const scheduleRoutes = implementRoutes({
  createSchedule: {
    handle: async ({ body, principal }) => {
      await requireAccess(await accessScope(principal), "workflow", body.workflowId);
      return createSchedule({ tenantId: principal.tenantId, principalId: principal.principalId }, body);
    },
  },
  listSchedules: {
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listSchedules(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  },
  getSchedule: {
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "schedule", params.id ?? "");
      return getSchedule(principal.tenantId, params.id ?? "");
    },
  },
  updateSchedule: {
    audit: ({ params }) => ({ resource: `/v1/schedules/${params.id ?? ""}` }),
    handle: async ({ params, body, principal }) => {
      await requireAccess(await accessScope(principal), "schedule", params.id ?? "");
      return updateSchedule(principal.tenantId, params.id ?? "", body);
    },
  },
  deleteSchedule: {
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "schedule", params.id ?? "");
      await deleteSchedule(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  },
});
