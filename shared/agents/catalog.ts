import type { ValidateOptions } from "../engine/validate.ts";
import { agentNames } from "../stores/agents.ts";
import { toolNames } from "../tools/registry.ts";

export { agentExists, resolveAgent } from "../stores/agents.ts";
export { toolExists } from "../tools/registry.ts";

/**
 * The `knownAgents` and `knownTools` predicates of `validateWorkflow` for one tenant. The validator is
 * synchronous, so the names are read up front: two queries, whatever the size of the workflow.
 */
export async function knownReferences(
  tenantId: string,
): Promise<Required<Pick<ValidateOptions, "knownAgents" | "knownTools">>> {
  const [agents, tools] = await Promise.all([agentNames(tenantId), toolNames(tenantId)]);
  return {
    knownAgents: (name) => agents.has(name) || agents.has(name.toLowerCase()),
    knownTools: (name) => tools.has(name) || tools.has(name.toLowerCase()),
  };
}
