import type { NodeType, WorkflowNode } from "#events/workflow";
import { runAgentStep } from "#shared/agents/run-agent";
import { resolveTemplate } from "#shared/engine/expressions";
import type { BaseNode, NodeRunner, StepOutcome } from "#shared/engine/nodes/kind";
import { runCodeNode } from "#shared/engine/nodes/pure-runners";
import { runToolStep } from "#shared/tools/run-tool";

/**
 * The runners of the kinds that run on a worker, apart from the kinds themselves: the engine and the validator
 * import the kinds and stay free of the agent loop, the tools and the sandbox, which only the step runner
 * (shared/jobs/run-step.ts) imports, through this module. Static imports, not lazy ones: a bundle that never
 * runs a step drops them whole, where a dynamic import would keep its target's module graph.
 */
type Of<T extends NodeType> = Extract<WorkflowNode, { type: T }>;

function inputError(message: string): StepOutcome {
  return { ok: false, error: { code: "INPUT_ERROR", message }, retryable: false };
}

/** Calls the tool once, with the idempotency key `jobId:nodeId:item:attempt`. */
const runToolNode: NodeRunner<Of<"tool">> = ({ state, node, itemIndex, attempt, input, timeoutMs }) =>
  runToolStep({
    tenantId: state.tenantId,
    jobId: state.jobId,
    nodeId: node.id,
    ...(itemIndex === undefined ? {} : { itemIndex }),
    attempt,
    tool: node.tool,
    input,
    timeoutMs,
  });

/** Resolves the session, then runs the agent loop. */
const runAgentNode: NodeRunner<Of<"agent">> = async (run) => {
  const { state, node, itemIndex, attempt, input, context, timeoutMs } = run;
  let session: unknown;
  try {
    session = node.session === undefined ? undefined : await resolveTemplate(node.session, context);
  } catch (error) {
    return inputError(`Could not resolve the session of ${node.id}: ${(error as Error).message}`);
  }
  if (session !== undefined && (typeof session !== "string" || session === ""))
    return inputError(`The session of ${node.id} must be a session id (a string)`);
  return runAgentStep({
    tenantId: state.tenantId,
    jobId: state.jobId,
    nodeId: node.id,
    ...(itemIndex === undefined ? {} : { itemIndex }),
    attempt,
    agent: node.agent,
    ...(session === undefined ? {} : { session }),
    input,
    timeoutMs,
    workflow: state.definition.name,
    ...(node.review === undefined ? {} : { review: node.review }),
  });
};

/** Every kind with `runtimes` has one; the registry test checks that. */
const BUILT_IN: { [T in NodeType]?: NodeRunner<Of<T>> } = {
  code: runCodeNode,
  tool: runToolNode,
  agent: runAgentNode,
};

// Filled only by registerNodeRunner: a module-level call over BUILT_IN would keep every runner (and what it
// loads) in bundles that import this module without running steps.
const added = new Map<string, NodeRunner>();

export function nodeRunner(type: string): NodeRunner | undefined {
  return added.get(type) ?? (BUILT_IN[type as NodeType] as NodeRunner | undefined);
}

/** Adds the runner of a registered kind. Returns the way to take it out again. */
export function registerNodeRunner<N extends BaseNode>(type: N["type"], run: NodeRunner<N>): () => void {
  if (nodeRunner(type) !== undefined) throw new Error(`node type "${type}" already has a runner`);
  added.set(type, run as unknown as NodeRunner);
  return () => {
    added.delete(type);
  };
}
