import type { z } from "zod";
import { AgentNode } from "#events/workflow";
import { reviewThresholds } from "#shared/calibration/calibrate";
import type { NodeKind } from "#shared/engine/nodes/kind";

export type Agent = z.infer<typeof AgentNode>;

/**
 * An `agent` node: the agent loop (model, tools, session history). With `review`, a result below the
 * confidence threshold waits for a person before the job goes on.
 */
export const agentNode: NodeKind<Agent> = {
  type: "agent",
  schema: AgentNode,
  retryable: true,
  inline: true,
  runtimes: ["lambda", "fargate"],
  needsPerson: false,
  validate(node, check) {
    if (node.session !== undefined) check.template(node.session, ["session"]);
    if (check.knownAgents && !check.knownAgents(node.agent))
      check.problem(["agent"], `unknown agent "${node.agent}"`);
    if (node.review?.notifyAt !== undefined && node.review.notifyAt > node.review.autoApproveAt)
      check.problem(
        ["review", "notifyAt"],
        `review.notifyAt (${node.review.notifyAt}) must not exceed review.autoApproveAt (${node.review.autoApproveAt})`,
      );
    if (
      node.review?.minAutoApproveAt !== undefined &&
      node.review.minAutoApproveAt > node.review.autoApproveAt
    )
      check.problem(
        ["review", "minAutoApproveAt"],
        `review.minAutoApproveAt (${node.review.minAutoApproveAt}) must not exceed review.autoApproveAt (${node.review.autoApproveAt})`,
      );
  },
  review(node, output, label) {
    if (!node.review) return { type: "accept" };
    const raw = (output as { confidence?: unknown } | null | undefined)?.confidence;
    const confidence = typeof raw === "number" && Number.isFinite(raw) ? raw : undefined;
    // An adaptive review routes with the thresholds the agent's calibration recommended for this result.
    const { autoApproveAt, notifyAt, reason } = reviewThresholds(node.review, output);
    const basis = reason === undefined ? "" : ` [${reason}]`;
    const approveBelow = notifyAt ?? autoApproveAt;
    if (confidence === undefined || confidence < approveBelow) {
      const why = confidence === undefined ? "reported no confidence" : `has confidence ${confidence}`;
      return {
        type: "review",
        message: `The result of ${label} ${why}, below ${approveBelow}. Approve it for the job to go on.${basis}`,
        ...(confidence === undefined ? {} : { confidence }),
        preview: output,
        note: `${label} needs approval: ${why}${basis}`,
      };
    }
    if (confidence < autoApproveAt)
      return {
        type: "accept",
        note: `approval.notice: ${label} went on with confidence ${confidence} (auto-approve at ${autoApproveAt})${basis}`,
      };
    if (reason !== undefined)
      return { type: "accept", note: `${label} auto-approved with confidence ${confidence}${basis}` };
    return { type: "accept" };
  },
};
