/**
 * Request limits enforced by API Gateway in the cloud. Plain data with no CDK import, so the local twin
 * can enforce the very same numbers.
 */
import type { Role } from "#infra/manifest";

export interface UsagePlanLimits {
  /** Steady-state requests per second. */
  rateLimit: number;
  /** Requests allowed in a burst above the rate. */
  burstLimit: number;
  quota: { limit: number; period: "DAY" | "WEEK" | "MONTH" };
}

/**
 * One usage plan per role. The authorizer names the plan by returning that role's usage key, so the
 * bucket is shared by every caller holding the role.
 */
export const usagePlanLimits: Readonly<Record<Role, UsagePlanLimits>> = {
  admin: { rateLimit: 50, burstLimit: 100, quota: { limit: 2_000_000, period: "MONTH" } },
  user: { rateLimit: 25, burstLimit: 50, quota: { limit: 1_000_000, period: "MONTH" } },
  viewer: { rateLimit: 10, burstLimit: 20, quota: { limit: 250_000, period: "MONTH" } },
};

/** Ceiling for the whole REST stage, above every plan, so one stage cannot exhaust the account limit. */
export const restStageThrottle = { rateLimit: 200, burstLimit: 400 } as const;

/** Default route throttle for the WebSocket stage (messages per second across all connections). */
export const webSocketThrottle = { rateLimit: 100, burstLimit: 200 } as const;

/** WAF rate-based rule: requests per client IP in any 5-minute window before WAF blocks it. */
export const wafRequestsPerIpPer5Minutes = 3000;

export { usageKeyEnv } from "#shared/config";
