import type { z } from "zod";
import { CodeNode } from "#events/workflow";
import type { NodeKind } from "#shared/engine/nodes/kind";

/** A `code` node: JavaScript in the QuickJS sandbox, with `input`, `item`, `index`, `attempt` and `steps`. */
export const codeNode: NodeKind<z.infer<typeof CodeNode>> = {
  type: "code",
  schema: CodeNode,
  retryable: true,
  inline: true,
  runtimes: ["lambda", "fargate"],
  needsPerson: false,
  async run({ node, input, context, attempt, timeoutMs }) {
    // Loaded on first use: the sandbox carries QuickJS's WebAssembly build.
    const { runCode, SandboxError } = await import("#shared/engine/sandbox");
    const { logger } = await import("#shared/observability");
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
  },
};
