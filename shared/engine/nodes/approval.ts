import type { z } from "zod";
import { ApprovalNode } from "#events/workflow";
import { resolveTemplate } from "#shared/engine/expressions";
import { messageOf, type NodeKind } from "#shared/engine/nodes/kind";

/** An `approval` node: the job waits until a person (or `quorum` of the `approvers`) decides. */
export const approvalNode: NodeKind<z.infer<typeof ApprovalNode>> = {
  type: "approval",
  schema: ApprovalNode,
  retryable: false,
  inline: false,
  runtimes: [],
  needsPerson: true,
  validate(node, check) {
    check.template(node.message, ["message"]);
    if (node.quorum !== undefined && node.approvers !== undefined && node.quorum > node.approvers.length)
      check.problem(
        ["quorum"],
        `quorum ${node.quorum} is more than the ${node.approvers.length} approver(s) listed`,
      );
  },
  async start(node, { context }) {
    try {
      const resolved = await resolveTemplate(node.message, context());
      return {
        type: "approval",
        message: typeof resolved === "string" ? resolved : JSON.stringify(resolved ?? ""),
      };
    } catch (error) {
      return { type: "fail", error: { code: "EXPRESSION_ERROR", message: messageOf(error) } };
    }
  },
  decided(node, decision) {
    if (decision === "approve") return { type: "succeed", output: { decision: "approve" } };
    if (node.onReject === "skip")
      return {
        type: "skip",
        output: { decision: "reject" },
        why: "the approval was rejected (onReject: skip)",
      };
    return { type: "fail", error: { code: "REJECTED", message: "the approval was rejected" } };
  },
};
