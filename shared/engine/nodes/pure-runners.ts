import type { NodeType, WorkflowNode } from "#events/workflow";
import type { NodeRunner } from "#shared/engine/nodes/kind";
import { runCode, SandboxError } from "#shared/engine/sandbox";
import { logger } from "#shared/observability";

/**
 * The runners of the pure kinds (NodeKind's `pure`: no I/O, so a run may be repeated and need not be claimed).
 * The start of a job runs such steps itself (shared/jobs/pure-chain.ts) and imports only these, so the
 * functions that start jobs carry no agent loop, tools or WebSocket pushes. runners.ts adds the rest.
 */
type Of<T extends NodeType> = Extract<WorkflowNode, { type: T }>;

/** Runs the code in a fresh sandbox with the step's limit. */
export const runCodeNode: NodeRunner<Of<"code">> = async ({ node, input, context, attempt, timeoutMs }) => {
  try {
    const result = await runCode(
      node.code,
      { input, item: context.item, index: context.index, attempt, steps: context.steps ?? {} },
      { timeoutMs },
    );
    return { ok: true, output: result.output, logs: result.logs };
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    logger.info("Code step failed", { nodeId: node.id, code: error.code });
    // Running out of memory will happen again on the same input; a throw or a timeout may not.
    return {
      ok: false,
      error: { code: error.code, message: error.message },
      retryable: error.code !== "CODE_MEMORY",
      logs: error.logs,
    };
  }
};

/** The runner of a pure node type, or undefined. */
export function pureRunner(type: string): NodeRunner | undefined {
  return type === "code" ? (runCodeNode as NodeRunner) : undefined;
}
