import { isDeepStrictEqual } from "node:util";
import type { JobStatus, RerunJobRequest, RerunPlan } from "#events/jobs";
import type { WorkflowDefinition } from "#events/workflow";
import { isTerminalJob } from "../engine/engine.ts";
import { validateWorkflow } from "../engine/validate.ts";
import { AppError, badRequest, conflict, notFound } from "../errors.ts";
import { loadJob } from "../stores/jobs.ts";
import { getWorkflow, getWorkflowVersion } from "../stores/workflows.ts";
import { startJob } from "./commands.ts";
import { planRerun } from "./rerun-plan.ts";

interface Principal {
  tenantId: string;
  principalId: string;
}

async function targetDefinition(
  tenantId: string,
  job: { workflowId?: string; workflowVersion?: number; definition: WorkflowDefinition },
  wanted: RerunJobRequest["workflowVersion"],
): Promise<{ definition: WorkflowDefinition; workflowVersion?: number }> {
  if (wanted === undefined || wanted === job.workflowVersion) {
    return {
      definition: job.definition,
      ...(job.workflowVersion === undefined ? {} : { workflowVersion: job.workflowVersion }),
    };
  }
  if (job.workflowId === undefined)
    throw badRequest("This job ran an inline workflow, which has no versions: leave workflowVersion out");
  const stored =
    wanted === "latest"
      ? await getWorkflow(tenantId, job.workflowId)
      : await getWorkflowVersion(tenantId, job.workflowId, wanted);
  if (stored === undefined)
    throw notFound("Workflow version", `${job.workflowId}@${wanted === "latest" ? "latest" : wanted}`);
  return { definition: stored.definition, workflowVersion: stored.version };
}

/**
 * Re-runs an ended job as a new job: with another input, from a chosen step, or on another version of its
 * workflow. The plan says which steps run again; the others start out with the outputs they had. A dry run
 * answers with the plan and starts nothing. The job re-run is never changed.
 */
export async function rerunJob(
  principal: Principal,
  jobId: string,
  request: RerunJobRequest,
): Promise<{ created: boolean; plan: RerunPlan }> {
  const loaded = await loadJob(principal.tenantId, jobId);
  if (loaded === undefined) throw notFound("Job", jobId);
  const { state, meta } = loaded;
  const dryRun = request.dryRun ?? false;
  if (!isTerminalJob(state.status))
    throw conflict(`Job ${jobId} is ${state.status}; a job is re-run once it has ended`);
  const target = await targetDefinition(
    principal.tenantId,
    {
      definition: state.definition,
      ...(meta.workflowId === undefined ? {} : { workflowId: meta.workflowId }),
      ...(meta.workflowVersion === undefined ? {} : { workflowVersion: meta.workflowVersion }),
    },
    request.workflowVersion,
  );
  const problems = validateWorkflow(target.definition);
  if (problems.length > 0)
    throw new AppError(400, "VALIDATION_FAILED", "The workflow version is not valid", problems);
  const input = request.input === undefined ? state.input : request.input;
  if (request.fromStep !== undefined && !target.definition.nodes.some((n) => n.id === request.fromStep))
    throw badRequest(`The workflow has no node ${request.fromStep}`, { fromStep: request.fromStep });
  const { steps, kept } = planRerun(
    { definition: state.definition, input: state.input, steps: state.steps },
    {
      definition: target.definition,
      input,
      ...(request.fromStep === undefined ? {} : { fromStep: request.fromStep }),
    },
  );
  const plan: RerunPlan = {
    sourceJobId: jobId,
    dryRun,
    ...(target.workflowVersion === undefined ? {} : { workflowVersion: target.workflowVersion }),
    inputChanged: !isDeepStrictEqual(state.input ?? {}, input ?? {}),
    steps,
  };
  if (dryRun) return { created: false, plan };
  const keptIds = steps.filter((s) => s.action === "keep").map((s) => s.nodeId);
  const started = await startJob({
    tenantId: principal.tenantId,
    createdBy: principal.principalId,
    definition: target.definition,
    ...(meta.workflowId === undefined ? {} : { workflowId: meta.workflowId }),
    ...(target.workflowVersion === undefined ? {} : { workflowVersion: target.workflowVersion }),
    input,
    seed: {
      steps: kept,
      note:
        `re-run of ${jobId}: ${steps.length - keptIds.length} node(s) run again` +
        (keptIds.length === 0 ? "" : `, kept ${keptIds.join(", ")}`),
    },
  });
  return {
    created: true,
    plan: {
      ...plan,
      job: { id: started.jobId, jobId: started.jobId, status: started.status as JobStatus },
    },
  };
}
