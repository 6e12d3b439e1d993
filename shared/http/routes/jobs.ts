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
import { accessScope, requireAccess, visibleOrNotFound } from "../../auth/ownership.ts";
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
        const id = body.workflowId ?? "";
        const stored = visibleOrNotFound(
          await accessScope(principal),
          await getWorkflow(principal.tenantId, id),
          "Workflow",
          id,
        );
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
        ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey }),
      });
      return { status: job.created ? 202 : 200, body: { jobId: job.jobId, status: job.status } };
    },
  }),
  listJobs: defineRoute({
    summary: "List jobs, newest first",
    query: ListJobsQuery,
    response: ListJobsResponse,
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listJobs(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  }),
  getJob: defineRoute({
    summary: "A job with its steps",
    response: JobWithSteps.extend({ definition: WorkflowDefinition }),
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      return visibleOrNotFound(
        await accessScope(principal),
        await getJobWithSteps(principal.tenantId, id),
        "Job",
        id,
      );
    },
  }),
  getJobEvents: defineRoute({
    summary: "A job's timeline, oldest first",
    query: EventsQuery,
    response: z.object({ items: z.array(TimelineEvent), cursor: z.string().optional() }),
    handle: async ({ params, query, principal }) => {
      const id = params.id ?? "";
      await requireAccess(await accessScope(principal), "job", id);
      if ((await jobExists(principal.tenantId, id)) === undefined) throw notFound("Job", id);
      return listEvents(principal.tenantId, id, query.since);
    },
  }),
  cancelJob: defineRoute({
    summary: "Cancel a job: no new steps start and running tasks are stopped",
    response: CreateJobResponse,
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "job", params.id ?? "");
      return cancelJob(principal.tenantId, params.id ?? "", `cancelled by ${principal.principalId}`);
    },
  }),
  retryJob: defineRoute({
    summary: "Re-run a failed job from its failed steps, keeping what succeeded",
    response: CreateJobResponse,
    status: 202,
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "job", params.id ?? "");
      return retryJob(principal.tenantId, params.id ?? "");
    },
  }),
};
