import { z } from "zod";

/** One scope's limits: tokens per minute (input plus output) and dollars per job. */
export const ScopeLimits = z.object({
  tokensPerMinute: z.number().int().min(1).optional(),
  jobUsd: z.number().positive().optional(),
});
export type ScopeLimits = z.infer<typeof ScopeLimits>;

export const AgentLimits = ScopeLimits.extend({ agentId: z.string(), agent: z.string() });
export type AgentLimits = z.infer<typeof AgentLimits>;

/**
 * Flow control for agent steps. A step over a tokens-per-minute limit waits (its message comes back when the
 * window has room; no compute is held) and then runs; a step whose estimated cost would take its job past a
 * `jobUsd` limit fails with BUDGET_EXCEEDED. The tenant's limits count every agent; an agent's count its own steps.
 */
export const Limits = ScopeLimits.extend({
  agents: z.array(AgentLimits),
  updatedAt: z.string().optional(),
}).meta({ id: "Limits" });
export type Limits = z.infer<typeof Limits>;

const Change = z
  .object({
    /** null removes the limit; a field left out keeps its value. */
    tokensPerMinute: z.number().int().min(1).max(1_000_000_000).nullable().optional(),
    jobUsd: z.number().positive().max(1_000_000).nullable().optional(),
  })
  .strict();

export const PutLimitsRequest = Change.extend({
  /** Per agent, by name or id; null removes every limit of that agent. */
  agents: z.record(z.string().min(1).max(200), Change.nullable()).optional(),
})
  .strict()
  .refine((body) => Object.keys(body.agents ?? {}).length <= 200, "at most 200 agents per request");
export type PutLimitsRequest = z.infer<typeof PutLimitsRequest>;

/** One limit against what the current minute's window (or the job) has used of it. */
export const WindowUsage = z.object({
  scope: z.string(),
  agentId: z.string().optional(),
  agent: z.string().optional(),
  /** The window's start (UTC, whole minute). */
  window: z.string(),
  tokensPerMinute: z.number().int(),
  /** Tokens counted in the window: settled usage plus reservations of steps still running. */
  used: z.number(),
});
export type WindowUsage = z.infer<typeof WindowUsage>;

export const LimitsUsage = z.object({
  limits: Limits,
  windows: z.array(WindowUsage),
});
export type LimitsUsage = z.infer<typeof LimitsUsage>;
