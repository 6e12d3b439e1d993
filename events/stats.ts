import { z } from "zod";
import { JobStatus } from "./jobs.ts";

/** Bodies of `GET /v1/stats/jobs`: runs over time by status, durations and failure rates, for the overview. */

/** The widest window one report reads (every job summary in it is read once). */
export const MAX_STATS_DAYS = 31;
/** At most this many jobs are read for one report; beyond it the report says it is `truncated`. */
export const MAX_STATS_JOBS = 20_000;

export const JobStatsQuery = z
  .object({
    /** ISO instant; default 24 hours before `to`. */
    from: z.iso.datetime({ offset: true }).optional(),
    /** ISO instant; default now. */
    to: z.iso.datetime({ offset: true }).optional(),
    /** Bucket width; default `hour` for windows up to two days, else `day`. */
    bucket: z.enum(["hour", "day"]).optional(),
  })
  .strict();
export type JobStatsQuery = z.infer<typeof JobStatsQuery>;

const StatusCounts = z.partialRecord(JobStatus, z.number().int());

const Durations = {
  /** Jobs that ended (succeeded, failed, cancelled or timed out). */
  ended: z.number().int(),
  /** Failed or timed out, over ended. */
  failureRate: z.number().nullable(),
  /** Start (or creation) to end, of ended jobs, in milliseconds. */
  p50Ms: z.number().nullable(),
  p95Ms: z.number().nullable(),
};

export const JobStatsBucket = z.object({
  /** The bucket's first instant, ISO. */
  start: z.string(),
  total: z.number().int(),
  byStatus: StatusCounts,
  ...Durations,
});
export type JobStatsBucket = z.infer<typeof JobStatsBucket>;

export const JobStats = z
  .object({
    from: z.string(),
    to: z.string(),
    bucket: z.enum(["hour", "day"]),
    /** Jobs by the bucket they were created in, oldest first; every bucket of the window is present. */
    buckets: z.array(JobStatsBucket),
    total: z.object({ total: z.number().int(), byStatus: StatusCounts, ...Durations }),
    /** The same figures per workflow name, most runs first. */
    byWorkflow: z.array(
      z.object({ workflow: z.string(), total: z.number().int(), byStatus: StatusCounts, ...Durations }),
    ),
    /** More than MAX_STATS_JOBS jobs were created in the window: the newest of them are counted. */
    truncated: z.boolean(),
  })
  .meta({ id: "JobStats" });
export type JobStats = z.infer<typeof JobStats>;
