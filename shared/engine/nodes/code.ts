import type { z } from "zod";
import { CodeNode } from "#events/workflow";
import type { NodeKind } from "#shared/engine/nodes/kind";

/** A `code` node: JavaScript in the QuickJS sandbox, with `input`, `item`, `index`, `attempt` and `steps`. */
export const codeNode: NodeKind<z.infer<typeof CodeNode>> = {
  type: "code",
  schema: CodeNode,
  retryable: true,
  inline: true,
  // The sandbox has no I/O: an attempt that runs twice after a crash changes nothing but its result.
  pure: true,
  runtimes: ["lambda", "fargate"],
  needsPerson: false,
};
