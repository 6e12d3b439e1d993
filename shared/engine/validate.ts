import { WORKER_TIMEOUT_SECONDS } from "#events/queues";
import type { WorkflowDefinition, WorkflowNode } from "#events/workflow";
import { hasExpression, isExpression, validateTemplate } from "#shared/engine/expressions";

/**
 * Semantic checks of a workflow that already passed the zod schema: the graph, the expressions, and the
 * names it refers to. Every problem names the node and the path to the offending field.
 */
export interface WorkflowProblem {
  nodeId?: string;
  path: (string | number)[];
  message: string;
}

export interface ValidateOptions {
  knownAgents?: (name: string) => boolean;
  knownTools?: (name: string) => boolean;
}

const FARGATE_TYPES = new Set<WorkflowNode["type"]>(["code", "tool", "agent"]);

/**
 * The longest attempt the worker Lambda can run: its timeout, less the time it spends claiming the step
 * and recording the result. Past this, Lambda would stop the worker mid-step and the attempt would be
 * redelivered until it dead-letters, so such a node must run on Fargate.
 */
export const LAMBDA_STEP_OVERHEAD_SECONDS = 20;
export const MAX_LAMBDA_STEP_SECONDS = WORKER_TIMEOUT_SECONDS - LAMBDA_STEP_OVERHEAD_SECONDS;
const SEGMENT = /\{%([\s\S]*?)%\}/g;
const STEPS_REF = /\$steps\.(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)/g;

/** Duplicate ids, unknown or self dependencies, and cycles: what would keep the engine from finishing. */
export function graphProblems(def: WorkflowDefinition): WorkflowProblem[] {
  const problems: WorkflowProblem[] = [];
  const firstIndex = new Map<string, number>();
  def.nodes.forEach((node, i) => {
    const seen = firstIndex.get(node.id);
    if (seen === undefined) firstIndex.set(node.id, i);
    else
      problems.push({
        nodeId: node.id,
        path: ["nodes", i, "id"],
        message: `duplicate node id "${node.id}" (first used by nodes[${seen}])`,
      });
  });

  def.nodes.forEach((node, i) => {
    const listed = new Set<string>();
    (node.dependsOn ?? []).forEach((parent, j) => {
      const path = ["nodes", i, "dependsOn", j];
      if (parent === node.id)
        problems.push({ nodeId: node.id, path, message: `node "${node.id}" depends on itself` });
      else if (!firstIndex.has(parent))
        problems.push({
          nodeId: node.id,
          path,
          message: `node "${node.id}" depends on unknown node "${parent}"`,
        });
      else if (listed.has(parent))
        problems.push({
          nodeId: node.id,
          path,
          message: `node "${node.id}" lists "${parent}" twice in dependsOn`,
        });
      listed.add(parent);
    });
  });

  for (const cycle of findCycles(def)) {
    const start = cycle[0] as string;
    problems.push({
      nodeId: start,
      path: ["nodes", firstIndex.get(start) ?? 0, "dependsOn"],
      message: `dependency cycle: ${[...cycle, start].join(" → ")} (each node depends on the next)`,
    });
  }
  return problems;
}

/** Each elementary cycle reached by a depth-first walk, reported once, rotated to start at its smallest id. */
function findCycles(def: WorkflowDefinition): string[][] {
  const parents = new Map<string, string[]>();
  for (const node of def.nodes) {
    if (!parents.has(node.id))
      parents.set(
        node.id,
        (node.dependsOn ?? []).filter((p) => p !== node.id),
      );
  }
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const cycles = new Map<string, string[]>();

  const visit = (id: string): void => {
    state.set(id, "visiting");
    stack.push(id);
    for (const parent of parents.get(id) ?? []) {
      if (!parents.has(parent)) continue;
      const s = state.get(parent);
      if (s === "visiting") {
        const cycle = stack.slice(stack.indexOf(parent));
        const smallest = cycle.indexOf([...cycle].sort()[0] as string);
        const rotated = [...cycle.slice(smallest), ...cycle.slice(0, smallest)];
        cycles.set(rotated.join("\u0000"), rotated);
      } else if (s === undefined) visit(parent);
    }
    stack.pop();
    state.set(id, "done");
  };
  for (const id of parents.keys()) if (!state.has(id)) visit(id);
  return [...cycles.values()];
}

/** Every string inside a JSON value, with its path. */
function* stringsIn(value: unknown, path: (string | number)[]): Generator<[string, (string | number)[]]> {
  if (typeof value === "string") yield [value, path];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* stringsIn(v, [...path, i]);
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) yield* stringsIn(v, [...path, k]);
}

/** The JSONata bodies of a string's `{% %}` segments. */
function expressionBodies(value: string): string[] {
  return [...value.matchAll(SEGMENT)].map((m) => m[1] ?? "");
}

function referencedSteps(body: string): string[] {
  return [...body.matchAll(STEPS_REF)].map((m) => (m[1] as string).replace(/^`|`$/g, ""));
}

function ancestorsOf(def: WorkflowDefinition): Map<string, Set<string>> {
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  const memo = new Map<string, Set<string>>();
  const walk = (id: string, trail: Set<string>): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const out = new Set<string>();
    for (const parent of byId.get(id)?.dependsOn ?? []) {
      if (trail.has(parent) || !byId.has(parent)) continue;
      out.add(parent);
      for (const a of walk(parent, new Set([...trail, parent]))) out.add(a);
    }
    memo.set(id, out);
    return out;
  };
  for (const node of def.nodes) walk(node.id, new Set([node.id]));
  return memo;
}

export function validateWorkflow(def: WorkflowDefinition, opts: ValidateOptions = {}): WorkflowProblem[] {
  const problems = graphProblems(def);
  const ids = new Set(def.nodes.map((n) => n.id));
  const ancestors = ancestorsOf(def);

  /**
   * Checks one templated string: syntax, then what it reads. `scope` says whether $item/$index exist there
   * and which nodes' outputs are sure to exist when it is evaluated (undefined: any node, for the output).
   */
  const checkString = (
    value: string,
    path: (string | number)[],
    node: WorkflowNode | undefined,
    scope: { item: boolean; visible?: Set<string> },
  ): void => {
    const where = node ? { nodeId: node.id } : {};
    const syntax = validateTemplate(value);
    if (syntax) {
      problems.push({ ...where, path, message: syntax });
      return;
    }
    for (const body of expressionBodies(value)) {
      if (!scope.item && /\$(item|index)\b/.test(body)) {
        const why = node?.forEach ? "is evaluated once for the whole node" : "has no forEach";
        problems.push({ ...where, path, message: `uses $item or $index, but this field ${why}` });
      }
      for (const ref of referencedSteps(body)) {
        if (!ids.has(ref)) {
          const hint = /[-]/.test(body) ? " (quote ids with dashes in backticks: $steps.`my-node`)" : "";
          problems.push({
            ...where,
            path,
            message: `reads $steps.${ref}, but there is no node "${ref}"${hint}`,
          });
        } else if (scope.visible && !scope.visible.has(ref)) {
          problems.push({
            ...where,
            path,
            message: `reads $steps.${ref}, but node "${node?.id}" does not depend on "${ref}" (directly or through its parents), so that output may not exist yet`,
          });
        }
      }
    }
  };

  /** `if` and `forEach` must be whole expressions: a plain string there is almost surely a mistake. */
  const checkWholeExpression = (
    value: string,
    path: (string | number)[],
    node: WorkflowNode,
    scope: { item: boolean; visible?: Set<string> },
  ): void => {
    if (!isExpression(value)) {
      problems.push({ nodeId: node.id, path, message: `must be a JSONata expression in {% … %}` });
      return;
    }
    checkString(value, path, node, scope);
  };

  def.nodes.forEach((node, i) => {
    const at = (...rest: (string | number)[]) => ["nodes", i, ...rest];
    const visible = ancestors.get(node.id) ?? new Set<string>();
    const nodeScope = { item: node.forEach !== undefined, visible };
    const wholeNodeScope = { item: false, visible };

    if (node.if !== undefined) checkWholeExpression(node.if, at("if"), node, wholeNodeScope);
    if (node.forEach !== undefined) checkWholeExpression(node.forEach, at("forEach"), node, wholeNodeScope);
    for (const [value, path] of stringsIn(node.input, at("input"))) {
      if (hasExpression(value)) checkString(value, path, node, nodeScope);
    }

    if (
      FARGATE_TYPES.has(node.type) &&
      node.runtime !== "fargate" &&
      node.timeoutSeconds !== undefined &&
      node.timeoutSeconds > MAX_LAMBDA_STEP_SECONDS
    ) {
      problems.push({
        nodeId: node.id,
        path: at("timeoutSeconds"),
        message: `timeoutSeconds ${node.timeoutSeconds} is longer than a step can run on Lambda (${MAX_LAMBDA_STEP_SECONDS} s); set runtime: "fargate" to run it longer`,
      });
    }

    if (node.runtime === "fargate" && !FARGATE_TYPES.has(node.type)) {
      problems.push({
        nodeId: node.id,
        path: at("runtime"),
        message: `runtime "fargate" applies only to code, tool and agent nodes, not ${node.type}`,
      });
    }

    switch (node.type) {
      case "agent":
        if (node.session !== undefined && hasExpression(node.session))
          checkString(node.session, at("session"), node, nodeScope);
        if (opts.knownAgents && !opts.knownAgents(node.agent)) {
          problems.push({ nodeId: node.id, path: at("agent"), message: `unknown agent "${node.agent}"` });
        }
        if (node.review?.notifyAt !== undefined && node.review.notifyAt > node.review.autoApproveAt) {
          problems.push({
            nodeId: node.id,
            path: at("review", "notifyAt"),
            message: `review.notifyAt (${node.review.notifyAt}) must not exceed review.autoApproveAt (${node.review.autoApproveAt})`,
          });
        }
        if (
          node.review?.minAutoApproveAt !== undefined &&
          node.review.minAutoApproveAt > node.review.autoApproveAt
        ) {
          problems.push({
            nodeId: node.id,
            path: at("review", "minAutoApproveAt"),
            message: `review.minAutoApproveAt (${node.review.minAutoApproveAt}) must not exceed review.autoApproveAt (${node.review.autoApproveAt})`,
          });
        }
        break;
      case "tool":
        if (opts.knownTools && !opts.knownTools(node.tool)) {
          problems.push({ nodeId: node.id, path: at("tool"), message: `unknown tool "${node.tool}"` });
        }
        break;
      case "approval":
        if (hasExpression(node.message)) checkString(node.message, at("message"), node, nodeScope);
        if (
          node.quorum !== undefined &&
          node.approvers !== undefined &&
          node.quorum > node.approvers.length
        ) {
          problems.push({
            nodeId: node.id,
            path: at("quorum"),
            message: `quorum ${node.quorum} is more than the ${node.approvers.length} approver(s) listed`,
          });
        }
        break;
      case "wait": {
        if ((node.seconds === undefined) === (node.until === undefined)) {
          problems.push({
            nodeId: node.id,
            path: at(),
            message: "a wait node needs exactly one of seconds or until",
          });
        }
        if (typeof node.seconds === "string") {
          checkWholeExpression(node.seconds, at("seconds"), node, nodeScope);
        }
        if (node.until !== undefined) {
          if (hasExpression(node.until)) checkString(node.until, at("until"), node, nodeScope);
          else if (Number.isNaN(Date.parse(node.until))) {
            problems.push({
              nodeId: node.id,
              path: at("until"),
              message: `until must be an ISO-8601 time or a {% %} expression, got ${JSON.stringify(node.until)}`,
            });
          }
        }
        break;
      }
      case "code":
        break;
    }
  });

  for (const [value, path] of stringsIn(def.output, ["output"])) {
    if (hasExpression(value)) checkString(value, path, undefined, { item: false });
  }
  return problems;
}
