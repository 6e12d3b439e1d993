import { z } from "zod";
import {
  CreateJobRequest,
  CreateJobResponse,
  JobWithSteps,
  ListJobsQuery,
  ListJobsResponse,
} from "#events/jobs";
import { TimelineEvent } from "#events/timeline";
import { WorkflowDefinition } from "#events/workflow";
import { validateWorkflow } from "../../engine/validate.ts";
import { AppError, notFound } from "../../errors.ts";
import { cancelJob, retryJob, startJob } from "../../jobs/service.ts";
import { getJobWithSteps, jobExists, listEvents, listJobs } from "../../stores/jobs.ts";
import { getWorkflow } from "../../stores/workflows.ts";
import { defineRoute, type RouteTable } from "../api.ts";

const EventsQuery = z.object({ since: z.coerce.number().int().min(0).default(0) }).strict();

function requireValidWorkflow(definition: WorkflowDefinition): void {
  const problems = validateWorkflow(definition);
  if (problems.length > 0) {
    throw new AppError(400, "VALIDATION_FAILED", "The workflow is not valid", problems);
  }
}

export const jobRoutes: RouteTable = {
  createJob: defineRoute({
    summary: "Start a job from a stored workflow or an inline one",
    body: CreateJobRequest,
    response: CreateJobResponse,
    status: 202,
    handle: async ({ body, principal }) => {
      let pinned: { definition: WorkflowDefinition; workflowId?: string; workflowVersion?: number };
      if (body.workflow === undefined) {
        // A stored workflow runs at its latest version, and the job pins that version.
        const stored = await getWorkflow(principal.tenantId, body.workflowId ?? "");
        if (stored === undefined) throw notFound("Workflow", body.workflowId);
        pinned = { definition: stored.definition, workflowId: stored.id, workflowVersion: stored.version };
      } else {
        requireValidWorkflow(body.workflow);
        pinned = { definition: body.workflow };
      }
      const job = await startJob({
        tenantId: principal.tenantId,
        createdBy: principal.principalId,
        ...pinned,
        input: body.input,
        ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey, request: body }),
      });
      return { status: job.created ? 202 : 200, body: { jobId: job.jobId, status: job.status } };
    },
  }),
  listJobs: defineRoute({
    summary: "List jobs, newest first",
    query: ListJobsQuery,
    response: ListJobsResponse,
    handle: ({ query, principal }) => listJobs(principal.tenantId, query),
  }),
  getJob: defineRoute({
    summary: "A job with its steps",
    response: JobWithSteps.extend({ definition: WorkflowDefinition }),
    handle: async ({ params, principal }) => {
      const job = await getJobWithSteps(principal.tenantId, params.id ?? "");
      if (job === undefined) throw notFound("Job", params.id);
      return job;
    },
  }),
  getJobEvents: defineRoute({
    summary: "A job's timeline, oldest first",
    query: EventsQuery,
    response: z.object({ items: z.array(TimelineEvent), cursor: z.string().optional() }),
    handle: async ({ params, query, principal }) => {
      const id = params.id ?? "";
      const job = await jobExists(principal.tenantId, id);
      if (job === undefined) throw notFound("Job", id);
      return listEvents(principal.tenantId, id, query.since, 1000, job.seq);
    },
  }),
  cancelJob: defineRoute({
    summary: "Cancel a job: no new steps start and running tasks are stopped",
    response: CreateJobResponse,
    handle: ({ params, principal }) =>
      cancelJob(principal.tenantId, params.id ?? "", `cancelled by ${principal.principalId}`),
  }),
  retryJob: defineRoute({
    summary: "Re-run a failed job from its failed steps, keeping what succeeded",
    response: CreateJobResponse,
    status: 202,
    handle: ({ params, principal }) => retryJob(principal.tenantId, params.id ?? ""),
  }),
};
