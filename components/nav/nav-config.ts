/**
 * The workspace navigation, in order. Add an entry when a page exists (paths are relative to
 * /w/<slug>; "" is the overview). `match: "exact"` keeps Overview from matching every sub-page.
 */
export type WorkspaceNavItem = { label: string; path: string; match?: "exact" | "prefix" };

export const WORKSPACE_NAV: readonly WorkspaceNavItem[] = [
  { label: "Overview", path: "", match: "exact" },
  { label: "Agents", path: "/agents" },
  { label: "Token usage", path: "/usage" },
  { label: "Cohorts", path: "/cohorts" },
  { label: "Alerts", path: "/alerts" },
  { label: "API keys", path: "/settings/api-keys" },
  { label: "Prices", path: "/settings/prices" },
  { label: "Members", path: "/settings/members" },
  { label: "Audit log", path: "/settings/audit" },
];
