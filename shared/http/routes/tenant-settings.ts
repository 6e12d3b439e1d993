import { PutTenantSettingsRequest, TenantSettings } from "#events/tenant-settings";
import { getTenantSettings, putTenantSettings } from "../../stores/tenant-settings.ts";
import { defineRoute, type RouteTable } from "../api.ts";

export const tenantSettingsRoutes: RouteTable = {
  getTenantSettings: defineRoute({
    summary:
      "The tenant's controls: resourceAccess (tenant: everyone sees everything; owner: users see their own)",
    response: TenantSettings,
    handle: ({ principal }) => getTenantSettings(principal.tenantId),
  }),
  putTenantSettings: defineRoute({
    summary: "Change the tenant's controls; fields left out stay as they are",
    body: PutTenantSettingsRequest,
    response: TenantSettings,
    audit: () => ({ resource: "/v1/tenant/settings" }),
    handle: ({ body, principal }) => putTenantSettings(principal.tenantId, body, principal.principalId),
  }),
};
