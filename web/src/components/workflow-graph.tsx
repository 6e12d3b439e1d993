import "@xyflow/react/dist/base.css";
import {
  Background,
  Controls,
  type Edge,
  Handle,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
  useReactFlow,
  useStore,
  useUpdateNodeInternals,
} from "@xyflow/react";
import { memo, useEffect, useMemo } from "react";
import { useTheme } from "../hooks/use-theme.ts";
import { layoutGraph, NODE_HEIGHT, NODE_WIDTH } from "../lib/graph-layout.ts";
import type { GraphModel, GraphNodeModel } from "../lib/graph-model.ts";

type StepNodeData = { node: GraphNodeModel; selected: boolean; onSelect?: (id: string) => void };
type StepNode = Node<StepNodeData, "step">;

const STATUS_TEXT: Record<string, string> = { waiting_approval: "waiting approval" };

const StepNodeView = memo(function StepNodeView({ data: { node, selected, onSelect } }: NodeProps<StepNode>) {
  const status = node.status ? (STATUS_TEXT[node.status] ?? node.status) : undefined;
  const progress = node.progress ? `${node.progress.done}/${node.progress.total}` : undefined;
  const content = (
    <>
      <span className="graph-node-id">{node.id}</span>
      <span className="graph-node-meta">
        <span>{node.type}</span>
        {status && <span className="graph-node-status">{status}</span>}
        {progress && (
          <span className="graph-node-progress" title={`${progress} items succeeded`}>
            {progress}
          </span>
        )}
      </span>
    </>
  );
  const label = [`Step ${node.id}`, node.type, status, progress && `${progress} items`]
    .filter(Boolean)
    .join(", ");
  return (
    <div
      className={`graph-node status-${node.status ?? "none"}${selected ? " selected" : ""}`}
      data-node-id={node.id}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      {onSelect ? (
        <button
          type="button"
          className="graph-node-body nodrag"
          aria-pressed={selected}
          aria-label={label}
          onClick={() => onSelect(node.id)}
        >
          {content}
        </button>
      ) : (
        <div className="graph-node-body">{content}</div>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { step: StepNodeView };
/**
 * Fitting a wide graph would shrink its labels below reading size: fitting stops at MIN_FIT_ZOOM (node
 * labels stay at least about 9 px), and the rest is a pan or the zoom controls away.
 */
export const MIN_FIT_ZOOM = 0.7;
const FIT = { padding: 0.15, maxZoom: 1.2, minZoom: MIN_FIT_ZOOM };
/** The graph's box grows with the layout's height, within these bounds. */
const MIN_HEIGHT = 320;
const MAX_HEIGHT = 640;

/** Fits the graph again when its box changes size (a side panel opens, the window resizes). */
function FitOnResize() {
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  const { fitView } = useReactFlow();
  useEffect(() => {
    if (width > 0 && height > 0) void fitView(FIT);
  }, [width, height, fitView]);
  return null;
}

/**
 * Nodes are controlled and rebuilt on every status change. React Flow then takes them in afresh and may
 * drop the handle positions it measured, and with a fixed size nothing triggers a new measurement, so the
 * edges would vanish. Asking for the internals again after each change keeps the edges drawn.
 */
function RemeasureOnChange({ ids, version }: { ids: string[]; version: string }) {
  const updateNodeInternals = useUpdateNodeInternals();
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the nodes' content changes
  useEffect(() => {
    const frame = requestAnimationFrame(() => updateNodeInternals(ids));
    return () => cancelAnimationFrame(frame);
  }, [version]);
  return null;
}

export function WorkflowGraph({
  model,
  selectedId,
  onSelect,
  label,
}: {
  model: GraphModel;
  selectedId?: string | undefined;
  onSelect?: (id: string) => void;
  label: string;
}) {
  const { theme } = useTheme();
  // Layout depends only on the shape, not on statuses, so live updates do not move nodes around.
  const shape = `${model.nodes.map((n) => n.id).join(",")}|${model.edges.map((e) => `${e.source}>${e.target}`).join(",")}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the shape on purpose
  const positions = useMemo(() => layoutGraph(model), [shape]);

  const height = useMemo(() => {
    const bottom = Math.max(0, ...[...positions.values()].map((p) => p.y + NODE_HEIGHT));
    return Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, bottom * 0.9 + 80)));
  }, [positions]);

  const nodes = useMemo<StepNode[]>(
    () =>
      model.nodes.map((node) => ({
        id: node.id,
        type: "step",
        position: positions.get(node.id) ?? { x: 0, y: 0 },
        // Every node has the same fixed size. Saying so up front means React Flow never has to measure
        // (nodes rebuilt on a status change would otherwise lose their measurements and hide).
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        // Nodes that are neither selectable nor draggable get no pointer events; the button inside needs them.
        style: { pointerEvents: "all" },
        data: { node, selected: node.id === selectedId, ...(onSelect ? { onSelect } : {}) },
      })),
    [model.nodes, positions, selectedId, onSelect],
  );
  const statusOf = useMemo(() => new Map(model.nodes.map((n) => [n.id, n.status])), [model.nodes]);
  const edges = useMemo<Edge[]>(
    () =>
      model.edges.map((edge) => ({
        id: `${edge.source}->${edge.target}`,
        source: edge.source,
        target: edge.target,
        animated: statusOf.get(edge.target) === "running",
        className: `edge-${statusOf.get(edge.source) ?? "none"}`,
      })),
    [model.edges, statusOf],
  );

  return (
    <section className="graph" aria-label={label} style={{ height }}>
      <ReactFlow
        key={shape}
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        colorMode={theme}
        fitView
        fitViewOptions={FIT}
        minZoom={0.2}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        proOptions={{ hideAttribution: false }}
      >
        <Background gap={16} size={1} />
        <Controls showInteractive={false} fitViewOptions={FIT} />
        <FitOnResize />
        <RemeasureOnChange
          ids={model.nodes.map((n) => n.id)}
          version={`${model.nodes.map((n) => `${n.id}:${n.status ?? ""}:${n.progress ? `${n.progress.done}/${n.progress.total}` : ""}`).join(",")}|${selectedId ?? ""}`}
        />
      </ReactFlow>
    </section>
  );
}
