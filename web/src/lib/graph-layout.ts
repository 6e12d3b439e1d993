import { Graph, layout } from "@dagrejs/dagre";
import type { GraphModel } from "./graph-model.ts";

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 58;

export interface Positioned {
  id: string;
  x: number;
  y: number;
}

/** Left-to-right layers: a workflow reads like a sentence, and wide screens have room across. */
export function layoutGraph(model: GraphModel): Map<string, Positioned> {
  const graph = new Graph();
  graph.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 64, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of model.nodes) graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of model.edges) graph.setEdge(edge.source, edge.target);
  layout(graph);
  const positions = new Map<string, Positioned>();
  for (const node of model.nodes) {
    const placed = graph.node(node.id) as { x: number; y: number } | undefined;
    // dagre gives centres; React Flow wants top-left corners.
    positions.set(node.id, {
      id: node.id,
      x: (placed?.x ?? 0) - NODE_WIDTH / 2,
      y: (placed?.y ?? 0) - NODE_HEIGHT / 2,
    });
  }
  return positions;
}
