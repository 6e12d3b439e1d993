import type { NodeType, WorkflowNode } from "#events/workflow";
import { agentNode } from "#shared/engine/nodes/agent";
import { approvalNode } from "#shared/engine/nodes/approval";
import { codeNode } from "#shared/engine/nodes/code";
import type { BaseNode, NodeKind } from "#shared/engine/nodes/kind";
import { toolNode } from "#shared/engine/nodes/tool";
import { waitNode } from "#shared/engine/nodes/wait";

export type * from "#shared/engine/nodes/kind";

/** One entry per node type of the schema: a type without a kind, or a kind of the wrong type, fails to compile. */
const BUILT_IN: { [T in NodeType]: NodeKind<Extract<WorkflowNode, { type: T }>> } = {
  code: codeNode,
  tool: toolNode,
  agent: agentNode,
  approval: approvalNode,
  wait: waitNode,
};

const kinds = new Map<string, NodeKind>(Object.values(BUILT_IN).map((kind) => [kind.type, kind as NodeKind]));

/** The kind of a node type; undefined for a type nothing registered. */
export function nodeKind(type: string): NodeKind | undefined {
  return kinds.get(type);
}

export function nodeKinds(): NodeKind[] {
  return [...kinds.values()];
}

/**
 * Adds a kind (a node type the schema does not know yet, say, in a test). Returns the way to take it out
 * again. A built-in type cannot be replaced.
 */
export function registerNodeKind<N extends BaseNode>(kind: NodeKind<N>): () => void {
  if (kind.type in BUILT_IN) throw new Error(`node type "${kind.type}" is built in`);
  if (kinds.has(kind.type)) throw new Error(`node type "${kind.type}" is already registered`);
  kinds.set(kind.type, kind as unknown as NodeKind);
  return () => {
    kinds.delete(kind.type);
  };
}
