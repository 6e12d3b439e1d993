/**
 * Request limits enforced by API Gateway in the cloud. Plain data with no CDK import, so the local twin
 * can enforce the very same numbers.
 */
import type { UsagePlanName } from "#shared/auth/usage-keys";

export interface UsagePlanLimits {
  /** Steady-state requests per second. */
  rateLimit: number;
  /** Requests allowed in a burst above the rate. */
  burstLimit: number;
  quota: { limit: number; period: "DAY" | "WEEK" | "MONTH" };
}

/**
 * The usage plans. With an AUTHORIZER key source, API Gateway keeps one token bucket (and one quota) per API
 * key of a plan, so the platform gives each tenant and each Switchboard API key an API Gateway key of its
 * own: `tenant` is the plan of every tenant's signed-in users (one bucket per tenant, shared by its sessions),
 * and each API key goes in the plan of its role (one bucket per key). No bucket is shared across tenants.
 */
export const usagePlanLimits: Readonly<Record<UsagePlanName, UsagePlanLimits>> = {
  tenant: { rateLimit: 100, burstLimit: 200, quota: { limit: 5_000_000, period: "MONTH" } },
  admin: { rateLimit: 50, burstLimit: 100, quota: { limit: 2_000_000, period: "MONTH" } },
  user: { rateLimit: 25, burstLimit: 50, quota: { limit: 1_000_000, period: "MONTH" } },
  viewer: { rateLimit: 10, burstLimit: 20, quota: { limit: 250_000, period: "MONTH" } },
};

/**
 * Ceiling for the whole REST stage, above every plan, so one stage cannot exhaust the account limit: the
 * outer limit, shared by every caller of the stage.
 */
export const restStageThrottle = { rateLimit: 200, burstLimit: 400 } as const;

/** Default route throttle for the WebSocket stage (messages per second across all connections). */
export const webSocketThrottle = { rateLimit: 100, burstLimit: 200 } as const;

/** WAF rate-based rule: requests per client IP in any 5-minute window before WAF blocks it. */
export const wafRequestsPerIpPer5Minutes = 3000;

export { USAGE_PLANS, type UsagePlanName, usagePlanName } from "#shared/auth/usage-keys";
