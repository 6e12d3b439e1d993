import type { Agent } from "#events/agents";
import type { Limits } from "#events/limits";
import { costOf } from "../agents/prices.ts";
import type { StepOutcome } from "../engine/nodes/kind.ts";
import { logger } from "../observability.ts";
import {
  estimateTokens,
  queuedWaitSeconds,
  type TokenEstimate,
  totalTokens,
  windowOf,
  windowWaitSeconds,
} from "./accounting.ts";
import { adjust, getLimits, jobSk, reserve, windowSk, windowTtl } from "./store.ts";

interface Held {
  sk: string;
  field: "tokens" | "usd";
  amount: number;
}

/**
 * An admitted agent step: what it reserved, so it can settle the difference once its usage is known, and
 * the job budgets it must stay within while it runs.
 */
export interface AgentTicket {
  /** Why the step must stop now, when its usage so far would take its job past a `jobUsd` limit. */
  overJobBudget(usage: TokenEstimate): string | undefined;
  /** Replaces the reservations with the step's actual usage. Never throws: a miss is logged. */
  settle(usage: TokenEstimate): Promise<void>;
}

export type Admission = { ticket: AgentTicket } | { outcome: StepOutcome };

const NO_LIMITS: AgentTicket = { overJobBudget: () => undefined, settle: async () => {} };

export interface AdmitInput {
  tenantId: string;
  jobId: string;
  agent: Pick<Agent, "id" | "name" | "provider" | "model" | "maxTokens">;
  /** Everything the first model call sends: system prompt, history, prompt, tool schemas. */
  inputs: readonly (string | undefined)[];
  now?: Date;
}

function budgetExceeded(message: string): StepOutcome {
  return { ok: false, error: { code: "BUDGET_EXCEEDED", message }, retryable: false };
}

/** The step goes back to the queue for `seconds`, holding nothing; the same attempt runs then. */
export function waitOutcome(code: string, message: string, seconds: number): StepOutcome {
  return { ok: false, error: { code, message }, retryable: true, waitSeconds: seconds };
}

/** A provider's 429: a wait for as long as it asked (or a default), not a failed attempt. */
export function throttledOutcome(provider: string, retryAfterSeconds: number | undefined): StepOutcome {
  const seconds = queuedWaitSeconds(retryAfterSeconds);
  return waitOutcome(
    "PROVIDER_THROTTLED",
    `${provider} is throttling this tenant; the step runs again in ${seconds}s`,
    seconds,
  );
}

async function releaseAll(tenantId: string, held: Held[]): Promise<void> {
  await Promise.all(held.map((h) => adjust(tenantId, h.sk, h.field, -h.amount)));
}

/**
 * The one gate before an agent step's first model call. In order: the job's dollar budgets (tenant-wide,
 * then the agent's), which refuse with BUDGET_EXCEEDED; then the tokens-per-minute windows (tenant, then
 * agent), which refuse with a wait until the next window. Each is one conditional add; what a refusal
 * leaves reserved is given back.
 */
export async function admitAgentStep(input: AdmitInput): Promise<Admission> {
  const limits = await getLimits(input.tenantId);
  const agentLimits = limits.agents.find((a) => a.agentId === input.agent.id);
  const scopes = [
    { name: "tenant", label: "the tenant", limits: limits as Omit<Limits, "agents">, agentId: undefined },
    ...(agentLimits === undefined
      ? []
      : [
          {
            name: `agent:${input.agent.id}`,
            label: `agent ${input.agent.name}`,
            limits: agentLimits,
            agentId: input.agent.id,
          },
        ]),
  ];
  if (!scopes.some((s) => s.limits.tokensPerMinute !== undefined || s.limits.jobUsd !== undefined)) {
    return { ticket: NO_LIMITS };
  }
  const now = input.now ?? new Date();
  const estimate = estimateTokens(input.inputs, input.agent.maxTokens);
  const estimateUsd = costOf(input.agent.provider, input.agent.model, estimate);
  const held: Held[] = [];
  /** Per job budget: what the job had spent or reserved before this step, and the limit. */
  const budgets: { label: string; before: number; limit: number }[] = [];

  for (const scope of scopes) {
    const limit = scope.limits.jobUsd;
    if (limit === undefined) continue;
    const sk = jobSk(input.jobId, scope.agentId);
    const total = await reserve(input.tenantId, sk, "usd", estimateUsd, limit, { whenEmpty: false });
    if (total === undefined) {
      await releaseAll(input.tenantId, held);
      return {
        outcome: budgetExceeded(
          `The step would take the job past ${scope.label}'s budget of $${limit} per job (about $${estimateUsd.toFixed(6)} more)`,
        ),
      };
    }
    held.push({ sk, field: "usd", amount: estimateUsd });
    budgets.push({ label: scope.label, before: total - estimateUsd, limit });
  }

  const window = windowOf(now);
  const tokens = totalTokens(estimate);
  for (const scope of scopes) {
    const limit = scope.limits.tokensPerMinute;
    if (limit === undefined) continue;
    const sk = windowSk(scope.name, window);
    const total = await reserve(input.tenantId, sk, "tokens", tokens, limit, {
      whenEmpty: true,
      ttl: windowTtl(now),
    });
    if (total === undefined) {
      await releaseAll(input.tenantId, held);
      const seconds = windowWaitSeconds(now);
      logger.info("Agent step waits for its tokens-per-minute window", {
        jobId: input.jobId,
        scope: scope.name,
        limit,
        estimate: tokens,
        waitSeconds: seconds,
      });
      return {
        outcome: waitOutcome(
          "TOKEN_RATE_LIMITED",
          `${scope.label} is at its limit of ${limit} tokens per minute; the step runs in the next window (about ${seconds}s)`,
          seconds,
        ),
      };
    }
    held.push({ sk, field: "tokens", amount: tokens });
  }

  const costNow = (usage: TokenEstimate) => costOf(input.agent.provider, input.agent.model, usage);
  return {
    ticket: {
      overJobBudget(usage) {
        const spent = costNow(usage);
        for (const budget of budgets) {
          if (budget.before + spent > budget.limit) {
            return `The job passed ${budget.label}'s budget of $${budget.limit} per job ($${(budget.before + spent).toFixed(6)} spent or reserved)`;
          }
        }
        return undefined;
      },
      async settle(usage) {
        const actualUsd = costNow(usage);
        const actualTokens = totalTokens(usage);
        await Promise.all(
          held.map((h) =>
            adjust(input.tenantId, h.sk, h.field, (h.field === "usd" ? actualUsd : actualTokens) - h.amount),
          ),
        ).catch((error: Error) => {
          logger.error("Could not settle the step's reservations", {
            jobId: input.jobId,
            error: error.name,
            ...usage,
          });
        });
      },
    },
  };
}
