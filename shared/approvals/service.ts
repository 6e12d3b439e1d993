import type {
  AgentApprovalStats,
  Approval,
  ApprovalDecisionValue,
  ApprovalStatus,
  DecideApprovalRequest,
} from "#events/approvals";
import type { Role } from "#events/auth";
import { resolveAgent } from "../agents/catalog.ts";
import { decide } from "../engine/engine.ts";
import { chunkOf, stepKey } from "../engine/types.ts";
import { conflict, forbidden, notFound } from "../errors.ts";
import { decideAndCommit } from "../jobs/unit-of-work.ts";
import { logger } from "../observability.ts";
import {
  ApprovalChangedError,
  type ApprovalRecord,
  getAgentStatsItem,
  getApprovalRecord,
  listApprovalRecords,
  markApplied,
  replaceApproval,
  type StatsDelta,
} from "../stores/approvals.ts";
import { withChunk } from "../stores/jobs/chunks.ts";
import { loadJob } from "../stores/jobs.ts";
import { nextDue } from "./request.ts";

/** How long the sweeper waits before delivering a resolution whose delivery was interrupted. */
const APPLY_RETRY_SECONDS = 60;
const MAX_ATTEMPTS = 8;

export interface Decider {
  tenantId: string;
  principalId: string;
  role: Role;
  email?: string;
}

export function toApproval(record: ApprovalRecord): Approval {
  const {
    tenantId: _tenant,
    attempt: _attempt,
    stepStartedAt: _started,
    applied: _applied,
    dueAt: _due,
    version: _version,
    ...rest
  } = record;
  return rest;
}

/**
 * Viewers never decide. When the approval names approvers, the caller must hold one of the listed roles or be
 * one of the listed users (by email); otherwise anyone who may write in the tenant may decide.
 */
export function mayDecide(
  record: Pick<ApprovalRecord, "approvers">,
  decider: Pick<Decider, "role" | "email">,
): boolean {
  if (decider.role === "viewer") return false;
  if (record.approvers === undefined || record.approvers.length === 0) return true;
  const email = decider.email?.toLowerCase();
  return record.approvers.some((approver) =>
    approver.includes("@")
      ? email !== undefined && approver.toLowerCase() === email
      : approver === decider.role,
  );
}

/** Whether the job's step still waits for this very approval (not cancelled, not re-run since). */
async function stepStillWaits(record: ApprovalRecord): Promise<boolean> {
  const found = await loadJob(record.tenantId, record.jobId);
  const loaded =
    found === undefined || record.itemIndex === undefined
      ? found
      : await withChunk(found, record.nodeId, chunkOf(record.itemIndex));
  const step = loaded?.state.steps[stepKey(record.nodeId, record.itemIndex)];
  return (
    step !== undefined &&
    step.status === "waiting_approval" &&
    step.attempt === record.attempt &&
    (record.stepStartedAt === undefined || step.startedAt === record.stepStartedAt)
  );
}

function statsFor(record: ApprovalRecord, counter: StatsDelta["counters"][number]): StatsDelta | undefined {
  if (record.agentId === undefined) return undefined;
  return {
    agent: record.agentId,
    ...(record.confidence === undefined ? {} : { confidence: record.confidence }),
    counters: [counter],
  };
}

/**
 * Tells the job's engine about a resolution, with `approval.resolved` in the same commit, then marks the
 * approval applied. Safe to repeat: once the step stopped waiting for this approval, nothing is written. The
 * approval stays on the sweep index until marked, so an interrupted delivery is finished by the sweeper.
 */
export async function applyResolution(record: ApprovalRecord): Promise<void> {
  const decision = record.decision;
  if (decision === undefined) {
    await markApplied(record);
    return;
  }
  const key = stepKey(record.nodeId, record.itemIndex);
  await decideAndCommit(
    record.tenantId,
    record.jobId,
    async (loaded) => {
      const step = loaded.state.steps[key];
      const waits =
        step !== undefined &&
        step.status === "waiting_approval" &&
        step.attempt === record.attempt &&
        (record.stepStartedAt === undefined || step.startedAt === record.stepStartedAt);
      if (!waits) return undefined;
      const event = {
        type: "approvalDecided" as const,
        nodeId: record.nodeId,
        ...(record.itemIndex === undefined ? {} : { itemIndex: record.itemIndex }),
        decision,
      };
      return {
        decision: await decide(loaded.state, event, new Date()),
        extraEvents: [
          {
            type: "approval.resolved" as const,
            approvalId: record.id,
            nodeId: record.nodeId,
            decision,
            ...(record.decisions.length === 0 ? {} : { decisions: record.decisions }),
          },
        ],
        result: undefined,
      };
    },
    record.itemIndex === undefined
      ? {}
      : { chunk: { nodeId: record.nodeId, chunk: chunkOf(record.itemIndex) } },
  );
  await markApplied(record);
}

function resolutionOf(record: ApprovalRecord): ApprovalStatus {
  if (record.decisions.some((d) => d.decision === "reject")) return "rejected";
  const approvals = record.decisions.filter((d) => d.decision === "approve").length;
  return approvals >= record.quorum ? "approved" : "pending";
}

/** Closes an approval whose step no longer waits (its job was cancelled or re-run): nothing to tell the job. */
async function closeStale(record: ApprovalRecord, now: Date): Promise<void> {
  const { dueAt: _due, ...rest } = record;
  await replaceApproval(
    record,
    { ...rest, status: "expired", resolvedAt: now.toISOString(), applied: true },
    statsFor(record, "expired"),
  );
}

/**
 * Records one person's decision. Quorum approvals approve; a single rejection rejects. Each person decides
 * once, and a closed approval takes no more decisions.
 */
export async function decideApproval(
  decider: Decider,
  approvalId: string,
  body: DecideApprovalRequest,
  now = new Date(),
): Promise<Approval> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await getApprovalRecord(decider.tenantId, approvalId);
    if (current === undefined) throw notFound("Approval", approvalId);
    if (!mayDecide(current, decider)) throw forbidden("You are not one of this approval's approvers");
    if (current.status !== "pending") throw conflict(`Approval ${approvalId} is already ${current.status}`);
    if (current.decisions.some((d) => d.by === decider.principalId)) {
      throw conflict(`You already decided on approval ${approvalId}`);
    }
    if (!(await stepStillWaits(current))) {
      try {
        await closeStale(current, now);
      } catch (error) {
        if (!(error instanceof ApprovalChangedError)) throw error;
        continue;
      }
      throw conflict(`Approval ${approvalId} is closed: its step no longer waits for it`);
    }
    const next: ApprovalRecord = {
      ...current,
      decisions: [
        ...current.decisions,
        {
          by: decider.principalId,
          ...(decider.email === undefined ? {} : { email: decider.email }),
          decision: body.decision,
          ...(body.comment === undefined ? {} : { comment: body.comment }),
          at: now.toISOString(),
        },
      ],
    };
    const status = resolutionOf(next);
    let stats: StatsDelta | undefined;
    if (status !== "pending") {
      next.status = status;
      next.decision = status === "approved" ? "approve" : "reject";
      next.resolvedAt = now.toISOString();
      next.dueAt = new Date(now.getTime() + APPLY_RETRY_SECONDS * 1000).toISOString();
      stats = statsFor(next, status === "approved" ? "approved" : "rejected");
    }
    try {
      await replaceApproval(current, next, stats);
    } catch (error) {
      // Someone else decided at the same moment: read their decision and judge again.
      if (error instanceof ApprovalChangedError) continue;
      throw error;
    }
    if (status !== "pending") {
      try {
        await applyResolution(next);
      } catch (error) {
        // The decision is recorded and the approval stays on the sweep index: the sweeper delivers it.
        logger.error("Could not deliver an approval's resolution yet", {
          approvalId,
          error: (error as Error).message,
        });
      }
    }
    return toApproval(next);
  }
  throw conflict(`Approval ${approvalId} is being decided by others; try again`);
}

/**
 * The sweeper's look at a due approval: expire it when its time is up (resolving as its onTimeout says),
 * close it when its step stopped waiting, finish an interrupted delivery, or book the next look.
 */
export async function sweepApproval(tenantId: string, approvalId: string, now = new Date()): Promise<void> {
  const record = await getApprovalRecord(tenantId, approvalId);
  if (record === undefined) return;
  try {
    if (record.status !== "pending") {
      if (record.applied) await markApplied(record);
      else await applyResolution(record);
      return;
    }
    if (record.expiresAt !== undefined && record.expiresAt <= now.toISOString()) {
      const decision: ApprovalDecisionValue = record.onTimeout ?? "reject";
      const next: ApprovalRecord = {
        ...record,
        status: "expired",
        decision,
        resolvedAt: now.toISOString(),
        dueAt: new Date(now.getTime() + APPLY_RETRY_SECONDS * 1000).toISOString(),
      };
      await replaceApproval(record, next, statsFor(record, "expired"));
      await applyResolution(next);
      return;
    }
    if (!(await stepStillWaits(record))) {
      await closeStale(record, now);
      return;
    }
    await replaceApproval(record, { ...record, dueAt: nextDue(record, now) });
  } catch (error) {
    // A decision landed meanwhile; the approval is due again if anything is left to do.
    if (error instanceof ApprovalChangedError) {
      logger.info("Approval changed while the sweeper looked at it", { approvalId });
      return;
    }
    throw error;
  }
}

export async function getApproval(tenantId: string, approvalId: string): Promise<Approval> {
  const record = await getApprovalRecord(tenantId, approvalId);
  if (record === undefined) throw notFound("Approval", approvalId);
  return toApproval(record);
}

export async function listApprovals(
  tenantId: string,
  options: { status?: ApprovalStatus; jobId?: string; cursor?: string; limit: number },
): Promise<{ items: Approval[]; cursor?: string }> {
  const page = await listApprovalRecords(tenantId, options);
  return { ...page, items: page.items.map(toApproval) };
}

/**
 * Approval and rejection rates of an agent's reviewed results, and how its confidence was spread. The agent
 * is named by id or name, as in a workflow node.
 */
export async function agentApprovalStats(tenantId: string, nameOrId: string): Promise<AgentApprovalStats> {
  const found = await resolveAgent(tenantId, nameOrId);
  if (found === undefined) throw notFound("Agent", nameOrId);
  const item = (await getAgentStatsItem(tenantId, found.id)) ?? {};
  const count = (field: string) => Number(item[field] ?? 0);
  const approved = count("approved");
  const rejected = count("rejected");
  const expired = count("expired");
  const requested = count("requested");
  const decided = approved + rejected;
  return {
    agentId: found.id,
    agent: found.name,
    approvals: {
      requested,
      pending: Math.max(0, requested - approved - rejected - expired),
      approved,
      rejected,
      expired,
    },
    approvalRate: decided === 0 ? null : approved / decided,
    rejectionRate: decided === 0 ? null : rejected / decided,
    confidence: Array.from({ length: 10 }, (_, bucket) => ({
      from: bucket / 10,
      to: (bucket + 1) / 10,
      requested: count(`conf${bucket}_requested`),
      approved: count(`conf${bucket}_approved`),
      rejected: count(`conf${bucket}_rejected`),
    })),
  };
}
