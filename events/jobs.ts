import { z } from "zod";
import { WorkflowDefinition } from "./workflow.ts";

export const JobStatus = z.enum([
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "timed_out",
]);
export type JobStatus = z.infer<typeof JobStatus>;
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled", "timed_out"];

export const StepStatus = z.enum([
  "pending",
  "queued",
  "running",
  "waiting_approval",
  "waiting",
  "succeeded",
  "failed",
  "skipped",
  "cancelled",
]);
export type StepStatus = z.infer<typeof StepStatus>;
export const TERMINAL_STEP_STATUSES: readonly StepStatus[] = ["succeeded", "failed", "skipped", "cancelled"];

export const StepError = z.object({ code: z.string(), message: z.string() });
export type StepError = z.infer<typeof StepError>;

export const CreateJobRequest = z
  .object({
    workflowId: z.string().min(1).max(64).optional(),
    workflow: WorkflowDefinition.optional(),
    input: z.unknown().optional(),
    idempotencyKey: z.string().min(1).max(128).optional(),
  })
  .strict()
  .refine((b) => (b.workflowId === undefined) !== (b.workflow === undefined), {
    message: "give exactly one of workflowId or workflow",
    path: ["workflowId"],
  });
export type CreateJobRequest = z.infer<typeof CreateJobRequest>;

export const CreateJobResponse = z.object({ jobId: z.string(), status: JobStatus });
export type CreateJobResponse = z.infer<typeof CreateJobResponse>;

export const Step = z.object({
  nodeId: z.string(),
  itemIndex: z.number().int().optional(),
  type: z.string(),
  status: StepStatus,
  attempt: z.number().int(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  error: StepError.optional(),
  queuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  /** For a `forEach` node's parent step: how many items it fanned out into. */
  items: z.number().int().optional(),
});
export type Step = z.infer<typeof Step>;

export const Job = z.object({
  id: z.string(),
  tenantId: z.string(),
  status: JobStatus,
  workflowId: z.string().optional(),
  workflowVersion: z.number().int().optional(),
  workflowName: z.string(),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  error: StepError.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  createdBy: z.string(),
  scheduleId: z.string().optional(),
  /** The sequence number of the job's latest timeline event. */
  seq: z.number().int(),
});
export type Job = z.infer<typeof Job>;

export const JobWithSteps = Job.extend({ steps: z.array(Step) });
export type JobWithSteps = z.infer<typeof JobWithSteps>;

export const ListJobsQuery = z
  .object({
    status: JobStatus.optional(),
    workflowId: z.string().optional(),
    cursor: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

export const Page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: z.array(item), cursor: z.string().optional() });

export const ListJobsResponse = Page(Job);
export type ListJobsResponse = z.infer<typeof ListJobsResponse>;
