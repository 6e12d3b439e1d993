import { getTenantSettings, putTenantSettings } from "../../stores/tenant-settings.ts";
import { implementRoutes } from "../api.ts";

export const tenantSettingsRoutes = implementRoutes({
  getTenantSettings: {
    handle: ({ principal }) => getTenantSettings(principal.tenantId),
  },
  putTenantSettings: {
    audit: () => ({ resource: "/v1/tenant/settings" }),
    handle: ({ body, principal }) => putTenantSettings(principal.tenantId, body, principal.principalId),
  },
});
