import {
  CreateScheduleRequest,
  ListSchedulesQuery,
  ListSchedulesResponse,
  Schedule,
  UpdateScheduleRequest,
} from "#events/schedules";
import { accessScope, requireAccess } from "../../auth/ownership.ts";
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  updateSchedule,
} from "../../schedules/service.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const scheduleRoutes: RouteTable = {
  createSchedule: defineRoute({
    summary: "Start a workflow on a schedule (EventBridge Scheduler syntax: cron, rate or at)",
    body: CreateScheduleRequest,
    response: Schedule,
    status: 201,
    handle: async ({ body, principal }) => {
      await requireAccess(await accessScope(principal), "workflow", body.workflowId);
      return createSchedule({ tenantId: principal.tenantId, principalId: principal.principalId }, body);
    },
  }),
  listSchedules: defineRoute({
    summary: "Schedules, newest first, with their next fire times",
    query: ListSchedulesQuery,
    response: ListSchedulesResponse,
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listSchedules(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  }),
  getSchedule: defineRoute({
    summary: "A schedule with its next five fire times",
    response: Schedule,
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "schedule", params.id ?? "");
      return getSchedule(principal.tenantId, params.id ?? "");
    },
  }),
  updateSchedule: defineRoute({
    summary: "Change a schedule; enabled: false pauses it, true resumes it",
    body: UpdateScheduleRequest,
    response: Schedule,
    audit: ({ params }) => ({ resource: `/v1/schedules/${params.id ?? ""}` }),
    handle: async ({ params, body, principal }) => {
      await requireAccess(await accessScope(principal), "schedule", params.id ?? "");
      return updateSchedule(principal.tenantId, params.id ?? "", body);
    },
  }),
  deleteSchedule: defineRoute({
    summary: "Delete a schedule",
    status: 204,
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "schedule", params.id ?? "");
      await deleteSchedule(principal.tenantId, params.id ?? "");
      return { status: 204 };
    },
  }),
};
