import { z } from "zod";

/**
 * The calibration rule: the recommended `autoApproveAt` is the lowest edge t of a band with decisions such that, of the human
 * decisions on this agent's results with confidence ≥ t, there are at least `MIN_DECISIONS` and people
 * approved at least `TARGET_APPROVAL_RATE` of them.
 */
export const CALIBRATION_RULE = { minDecisions: 20, targetApprovalRate: 0.95, bandWidth: 0.1 } as const;

export const CalibrationBand = z.object({
  from: z.number(),
  to: z.number(),
  decisions: z.number().int(),
  approved: z.number().int(),
  rejected: z.number().int(),
  /** approved / decisions; null when nobody decided a result in this band. */
  approvalRate: z.number().nullable(),
});

export const AgentCalibration = z.object({
  agentId: z.string(),
  agent: z.string(),
  rule: z.object({ minDecisions: z.number().int(), targetApprovalRate: z.number(), bandWidth: z.number() }),
  bands: z.array(CalibrationBand),
  /** The lowest autoApproveAt the rule supports; null until enough decisions agree. */
  recommendedAutoApproveAt: z.number().nullable(),
  /** Decisions at or above the recommendation, and their approval rate. */
  support: z.object({ decisions: z.number().int(), approvalRate: z.number().nullable() }),
  reason: z.string(),
});
export type AgentCalibration = z.infer<typeof AgentCalibration>;
