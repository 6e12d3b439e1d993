import type { Problem } from "../api/api-error.ts";

/**
 * The line a problem points at, found in the text as typed: a node's problems point at its `"id"` line,
 * since paths like `nodes.2.dependsOn` have no position of their own.
 */
export function problemLine(text: string, parsed: unknown, problem: Problem): number | undefined {
  let nodeId = problem.nodeId;
  const index = /^nodes[.[](\d+)/.exec(problem.path)?.[1];
  if (
    nodeId === undefined &&
    index !== undefined &&
    parsed &&
    typeof parsed === "object" &&
    "nodes" in parsed
  ) {
    const nodes = (parsed as { nodes: unknown }).nodes;
    const node = Array.isArray(nodes) ? (nodes[Number(index)] as { id?: unknown } | undefined) : undefined;
    if (typeof node?.id === "string") nodeId = node.id;
  }
  if (nodeId === undefined) {
    const key = problem.path
      .split(/[.[\]]/)
      .filter(Boolean)
      .at(-1);
    if (!key || /^\d+$/.test(key)) return undefined;
    const line = text.split("\n").findIndex((l) => l.includes(`"${key}"`));
    return line === -1 ? undefined : line + 1;
  }
  const pattern = new RegExp(`"id"\\s*:\\s*${JSON.stringify(nodeId).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`);
  const line = text.split("\n").findIndex((l) => pattern.test(l));
  return line === -1 ? undefined : line + 1;
}

/** The same problem from the local and the server check is listed once, with its node when either knows it. */
export function mergeProblems(...lists: Problem[][]): Problem[] {
  const merged = new Map<string, Problem>();
  for (const problem of lists.flat()) {
    const key = `${problem.path}|${problem.message}`;
    const seen = merged.get(key);
    if (!seen || (seen.nodeId === undefined && problem.nodeId !== undefined)) merged.set(key, problem);
  }
  return [...merged.values()];
}

/** Names the node a path like `nodes.2.tool` is about, from the definition as parsed. */
export function withNodeId(problem: Problem, parsed: unknown): Problem {
  if (problem.nodeId !== undefined) return problem;
  const index = /^nodes\.(\d+)/.exec(problem.path)?.[1];
  if (index === undefined || !parsed || typeof parsed !== "object" || !("nodes" in parsed)) return problem;
  const nodes = (parsed as { nodes: unknown }).nodes;
  const node = Array.isArray(nodes) ? (nodes[Number(index)] as { id?: unknown } | undefined) : undefined;
  return typeof node?.id === "string" ? { ...problem, nodeId: node.id } : problem;
}
