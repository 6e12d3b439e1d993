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
};
