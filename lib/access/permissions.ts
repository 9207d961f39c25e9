/**
 * The one table of who may do what. Every page, server action and route handler names the
 * permission it needs (through `lib/access/authorize.ts`); nothing else decides access.
 */
export const PERMISSIONS = [
  "workspace.read", // see the workspace's dashboards
  "usage.read_all", // see every tracked user's usage (not just one's own)
  "usage.export", // CSV export of other people's usage
  "members.manage", // invite, change roles, remove
  "api_keys.manage",
  "alerts.read",
  "alerts.manage", // create/edit/delete rules, send test notifications, acknowledge
  "prices.manage", // model price table
  "audit.read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const WORKSPACE_ROLES = ["owner", "admin", "member", "viewer"] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

export const ROLE_PERMISSIONS = {
  owner: PERMISSIONS,
  admin: PERMISSIONS,
  member: ["workspace.read", "usage.read_all", "usage.export", "alerts.read"],
  viewer: ["workspace.read", "usage.read_all", "alerts.read"],
} as const satisfies Record<WorkspaceRole, readonly Permission[]>;

export function roleHasPermission(role: WorkspaceRole, permission: Permission): boolean {
  return (ROLE_PERMISSIONS[role] as readonly Permission[]).includes(permission);
}
