import { z } from "zod";
import { JobPriority } from "./jobs.ts";

/** REST shapes of `/v1/schedules`, and the payload EventBridge Scheduler sends the schedule function. */

const expression = z
  .string()
  .min(1)
  .max(256)
  .describe(
    "EventBridge Scheduler syntax: cron(min hour dom month dow year), rate(n unit) or at(yyyy-mm-ddThh:mm:ss)",
  );
const timezone = z.string().min(1).max(64).describe("IANA time zone, e.g. Europe/Berlin");

export const CreateScheduleRequest = z
  .object({
    name: z.string().min(1).max(128).optional(),
    workflowId: z.string().min(1).max(64),
    expression,
    timezone: timezone.default("UTC"),
    enabled: z.boolean().default(true),
    input: z.unknown().optional(),
    priority: JobPriority.optional().describe(
      "The priority of the jobs it starts: high, normal (the default) or low",
    ),
  })
  .strict();
export type CreateScheduleRequest = z.infer<typeof CreateScheduleRequest>;

export const UpdateScheduleRequest = z
  .object({
    name: z.string().min(1).max(128).optional(),
    workflowId: z.string().min(1).max(64).optional(),
    expression: expression.optional(),
    timezone: timezone.optional(),
    enabled: z.boolean().optional(),
    input: z.unknown().optional(),
    priority: JobPriority.optional(),
  })
  .strict();
export type UpdateScheduleRequest = z.infer<typeof UpdateScheduleRequest>;

export const Schedule = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    workflowId: z.string(),
    expression: z.string(),
    timezone: z.string(),
    enabled: z.boolean(),
    input: z.unknown().optional(),
    priority: JobPriority,
    createdAt: z.string(),
    updatedAt: z.string(),
    createdBy: z.string(),
    lastFiredAt: z.string().optional(),
    lastJobId: z.string().optional(),
    /** The next five times it fires (ISO-8601, UTC); empty when paused or done. */
    nextFireTimes: z.array(z.string()),
  })
  .meta({ id: "Schedule" });
export type Schedule = z.infer<typeof Schedule>;

export const ListSchedulesQuery = z
  .object({
    workflowId: z.string().min(1).max(64).optional(),
    cursor: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();
export type ListSchedulesQuery = z.infer<typeof ListSchedulesQuery>;

export const ListSchedulesResponse = z.object({ items: z.array(Schedule), cursor: z.string().optional() });

/**
 * What each firing delivers to the schedule function: the schedule's target `Input`, with the Scheduler's
 * context attributes (`<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>`) filled in.
 */
export const ScheduleFiring = z.object({
  tenantId: z.string().min(1),
  scheduleId: z.string().min(1),
  scheduledTime: z.string().min(1),
  executionId: z.string().optional(),
});
export type ScheduleFiring = z.infer<typeof ScheduleFiring>;
