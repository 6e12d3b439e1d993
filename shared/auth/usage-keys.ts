/**
 * Who shares a request bucket. API Gateway throttles and counts quota per API key of a usage plan, so each
 * tenant (for its signed-in users) and each Switchboard API key has an API Gateway key of its own. The key's
 * value is derived here from the deployment's namespace and the owner's id, so the authorizer names it as
 * `usageIdentifierKey` without a lookup, and nothing has to be stored. It is not a secret: with an
 * AUTHORIZER key source, a caller cannot present a usage key, only the authorizer can.
 */
import { createHash } from "node:crypto";
import type { Role } from "#events/auth";
import { ENV, requireEnv } from "../config.ts";

/** `tenant` holds the tenants' keys; the role plans hold the API keys of that role. */
export const USAGE_PLANS = ["tenant", "admin", "user", "viewer"] as const;
export type UsagePlanName = (typeof USAGE_PLANS)[number];

export type UsageSubject =
  | { kind: "tenant"; tenantId: string }
  | { kind: "apiKey"; keyId: string; role: Role };

export const usageNamespace = () => requireEnv(ENV.usageNamespace);

export const usagePlanName = (namespace: string, plan: UsagePlanName) => `${namespace}-${plan}`;

export const planOf = (subject: UsageSubject): UsagePlanName =>
  subject.kind === "tenant" ? "tenant" : subject.role;

/** Unique per deployment and owner, so operators can find a tenant's or key's usage key by name. */
export function usageKeyName(namespace: string, subject: UsageSubject): string {
  return subject.kind === "tenant"
    ? `${namespace}-tenant-${subject.tenantId}`
    : `${namespace}-key-${subject.keyId}`;
}

/** API Gateway wants 20 to 128 alphanumeric characters, unique in the account and region. */
export function usageKeyValue(namespace: string, subject: UsageSubject): string {
  const owner = subject.kind === "tenant" ? `tenant:${subject.tenantId}` : `key:${subject.keyId}`;
  return `sb${createHash("sha256").update(`${namespace}\n${owner}`).digest("hex").slice(0, 40)}`;
}
