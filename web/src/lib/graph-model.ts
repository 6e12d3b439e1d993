import type { Step, StepStatus } from "#events/jobs";

/** The least a node needs to be drawn; lenient so a half-typed definition still previews. */
export interface GraphSourceNode {
  id: string;
  type?: string;
  dependsOn?: string[];
  forEach?: unknown;
}

export interface GraphNodeModel {
  id: string;
  type: string;
  status?: StepStatus;
  /** `forEach` nodes: items that succeeded out of items fanned out. */
  progress?: { done: number; total: number };
  attempt?: number;
}

export interface GraphModel {
  nodes: GraphNodeModel[];
  edges: { source: string; target: string }[];
}

const ACTIVE: readonly StepStatus[] = ["running", "queued", "waiting", "waiting_approval"];

/** The status a fan-out shows when its own step is missing: the most telling status among its items. */
function aggregate(items: Step[]): StepStatus | undefined {
  if (items.length === 0) return undefined;
  for (const status of ["failed", ...ACTIVE] as StepStatus[]) {
    if (items.some((s) => s.status === status)) return status;
  }
  if (items.every((s) => s.status === "succeeded" || s.status === "skipped")) return "succeeded";
  return items[0]?.status;
}

/**
 * Nodes come from the definition when there is one (so steps not yet started still show, and edges come
 * from `dependsOn`), and otherwise from the steps alone, without edges.
 */
export function buildGraph(
  definitionNodes: readonly GraphSourceNode[] | undefined,
  steps: readonly Step[] = [],
): GraphModel {
  const byNode = new Map<string, Step[]>();
  for (const step of steps) {
    const list = byNode.get(step.nodeId) ?? [];
    list.push(step);
    byNode.set(step.nodeId, list);
  }
  const sources: GraphSourceNode[] = definitionNodes
    ? [...definitionNodes]
    : [...byNode.entries()].map(([id, list]) => ({ id, type: list[0]?.type ?? "" }));

  const ids = new Set(sources.map((n) => n.id));
  const nodes = sources.map((source): GraphNodeModel => {
    const all = byNode.get(source.id) ?? [];
    const own = all.find((s) => s.itemIndex === undefined);
    const items = all.filter((s) => s.itemIndex !== undefined);
    const fansOut = source.forEach !== undefined || own?.items !== undefined || items.length > 0;
    const status = own?.status ?? aggregate(items);
    const model: GraphNodeModel = { id: source.id, type: source.type ?? own?.type ?? "" };
    if (status) model.status = status;
    if (own?.attempt) model.attempt = own.attempt;
    if (fansOut && (own?.items !== undefined || items.length > 0)) {
      model.progress = {
        done: items.filter((s) => s.status === "succeeded").length,
        total: own?.items ?? items.length,
      };
    }
    return model;
  });
  const edges = sources.flatMap((source) =>
    (source.dependsOn ?? []).filter((dep) => ids.has(dep)).map((dep) => ({ source: dep, target: source.id })),
  );
  return { nodes, edges };
}

/** Pulls what can be drawn out of any parsed JSON, valid definition or not. */
export function previewNodes(value: unknown): GraphSourceNode[] {
  if (!value || typeof value !== "object" || !("nodes" in value) || !Array.isArray(value.nodes)) return [];
  const seen = new Set<string>();
  return value.nodes.flatMap((raw: unknown): GraphSourceNode[] => {
    if (!raw || typeof raw !== "object") return [];
    const node = raw as Record<string, unknown>;
    if (typeof node.id !== "string" || node.id === "" || seen.has(node.id)) return [];
    seen.add(node.id);
    const result: GraphSourceNode = { id: node.id, type: typeof node.type === "string" ? node.type : "?" };
    if (Array.isArray(node.dependsOn)) result.dependsOn = node.dependsOn.filter((d) => typeof d === "string");
    if (node.forEach !== undefined) result.forEach = node.forEach;
    return [result];
  });
}
