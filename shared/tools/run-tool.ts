import type { StepOutcome } from "#shared/engine/nodes/kind";
import { logger } from "../observability.ts";
import { createToolContext, invokeTool, redactDeep, resolveTool } from "./registry.ts";
import { ToolError } from "./types.ts";

export interface ToolStepParams {
  tenantId: string;
  jobId: string;
  nodeId: string;
  itemIndex?: number;
  attempt: number;
  /** The node's `tool`: a built-in name, or a custom tool's name or id. */
  tool: string;
  /** The node's resolved input: the tool's arguments. */
  input: unknown;
  timeoutMs: number;
}

/**
 * A `tool` node: the tool runs once with the node's resolved input as its arguments and the idempotency key
 * `jobId:nodeId:item:attempt`. A ToolError fails the attempt (retryable when another try could succeed:
 * a dropped connection, a timeout); anything else is the platform's and propagates.
 */
export async function runToolStep(params: ToolStepParams): Promise<StepOutcome> {
  const tool = await resolveTool(params.tenantId, params.tool);
  if (tool === undefined) {
    return {
      ok: false,
      error: { code: "UNKNOWN_TOOL", message: `There is no tool named ${params.tool}` },
      retryable: false,
    };
  }
  const controller = new AbortController();
  const deadline = Date.now() + params.timeoutMs;
  const timer = setTimeout(() => controller.abort(new Error("tool step timed out")), params.timeoutMs);
  const context = createToolContext({
    tenantId: params.tenantId,
    jobId: params.jobId,
    nodeId: params.nodeId,
    ...(params.itemIndex === undefined ? {} : { itemIndex: params.itemIndex }),
    attempt: params.attempt,
    deadline,
    signal: controller.signal,
  });
  const args = params.input === undefined ? {} : params.input;
  try {
    const output = await invokeTool(tool, args, context);
    return { ok: true, output };
  } catch (error) {
    if (error instanceof ToolError) {
      logger.info("Tool step failed", { nodeId: params.nodeId, tool: tool.name, code: error.code });
      return {
        ok: false,
        error: { code: error.code, message: String(redactDeep(error.message, context.secrets)) },
        retryable: error.retryable,
      };
    }
    if (controller.signal.aborted) {
      return {
        ok: false,
        error: { code: "TOOL_TIMEOUT", message: `Tool ${tool.name} ran past ${params.timeoutMs} ms` },
        retryable: true,
      };
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
