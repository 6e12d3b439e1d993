import { z } from "zod";

/**
 * `tenant`: everyone in the tenant sees every job, workflow, agent, tool and schedule (the default).
 * `owner`: a `user` sees and changes only those it created; admins see all, and viewers (who change
 * nothing) still read all.
 */
export const ResourceAccess = z.enum(["tenant", "owner"]);
export type ResourceAccess = z.infer<typeof ResourceAccess>;

export const TenantSettings = z.object({
  resourceAccess: ResourceAccess,
  updatedAt: z.string().optional(),
  updatedBy: z.string().optional(),
});
export type TenantSettings = z.infer<typeof TenantSettings>;

export const PutTenantSettingsRequest = z.object({ resourceAccess: ResourceAccess.optional() }).strict();
export type PutTenantSettingsRequest = z.infer<typeof PutTenantSettingsRequest>;

export const DEFAULT_TENANT_SETTINGS: TenantSettings = { resourceAccess: "tenant" };
