import type { z } from "zod";
import { AgentNode } from "#events/workflow";
import { resolveTemplate } from "#shared/engine/expressions";
import type { NodeKind, StepOutcome } from "#shared/engine/nodes/kind";

type Agent = z.infer<typeof AgentNode>;

function inputError(message: string): StepOutcome {
  return { ok: false, error: { code: "INPUT_ERROR", message }, retryable: false };
}

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
  },
  review(node, output, label) {
    if (!node.review) return { type: "accept" };
    const raw = (output as { confidence?: unknown } | null | undefined)?.confidence;
    const confidence = typeof raw === "number" && Number.isFinite(raw) ? raw : undefined;
    const { autoApproveAt, notifyAt } = node.review;
    const approveBelow = notifyAt ?? autoApproveAt;
    if (confidence === undefined || confidence < approveBelow) {
      const why = confidence === undefined ? "reported no confidence" : `has confidence ${confidence}`;
      return {
        type: "review",
        message: `The result of ${label} ${why}, below ${approveBelow}. Approve it for the job to go on.`,
        ...(confidence === undefined ? {} : { confidence }),
        preview: output,
        note: `${label} needs approval: ${why}`,
      };
    }
    if (confidence < autoApproveAt)
      return {
        type: "accept",
        note: `approval.notice: ${label} went on with confidence ${confidence} (auto-approve at ${autoApproveAt})`,
      };
    return { type: "accept" };
  },
  async run({ state, node, itemIndex, attempt, input, context, timeoutMs }) {
    let session: unknown;
    try {
      session = node.session === undefined ? undefined : await resolveTemplate(node.session, context);
    } catch (error) {
      return inputError(`Could not resolve the session of ${node.id}: ${(error as Error).message}`);
    }
    if (session !== undefined && (typeof session !== "string" || session === ""))
      return inputError(`The session of ${node.id} must be a session id (a string)`);
    const { runAgentStep } = await import("#shared/agents/run-agent");
    return runAgentStep({
      tenantId: state.tenantId,
      jobId: state.jobId,
      nodeId: node.id,
      ...(itemIndex === undefined ? {} : { itemIndex }),
      attempt,
      agent: node.agent,
      ...(session === undefined ? {} : { session }),
      input,
      timeoutMs,
    });
  },
};
