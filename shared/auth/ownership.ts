import { notFound } from "../errors.ts";
import type { Principal } from "../http/api.ts";
import { resolveAgent } from "../stores/agents.ts";
import { creatorOf } from "../stores/creators.ts";
import { getTenantSettings } from "../stores/tenant-settings.ts";

/**
 * What a caller may see of its tenant's jobs, workflows, agents, tools and schedules. `ownerId` set means
 * only what that principal created: a `user` in a tenant whose `resourceAccess` is `owner`. Admins see
 * everything; viewers change nothing and read everything. An API key is a principal of its own: what it
 * creates is its own, not its minting user's.
 */
export interface AccessScope {
  tenantId: string;
  ownerId?: string;
}

/** Reads the tenant's setting only for callers it can restrict, so admin and viewer requests cost nothing. */
export async function accessScope(principal: Pick<Principal, "tenantId" | "principalId" | "role">) {
  const scope: AccessScope = { tenantId: principal.tenantId };
  if (principal.role !== "user") return scope;
  const settings = await getTenantSettings(principal.tenantId);
  return settings.resourceAccess === "owner" ? { ...scope, ownerId: principal.principalId } : scope;
}

/** The one predicate: the REST routes and the WebSocket subscriptions both decide with it. */
export function mayAccess(scope: Pick<AccessScope, "ownerId">, createdBy: string | undefined): boolean {
  return scope.ownerId === undefined || scope.ownerId === createdBy;
}

/** A resource the caller may not see is answered exactly as one of another tenant: 404. */
export function visibleOrNotFound<T extends { createdBy?: string | undefined }>(
  scope: AccessScope,
  resource: T | undefined,
  what: string,
  id: string,
): T {
  if (resource === undefined || !mayAccess(scope, resource.createdBy)) throw notFound(what, id);
  return resource;
}

/** For routes that act on a job, workflow or schedule by id: one projected read, only for a restricted caller. */
export async function requireAccess(
  scope: AccessScope,
  kind: "job" | "workflow" | "schedule",
  id: string,
): Promise<void> {
  if (scope.ownerId === undefined) return;
  const createdBy = await creatorOf(kind, scope.tenantId, id);
  const what = kind === "job" ? "Job" : kind === "workflow" ? "Workflow" : "Schedule";
  if (createdBy === undefined || !mayAccess(scope, createdBy)) throw notFound(what, id);
}

/**
 * The subscribers that may receive an event of this job: a tenant-wide subscription made under owner-only
 * access gets only its owner's jobs. The job's creator is read once, and only when such a subscriber exists.
 */
export async function subscribersAllowed<S extends { ownerId?: string | undefined }>(
  tenantId: string,
  jobId: string,
  subscribers: S[],
): Promise<S[]> {
  if (!subscribers.some((s) => s.ownerId !== undefined)) return subscribers;
  const createdBy = await creatorOf("job", tenantId, jobId);
  return subscribers.filter((s) => mayAccess(s, createdBy));
}

/** Under owner-only access, an agent (by id or name) another principal created is not found; others skip the read. */
export async function requireAgentAccess(
  principal: Pick<Principal, "tenantId" | "principalId" | "role">,
  id: string,
) {
  const scope = await accessScope(principal);
  if (scope.ownerId !== undefined)
    visibleOrNotFound(scope, await resolveAgent(principal.tenantId, id), "Agent", id);
}
