import { z } from "zod";

/** REST shapes of `/v1/approvals` and of an agent's review statistics. */

export const ApprovalStatus = z.enum(["pending", "approved", "rejected", "expired"]);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

export const ApprovalDecisionValue = z.enum(["approve", "reject"]);
export type ApprovalDecisionValue = z.infer<typeof ApprovalDecisionValue>;

export const ApprovalDecisionRecord = z.object({
  /** Principal id of the person (or API key) who decided. */
  by: z.string(),
  email: z.string().optional(),
  decision: ApprovalDecisionValue,
  comment: z.string().optional(),
  at: z.string(),
});
export type ApprovalDecisionRecord = z.infer<typeof ApprovalDecisionRecord>;

export const Approval = z
  .object({
    id: z.string(),
    jobId: z.string(),
    nodeId: z.string(),
    itemIndex: z.number().int().optional(),
    workflowName: z.string().optional(),
    /** Set for approvals that an agent's `review` asked for: the agent's name and id. */
    agent: z.string().optional(),
    agentId: z.string().optional(),
    message: z.string(),
    preview: z.unknown().optional(),
    confidence: z.number().optional(),
    status: ApprovalStatus,
    /** Roles (`admin`, `user`) or user emails allowed to decide; everyone with write access when absent. */
    approvers: z.array(z.string()).optional(),
    /** Approvals needed. A single rejection rejects. */
    quorum: z.number().int().min(1),
    decisions: z.array(ApprovalDecisionRecord),
    /** When a pending approval times out, and what it then resolves to. */
    expiresAt: z.string().optional(),
    onTimeout: ApprovalDecisionValue.optional(),
    /** The outcome sent to the job once resolved (for an expired approval, its onTimeout). */
    decision: ApprovalDecisionValue.optional(),
    createdAt: z.string(),
    resolvedAt: z.string().optional(),
  })
  .meta({ id: "Approval" });
export type Approval = z.infer<typeof Approval>;

export const ListApprovalsQuery = z
  .object({
    status: ApprovalStatus.optional(),
    jobId: z.string().min(1).max(64).optional(),
    cursor: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();
export type ListApprovalsQuery = z.infer<typeof ListApprovalsQuery>;

export const ListApprovalsResponse = z.object({ items: z.array(Approval), cursor: z.string().optional() });

export const DecideApprovalRequest = z
  .object({ decision: ApprovalDecisionValue, comment: z.string().max(2000).optional() })
  .strict();
export type DecideApprovalRequest = z.infer<typeof DecideApprovalRequest>;

export const ConfidenceBucket = z.object({
  /** Inclusive lower bound; the last bucket also holds 1.0. */
  from: z.number(),
  to: z.number(),
  requested: z.number().int(),
  approved: z.number().int(),
  rejected: z.number().int(),
});

export const AgentApprovalStats = z.object({
  agentId: z.string(),
  agent: z.string(),
  approvals: z.object({
    requested: z.number().int(),
    pending: z.number().int(),
    approved: z.number().int(),
    rejected: z.number().int(),
    expired: z.number().int(),
  }),
  /** Shares of the decided approvals (approved + rejected); null before the first decision. */
  approvalRate: z.number().nullable(),
  rejectionRate: z.number().nullable(),
  /** Review approvals by the agent's reported confidence, in buckets of 0.1. */
  confidence: z.array(ConfidenceBucket),
});
export type AgentApprovalStats = z.infer<typeof AgentApprovalStats>;
