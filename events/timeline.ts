import { z } from "zod";
import { ApprovalDecisionRecord } from "./approvals.ts";
import { JobStatus, StepError, StepStatus } from "./jobs.ts";

/**
 * Events in a job's timeline. Each is stored as one item with a per-job sequence number; the table stream
 * carries the inserts to the fanout, which sends them to WebSocket subscribers as they are.
 */
const common = { jobId: z.string(), seq: z.number().int().min(1), at: z.string() };

export const JobStatusChanged = z.object({
  ...common,
  type: z.literal("job.status_changed"),
  status: JobStatus,
  previousStatus: JobStatus.optional(),
  error: StepError.optional(),
  output: z.unknown().optional(),
});

export const StepStatusChanged = z.object({
  ...common,
  type: z.literal("step.status_changed"),
  nodeId: z.string(),
  itemIndex: z.number().int().optional(),
  status: StepStatus,
  previousStatus: StepStatus.optional(),
  attempt: z.number().int(),
  output: z.unknown().optional(),
  error: StepError.optional(),
});

export const JobNote = z.object({
  ...common,
  type: z.literal("job.note"),
  nodeId: z.string().optional(),
  message: z.string(),
  reason: z.string().optional(),
});

export const ApprovalRequested = z.object({
  ...common,
  type: z.literal("approval.requested"),
  approvalId: z.string(),
  nodeId: z.string(),
  message: z.string(),
  confidence: z.number().optional(),
});

export const ApprovalResolved = z.object({
  ...common,
  type: z.literal("approval.resolved"),
  approvalId: z.string(),
  nodeId: z.string(),
  decision: z.enum(["approve", "reject"]),
  /** Who decided, with their comments, in the order they did; absent when the approval timed out. */
  decisions: z.array(ApprovalDecisionRecord).optional(),
});

export const TimelineEvent = z
  .discriminatedUnion("type", [
    JobStatusChanged,
    StepStatusChanged,
    JobNote,
    ApprovalRequested,
    ApprovalResolved,
  ])
  .meta({ id: "TimelineEvent" });
export type TimelineEvent = z.infer<typeof TimelineEvent>;
/** A timeline event before the store gives it its sequence number and time. */
export type NewTimelineEvent = TimelineEvent extends infer E
  ? E extends TimelineEvent
    ? Omit<E, "seq" | "at" | "jobId">
    : never
  : never;
