import type { AgentLimits, Limits, LimitsUsage, PutLimitsRequest, ScopeLimits } from "#events/limits";
import { AppError, validationFailed } from "../errors.ts";
import { resolveAgent } from "../stores/agents.ts";
import { windowOf } from "./accounting.ts";
import { counterValue, getLimits, windowSk, writeLimits } from "./store.ts";

type Change = { tokensPerMinute?: number | null | undefined; jobUsd?: number | null | undefined };

function apply(current: ScopeLimits, change: Change): ScopeLimits {
  const next: ScopeLimits = {};
  const tokens = change.tokensPerMinute === undefined ? current.tokensPerMinute : change.tokensPerMinute;
  const usd = change.jobUsd === undefined ? current.jobUsd : change.jobUsd;
  if (tokens !== null && tokens !== undefined) next.tokensPerMinute = tokens;
  if (usd !== null && usd !== undefined) next.jobUsd = usd;
  return next;
}

/** Merges a change into the limits: fields left out keep their value, null removes one. */
export async function putLimits(tenantId: string, change: PutLimitsRequest): Promise<Limits> {
  const resolved: { agent: { id: string; name: string }; change: Change | null }[] = [];
  const problems: { path: string; message: string; code: string }[] = [];
  for (const [ref, agentChange] of Object.entries(change.agents ?? {})) {
    const agent = await resolveAgent(tenantId, ref);
    if (agent === undefined)
      problems.push({ path: `agents.${ref}`, message: `unknown agent "${ref}"`, code: "custom" });
    else resolved.push({ agent, change: agentChange });
  }
  if (problems.length > 0) throw validationFailed("The limits are not valid", problems);
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await getLimits(tenantId);
    const { agents: currentAgents, updatedAt, ...tenant } = current;
    const agents = new Map<string, AgentLimits>(currentAgents.map((a) => [a.agentId, a]));
    for (const { agent, change: agentChange } of resolved) {
      const before = agents.get(agent.id) ?? { agentId: agent.id, agent: agent.name };
      const after = agentChange === null ? {} : apply(before, agentChange);
      if (after.tokensPerMinute === undefined && after.jobUsd === undefined) agents.delete(agent.id);
      else agents.set(agent.id, { agentId: agent.id, agent: agent.name, ...after });
    }
    const next: Limits = { ...apply(tenant, change), agents: [...agents.values()] };
    if (await writeLimits(tenantId, next, updatedAt)) return getLimits(tenantId);
  }
  throw new AppError(409, "CONFLICT", "The limits changed meanwhile; try again");
}

/** Every tokens-per-minute limit against what its current window has counted. */
export async function limitsUsage(tenantId: string, now = new Date()): Promise<LimitsUsage> {
  const limits = await getLimits(tenantId);
  const window = windowOf(now);
  const scopes = [
    ...(limits.tokensPerMinute === undefined ? [] : [{ scope: "tenant", limit: limits.tokensPerMinute }]),
    ...limits.agents.flatMap((a) =>
      a.tokensPerMinute === undefined
        ? []
        : [{ scope: `agent:${a.agentId}`, agentId: a.agentId, agent: a.agent, limit: a.tokensPerMinute }],
    ),
  ];
  const windows = await Promise.all(
    scopes.map(async ({ limit, ...scope }) => ({
      ...scope,
      window: `${window}:00Z`,
      tokensPerMinute: limit,
      used: Math.max(0, await counterValue(tenantId, windowSk(scope.scope, window), "tokens")),
    })),
  );
  return { limits, windows };
}
