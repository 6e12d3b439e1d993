import type { JobRef } from "#events/jobs";
import type { WorkflowDefinition } from "#events/workflow";
import { accessScope, requireAccess, visibleOrNotFound } from "../../auth/ownership.ts";
import { validateWorkflow } from "../../engine/validate.ts";
import { AppError, notFound } from "../../errors.ts";
import { rerunJob } from "../../jobs/rerun.ts";
import { cancelJob, retryJob, startJob } from "../../jobs/service.ts";
import { logger } from "../../observability.ts";
import { getJobWithSteps, jobExists, listEvents, listJobs } from "../../stores/jobs.ts";
import { getWorkflow } from "../../stores/workflows.ts";
import { implementRoutes } from "../api.ts";

function requireValidWorkflow(definition: WorkflowDefinition): void {
  const problems = validateWorkflow(definition);
  if (problems.length > 0) {
    throw new AppError(400, "VALIDATION_FAILED", "The workflow is not valid", problems);
  }
}

/** Jobs answer with `id`, like GET does; `jobId` stays as an alias for clients written before. */
const jobRef = (job: { jobId: string; status: string }): JobRef => ({
  id: job.jobId,
  jobId: job.jobId,
  status: job.status as JobRef["status"],
});

export const jobRoutes = implementRoutes({
  createJob: {
    handle: async ({ body, principal, audit, event }) => {
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
        ...(body.priority === undefined ? {} : { priority: body.priority }),
        ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey, request: body }),
        // A new job's audit entry rides in the job's own write; a repeat of a key is audited as usual.
        ...(audit === undefined
          ? {}
          : { audit: (jobId: string) => audit.entry(`${event.path}/${jobId}`, 202) }),
      });
      if (job.created && audit !== undefined) audit.written();
      return { status: job.created ? 202 : 200, body: jobRef(job) };
    },
  },
  listJobs: {
    handle: async ({ query, principal }) => {
      const { ownerId } = await accessScope(principal);
      return listJobs(principal.tenantId, {
        ...query,
        ...(ownerId === undefined ? {} : { createdBy: ownerId }),
      });
    },
  },
  getJob: {
    handle: async ({ params, principal }) => {
      const id = params.id ?? "";
      return visibleOrNotFound(
        await accessScope(principal),
        await getJobWithSteps(principal.tenantId, id),
        "Job",
        id,
      );
    },
  },
  getJobEvents: {
    handle: async ({ params, query, principal }) => {
      const id = params.id ?? "";
      await requireAccess(await accessScope(principal), "job", id);
      const job = await jobExists(principal.tenantId, id);
      if (job === undefined) throw notFound("Job", id);
      return listEvents(principal.tenantId, id, query.since, 1000, job.seq);
    },
  },
  cancelJob: {
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "job", params.id ?? "");
      return jobRef(
        await cancelJob(principal.tenantId, params.id ?? "", `cancelled by ${principal.principalId}`),
      );
    },
  },
  retryJob: {
    handle: async ({ params, principal }) => {
      await requireAccess(await accessScope(principal), "job", params.id ?? "");
      return jobRef(await retryJob(principal.tenantId, params.id ?? ""));
    },
  },
  rerunJob: {
    handle: async ({ params, body, principal }) => {
      await requireAccess(await accessScope(principal), "job", params.id ?? "");
      const { created, plan } = await rerunJob(principal, params.id ?? "", body);
      return { status: created ? 202 : 200, body: plan };
    },
  },
  bulkJobs: {
    // One at a time: each is a conditional write on its own job, and a failure is that id's answer only.
    handle: async ({ body, principal }) => {
      const results = [];
      const scope = await accessScope(principal);
      for (const id of new Set(body.ids)) {
        try {
          await requireAccess(scope, "job", id);
          const job =
            body.action === "cancel"
              ? await cancelJob(principal.tenantId, id, `cancelled by ${principal.principalId}`)
              : await retryJob(principal.tenantId, id);
          results.push({ id, status: job.status });
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          logger.info("Bulk job action refused", { jobId: id, action: body.action, code: error.code });
          results.push({ id, error: { status: error.status, code: error.code, message: error.message } });
        }
      }
      return { results };
    },
    audit: (request) => ({ resource: `/v1/jobs/bulk/${request.body.action}` }),
  },
});
