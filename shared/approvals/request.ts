import type { NewTimelineEvent } from "#events/timeline";
import { resolveAgent } from "../agents/catalog.ts";
import { type Command, chunkOf, type JobState, stepKey } from "../engine/types.ts";
import { logger } from "../observability.ts";
import {
  type ApprovalRecord,
  approvalIdFor,
  insertApprovalWithEvent,
  JobChangedError,
  type StatsDelta,
} from "../stores/approvals.ts";
import { withChunk } from "../stores/jobs/chunks.ts";
import { loadJob } from "../stores/jobs.ts";

type RequestApproval = Extract<Command, { type: "requestApproval" }>;

/** A pending approval is looked at this often for a step that stopped waiting (a cancelled job). */
export const STALE_CHECK_SECONDS = 3600;
/** Previews are shown to a person, not stored as results: keep the item well under DynamoDB's 400 KB. */
const MAX_PREVIEW_CHARS = 32_000;
const MAX_ATTEMPTS = 12;

function boundedPreview(preview: unknown): unknown {
  if (preview === undefined) return undefined;
  const text = JSON.stringify(preview) ?? "";
  return text.length <= MAX_PREVIEW_CHARS ? preview : `${text.slice(0, MAX_PREVIEW_CHARS)}… (truncated)`;
}

export function nextDue(record: Pick<ApprovalRecord, "expiresAt">, now: Date): string {
  const stale = new Date(now.getTime() + STALE_CHECK_SECONDS * 1000).toISOString();
  return record.expiresAt !== undefined && record.expiresAt < stale ? record.expiresAt : stale;
}

/**
 * Carries out the engine's `requestApproval` command: creates the approval and its `approval.requested`
 * timeline event in one transaction. Exactly once: the approval's id comes from the waiting step instance
 * (job, node, item, attempt, and when it began waiting), and the transaction requires that the approval does
 * not exist yet, so running the command again changes nothing.
 */
export async function requestApproval(
  state: JobState,
  command: RequestApproval,
  now = new Date(),
): Promise<void> {
  const key = stepKey(command.nodeId, command.itemIndex);
  const node = state.definition.nodes.find((n) => n.id === command.nodeId);
  // A node names its agent by name or id; statistics are kept by id, so both ways count for the same agent.
  let agent: { id: string; name: string } | undefined;
  if (node?.type === "agent") {
    const found = await resolveAgent(state.tenantId, node.agent);
    agent = found === undefined ? { id: node.agent, name: node.agent } : { id: found.id, name: found.name };
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    // The job's sequence number and version must be current for the event's number to be right.
    const found = await loadJob(state.tenantId, state.jobId);
    const loaded =
      found === undefined || command.itemIndex === undefined
        ? found
        : await withChunk(found, command.nodeId, chunkOf(command.itemIndex));
    const step = loaded?.state.steps[key];
    if (loaded === undefined || step === undefined || step.status !== "waiting_approval") return;
    const id = approvalIdFor(
      state.tenantId,
      state.jobId,
      command.nodeId,
      command.itemIndex,
      step.attempt,
      step.startedAt,
    );
    const expiresAt =
      node?.type === "approval" && node.timeoutSeconds !== undefined
        ? new Date(Date.parse(step.startedAt ?? now.toISOString()) + node.timeoutSeconds * 1000).toISOString()
        : undefined;
    const preview = boundedPreview(command.preview);
    const record: ApprovalRecord = {
      tenantId: state.tenantId,
      id,
      jobId: state.jobId,
      nodeId: command.nodeId,
      ...(command.itemIndex === undefined ? {} : { itemIndex: command.itemIndex }),
      attempt: step.attempt,
      ...(step.startedAt === undefined ? {} : { stepStartedAt: step.startedAt }),
      workflowName: loaded.state.definition.name,
      ...(agent === undefined ? {} : { agent: agent.name, agentId: agent.id }),
      message: command.message,
      ...(preview === undefined ? {} : { preview }),
      ...(command.confidence === undefined ? {} : { confidence: command.confidence }),
      status: "pending",
      ...(node?.type === "approval" && node.approvers !== undefined ? { approvers: node.approvers } : {}),
      quorum: node?.type === "approval" ? (node.quorum ?? 1) : 1,
      decisions: [],
      ...(expiresAt === undefined ? {} : { expiresAt }),
      ...(node?.type === "approval" && expiresAt !== undefined
        ? { onTimeout: node.onTimeout ?? "reject" }
        : {}),
      createdAt: now.toISOString(),
      applied: false,
      version: 1,
    };
    record.dueAt = nextDue(record, now);
    const event: NewTimelineEvent = {
      type: "approval.requested",
      approvalId: id,
      nodeId: command.nodeId,
      message: command.message,
      ...(command.confidence === undefined ? {} : { confidence: command.confidence }),
    };
    const stats: StatsDelta | undefined =
      record.agentId === undefined
        ? undefined
        : {
            agent: record.agentId,
            ...(record.confidence === undefined ? {} : { confidence: record.confidence }),
            counters: ["requested"],
          };
    try {
      const created = await insertApprovalWithEvent(record, loaded.meta, event, stats, now);
      if (!created) logger.info("Approval already requested", { approvalId: id, jobId: state.jobId });
      return;
    } catch (error) {
      if (!(error instanceof JobChangedError)) throw error;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(500, 10 * 2 ** attempt) * (0.5 + Math.random())),
      );
    }
  }
  throw new Error(`Could not record the approval for ${state.jobId}/${key}: the job kept changing`);
}
