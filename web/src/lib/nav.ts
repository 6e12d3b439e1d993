import type { Role } from "#events/auth";

export interface NavItem {
  label: string;
  to: string;
  roles: readonly Role[];
}

const everyone: readonly Role[] = ["admin", "user", "viewer"];
const writers: readonly Role[] = ["admin", "user"];
const admins: readonly Role[] = ["admin"];

/** Who sees which page. The API enforces the same split; hiding a link only spares a 403. */
export const NAV: readonly NavItem[] = [
  { label: "Overview", to: "/overview", roles: everyone },
  { label: "Jobs", to: "/jobs", roles: everyone },
  { label: "Workflows", to: "/workflows", roles: everyone },
  { label: "Approvals", to: "/approvals", roles: everyone },
  { label: "Agents", to: "/agents", roles: everyone },
  { label: "Tools", to: "/tools", roles: everyone },
  { label: "MCP servers", to: "/mcp-servers", roles: everyone },
  { label: "Collections", to: "/collections", roles: everyone },
  { label: "Sessions", to: "/sessions", roles: everyone },
  { label: "Memory", to: "/memory", roles: everyone },
  { label: "Schedules", to: "/schedules", roles: everyone },
  { label: "Usage", to: "/usage", roles: everyone },
  { label: "Calibration", to: "/calibration", roles: everyone },
  { label: "Limits", to: "/limits", roles: everyone },
  { label: "Notifications", to: "/notifications", roles: admins },
  { label: "API keys", to: "/api-keys", roles: writers },
  { label: "Secrets", to: "/secrets", roles: admins },
  { label: "Users", to: "/users", roles: admins },
  { label: "System", to: "/system", roles: admins },
  { label: "Audit", to: "/audit", roles: admins },
  { label: "API", to: "/api", roles: everyone },
];

export function navFor(role: Role | undefined): NavItem[] {
  return role ? NAV.filter((item) => item.roles.includes(role)) : [];
}

export function canWrite(role: Role | undefined): boolean {
  return role === "admin" || role === "user";
}
