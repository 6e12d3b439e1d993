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

export const StepError = z.object({
  code: z.string(),
  message: z.string(),
  full: z
    .unknown()
    .optional()
    .describe(
      "The whole message when `message` had to be cut to the error limit (a claim-check pointer when large)",
    ),
});
export type StepError = z.infer<typeof StepError>;

/**
 * How soon a job's steps are taken, against the same tenant's other work: high overtakes queued normal and
 * low work. Tenants stay fair to each other whatever their jobs' priorities.
 */
export const JobPriority = z.enum(["high", "normal", "low"]);
export type JobPriority = z.infer<typeof JobPriority>;
export const DEFAULT_JOB_PRIORITY: JobPriority = "normal";

export const CreateJobRequest = z
  .object({
    workflowId: z.string().min(1).max(64).optional(),
    workflow: WorkflowDefinition.optional(),
    input: z.unknown().optional(),
    idempotencyKey: z.string().min(1).max(128).optional(),
    priority: JobPriority.optional().describe("high, normal (the default) or low"),
  })
  .strict()
  .refine((b) => (b.workflowId === undefined) !== (b.workflow === undefined), {
    message: "give exactly one of workflowId or workflow",
    path: ["workflowId"],
  });
export type CreateJobRequest = z.infer<typeof CreateJobRequest>;

/** A job's id and status after a create, cancel, retry or bulk action. `jobId` is the older name of `id`, kept as an alias. */
export const JobRef = z
  .object({
    id: z.string(),
    jobId: z.string().describe("The same as id; kept for clients written before id was added"),
    status: JobStatus,
  })
  .meta({ id: "JobRef" });
export type JobRef = z.infer<typeof JobRef>;
export const CreateJobResponse = JobRef;
export type CreateJobResponse = JobRef;

export const Step = z
  .object({
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
    logs: z
      .array(z.string())
      .optional()
      .describe(
        "What the latest finished attempt of a code step wrote with console.log: at most 100 lines and 8 KB, the last line a truncation marker when more was written",
      ),
  })
  .meta({ id: "Step" });
export type Step = z.infer<typeof Step>;

export const Job = z
  .object({
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
    priority: JobPriority,
    /** The sequence number of the job's latest timeline event. */
    seq: z.number().int(),
  })
  .meta({ id: "Job" });
export type Job = z.infer<typeof Job>;

export const JobWithSteps = Job.extend({ steps: z.array(Step) }).meta({ id: "JobWithSteps" });
export type JobWithSteps = z.infer<typeof JobWithSteps>;

export const ListJobsQuery = z
  .object({
    status: JobStatus.optional(),
    workflowId: z.string().optional(),
    q: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe(
        "Jobs whose id starts with, or whose workflow name contains, this text (case-sensitive). A filter on each page read: a page may hold fewer items than `limit` and still have a cursor",
      ),
    from: z.iso
      .datetime({ offset: true })
      .or(z.iso.date())
      .optional()
      .describe("Jobs created at or after this time (a date means its start, UTC)"),
    to: z.iso
      .datetime({ offset: true })
      .or(z.iso.date())
      .optional()
      .describe("Jobs created before this time (a date means the end of that day, UTC)"),
    cursor: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

export const Page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ items: z.array(item), cursor: z.string().optional() });

export const ListJobsResponse = Page(Job);
export type ListJobsResponse = z.infer<typeof ListJobsResponse>;

/** GET /v1/jobs/{id}: the job, its steps, and the definition of the workflow version it runs. */
export const JobDetail = JobWithSteps.extend({ definition: WorkflowDefinition }).meta({ id: "JobDetail" });
export type JobDetail = z.infer<typeof JobDetail>;

export const JobEventsQuery = z.object({ since: z.coerce.number().int().min(0).default(0) }).strict();

export const BulkJobAction = z.enum(["cancel", "retry"]);
export const BulkJobsRequest = z
  .object({ action: BulkJobAction, ids: z.array(z.string().min(1).max(64)).min(1).max(100) })
  .strict();
export type BulkJobsRequest = z.infer<typeof BulkJobsRequest>;
/** One answer per id, in the order given: the job's new status, or why it was left as it was. */
export const BulkJobsResponse = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      status: JobStatus.optional(),
      error: z.object({ status: z.number().int(), code: z.string(), message: z.string() }).optional(),
    }),
  ),
});
export type BulkJobsResponse = z.infer<typeof BulkJobsResponse>;

/** POST /v1/jobs/{id}/rerun: a new job from an ended one, with edits; `dryRun` only plans it. */
export const RerunJobRequest = z
  .object({
    input: z.unknown().optional().describe("The new job's input; the re-run job's input when left out"),
    fromStep: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .describe("This node and every node that depends on it run again, whatever they did before"),
    workflowVersion: z
      .union([z.number().int().min(1), z.literal("latest")])
      .optional()
      .describe("Run on this version of the job's stored workflow (the job's own version when left out)"),
    dryRun: z.boolean().default(false).describe("Answer with the plan only; no job is started"),
  })
  .strict();
export type RerunJobRequest = z.input<typeof RerunJobRequest>;

export const RerunStepPlan = z.object({
  nodeId: z.string(),
  action: z.enum(["run", "keep"]).describe("`keep`: the step keeps the re-run job's output and does not run"),
  reason: z.string(),
});
export type RerunStepPlan = z.infer<typeof RerunStepPlan>;

export const RerunPlan = z
  .object({
    sourceJobId: z.string(),
    dryRun: z.boolean(),
    workflowVersion: z.number().int().optional(),
    inputChanged: z.boolean(),
    steps: z.array(RerunStepPlan),
    /** The job started by the re-run; absent for a dry run. */
    job: JobRef.optional(),
  })
  .meta({ id: "RerunPlan" });
export type RerunPlan = z.infer<typeof RerunPlan>;
