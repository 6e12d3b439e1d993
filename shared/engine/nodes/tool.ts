import type { z } from "zod";
import { ToolNode } from "#events/workflow";
import type { NodeKind } from "#shared/engine/nodes/kind";

/** A `tool` node: one call of a built-in or custom tool, with the node's resolved input as its arguments. */
export const toolNode: NodeKind<z.infer<typeof ToolNode>> = {
  type: "tool",
  schema: ToolNode,
  retryable: true,
  inline: true,
  runtimes: ["lambda", "fargate"],
  needsPerson: false,
  validate(node, check) {
    if (check.knownTools && !check.knownTools(node.tool))
      check.problem(["tool"], `unknown tool "${node.tool}"`);
  },
};
