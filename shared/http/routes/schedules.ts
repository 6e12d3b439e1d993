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
    handle: ({ body, principal }) =>
      createSchedule({ tenantId: principal.tenantId, principalId: principal.principalId }, body),
  },
  listSchedules: {
    handle: ({ query, principal }) => listSchedules(principal.tenantId, query),
  },
  getSchedule: {
    handle: ({ params, principal }) => getSchedule(principal.tenantId, params.id ?? ""),
  },
  updateSchedule: {
    audit: ({ params }) => ({ resource: `/v1/schedules/${params.id ?? ""}` }),
    handle: ({ params, body, principal }) => updateSchedule(principal.tenantId, params.id ?? "", body),
  },
  deleteSchedule: {
    handle: async ({ params, principal }) => {
      await deleteSchedule(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  },
});
