import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { AccessError, resolveWorkspaceAccess } from "./authorize";
import { PERMISSIONS, type Permission } from "./permissions";

/**
 * The access matrix, in-process: every page, route handler and server action that exists in app/
 * is declared here with the access rule it must enforce, and the file must name that permission
 * through the one helper. A new route without an entry fails the first test. The decisions
 * themselves are checked against a real database for every persona. (The same matrix is exercised
 * over HTTP against the production build by e2e/accounts/access-matrix.spec.ts.)
 */
type Rule =
  | { kind: "workspace"; permission: Permission } // authorizePage / authorizeWorkspace(slug, permission)
  | { kind: "signed-in" } // any account; own data only
  | { kind: "public"; why: string }
  | { kind: "api"; why: string }; // API key or session, checked inside the handler's library

export const ACCESS_MATRIX: Record<string, Rule> = {
  // pages
  "page:app/page.tsx": { kind: "public", why: "redirects to sign-in or the first workspace" },
  "page:app/login/page.tsx": { kind: "public", why: "sign-in form" },
  "page:app/invite/[token]/page.tsx": { kind: "public", why: "the invitation token is the credential" },
  "page:app/account/page.tsx": { kind: "signed-in" },
  "page:app/me/page.tsx": { kind: "signed-in" },
  "page:app/platform/page.tsx": { kind: "signed-in" },
  "page:app/w/[workspace]/page.tsx": { kind: "workspace", permission: "workspace.read" },
  "page:app/w/[workspace]/agents/page.tsx": { kind: "workspace", permission: "workspace.read" },
  "page:app/w/[workspace]/agents/[agentId]/page.tsx": { kind: "workspace", permission: "workspace.read" },
  "page:app/w/[workspace]/cohorts/page.tsx": { kind: "workspace", permission: "workspace.read" },
  "page:app/w/[workspace]/usage/page.tsx": { kind: "workspace", permission: "workspace.read" },
  "page:app/w/[workspace]/settings/api-keys/page.tsx": { kind: "workspace", permission: "api_keys.manage" },
  "page:app/w/[workspace]/settings/prices/page.tsx": { kind: "workspace", permission: "prices.manage" },
  "page:app/w/[workspace]/settings/members/page.tsx": { kind: "workspace", permission: "members.manage" },
  "page:app/w/[workspace]/settings/audit/page.tsx": { kind: "workspace", permission: "audit.read" },
  "page:app/w/[workspace]/alerts/page.tsx": { kind: "workspace", permission: "alerts.read" },
  "page:app/w/[workspace]/alerts/history/page.tsx": { kind: "workspace", permission: "alerts.read" },
  "page:app/w/[workspace]/alerts/new/page.tsx": { kind: "workspace", permission: "alerts.manage" },
  "page:app/w/[workspace]/alerts/[ruleId]/page.tsx": { kind: "workspace", permission: "alerts.manage" },
  // route handlers
  "route:app/api/auth/[...nextauth]/route.ts": { kind: "public", why: "next-auth endpoints" },
  "route:app/api/health/route.ts": { kind: "public", why: "liveness" },
  "route:app/api/v1/openapi.json/route.ts": { kind: "public", why: "API description" },
  "route:app/api/v1/ingest/route.ts": { kind: "api", why: "ingest-scoped API key" },
  "route:app/api/v1/otel/v1/traces/route.ts": { kind: "api", why: "ingest-scoped API key" },
  "route:app/api/v1/metrics/route.ts": { kind: "api", why: "session or read-scoped key; lib/metrics/api.ts" },
  "route:app/api/v1/export/metrics/route.ts": { kind: "api", why: "session or read-scoped key; usage.export" },
  // server actions
  "action:app/account/actions.ts#changePasswordAction": { kind: "signed-in" },
  "action:app/invite/[token]/actions.ts#invitationSignupAction": {
    kind: "public",
    why: "the invitation token is the credential",
  },
  "action:app/w/[workspace]/settings/members/actions.ts#inviteAction": {
    kind: "workspace",
    permission: "members.manage",
  },
  "action:app/w/[workspace]/settings/members/actions.ts#changeRoleAction": {
    kind: "workspace",
    permission: "members.manage",
  },
  "action:app/w/[workspace]/settings/members/actions.ts#removeMemberAction": {
    kind: "workspace",
    permission: "members.manage",
  },
  "action:app/w/[workspace]/settings/members/actions.ts#revokeInvitationAction": {
    kind: "workspace",
    permission: "members.manage",
  },
  "action:app/w/[workspace]/settings/api-keys/actions.ts#createKeyAction": {
    kind: "workspace",
    permission: "api_keys.manage",
  },
  "action:app/w/[workspace]/settings/api-keys/actions.ts#revokeKeyAction": {
    kind: "workspace",
    permission: "api_keys.manage",
  },
  "action:app/w/[workspace]/settings/prices/actions.ts#addPriceAction": {
    kind: "workspace",
    permission: "prices.manage",
  },
  "action:app/w/[workspace]/settings/prices/actions.ts#deletePriceAction": {
    kind: "workspace",
    permission: "prices.manage",
  },
  "action:app/w/[workspace]/settings/prices/actions.ts#repriceAction": {
    kind: "workspace",
    permission: "prices.manage",
  },
  "action:app/w/[workspace]/alerts/actions.ts#saveRuleAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#duplicateRuleAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#setRuleActiveAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#deleteRuleAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#snoozeRuleAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#sendTestAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#acknowledgeAction": { kind: "workspace", permission: "alerts.manage" },
  "action:app/w/[workspace]/alerts/actions.ts#previewRuleAction": { kind: "workspace", permission: "alerts.read" },
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** Every page, route handler and exported server action under app/, as matrix keys. */
export function inventory(root = process.cwd()): string[] {
  const files = walk(path.join(root, "app")).map((f) => path.relative(root, f).split(path.sep).join("/"));
  const keys: string[] = [];
  for (const file of files) {
    if (/\/page\.tsx$/.test(file)) keys.push(`page:${file}`);
    if (/\/route\.ts$/.test(file)) keys.push(`route:${file}`);
    if (/\.(ts|tsx)$/.test(file)) {
      const source = readFileSync(path.join(root, file), "utf8");
      if (/^\s*["']use server["']/.test(source)) {
        for (const match of source.matchAll(/export\s+(?:async\s+)?function\s+(\w+)|export\s+const\s+(\w+)/g))
          keys.push(`action:${file}#${match[1] ?? match[2]}`);
      }
    }
  }
  return keys.sort();
}

describe("access matrix: inventory", () => {
  it("declares every page, route handler and server action, and nothing that no longer exists", () => {
    const found = inventory();
    expect(found.filter((key) => !(key in ACCESS_MATRIX))).toEqual([]);
    expect(Object.keys(ACCESS_MATRIX).filter((key) => !found.includes(key))).toEqual([]);
  });

  it("each workspace route names its declared permission through the one helper", () => {
    const missing: string[] = [];
    for (const [key, rule] of Object.entries(ACCESS_MATRIX)) {
      if (rule.kind !== "workspace") continue;
      const file = key.replace(/^\w+:/, "").replace(/#.*$/, "");
      const source = readFileSync(path.join(process.cwd(), file), "utf8");
      const body = key.includes("#") ? functionBody(source, key.split("#")[1]) : source;
      const call = new RegExp(`authorize(?:Page|Workspace)\\(\\s*slug,\\s*"${rule.permission.replace(".", "\\.")}"`);
      if (!call.test(body)) missing.push(`${key} (expected ${rule.permission})`);
    }
    expect(missing).toEqual([]);
  });

  it("a test inventory is not vacuous: it sees this very matrix's routes", () => {
    expect(inventory().length).toBeGreaterThan(30);
    expect(inventory()).toContain("action:app/w/[workspace]/settings/members/actions.ts#changeRoleAction");
  });
});

/** The source of one exported function, up to the next export (good enough for action files). */
function functionBody(source: string, name: string): string {
  const start = source.search(new RegExp(`export\\s+(?:async\\s+)?function\\s+${name}\\b`));
  if (start < 0) return "";
  const next = source.slice(start + 1).search(/\nexport\s/);
  return next < 0 ? source.slice(start) : source.slice(start, start + 1 + next);
}

// ---------------------------------------------------------------------------------------------
// Decisions per persona, on a real database.
const PERSONAS = ["anonymous", "viewer", "member", "admin", "ownerOfOther", "platformAdmin"] as const;
type Persona = (typeof PERSONAS)[number];
type Status = 200 | 401 | 403 | 404;

// Written out by hand (not derived from ROLE_PERMISSIONS), so a change to the permission table
// shows up here as a deliberate edit.
const EXPECTED: Record<Permission, Record<Persona, Status>> = {
  "workspace.read": { anonymous: 401, viewer: 200, member: 200, admin: 200, ownerOfOther: 404, platformAdmin: 200 },
  "usage.read_all": { anonymous: 401, viewer: 200, member: 200, admin: 200, ownerOfOther: 404, platformAdmin: 200 },
  "usage.export": { anonymous: 401, viewer: 403, member: 200, admin: 200, ownerOfOther: 404, platformAdmin: 403 },
  "members.manage": { anonymous: 401, viewer: 403, member: 403, admin: 200, ownerOfOther: 404, platformAdmin: 403 },
  "api_keys.manage": { anonymous: 401, viewer: 403, member: 403, admin: 200, ownerOfOther: 404, platformAdmin: 403 },
  "alerts.read": { anonymous: 401, viewer: 200, member: 200, admin: 200, ownerOfOther: 404, platformAdmin: 200 },
  "alerts.manage": { anonymous: 401, viewer: 403, member: 403, admin: 200, ownerOfOther: 404, platformAdmin: 403 },
  "prices.manage": { anonymous: 401, viewer: 403, member: 403, admin: 200, ownerOfOther: 404, platformAdmin: 403 },
  "audit.read": { anonymous: 401, viewer: 403, member: 403, admin: 200, ownerOfOther: 404, platformAdmin: 200 },
};

let db: TestDatabase;
const accountOf: Partial<Record<Persona, string>> = {};
let workspaceId = "";

beforeAll(async () => {
  db = await createTestDatabase();
  const q = async (sql: string, params: unknown[]) => (await db.owner.query<{ id: string }>(sql, params)).rows[0].id;
  workspaceId = await q("INSERT INTO public.workspaces (slug, name) VALUES ('target', 'Target') RETURNING id", []);
  const other = await q("INSERT INTO public.workspaces (slug, name) VALUES ('other', 'Other') RETURNING id", []);
  for (const persona of PERSONAS.filter((p) => p !== "anonymous")) {
    accountOf[persona] = await q(
      "INSERT INTO public.accounts (email, is_platform_admin) VALUES ($1, $2) RETURNING id",
      [`${persona.toLowerCase()}@matrix.test`, persona === "platformAdmin"],
    );
  }
  const members: [string, Persona, string][] = [
    [workspaceId, "viewer", "viewer"],
    [workspaceId, "member", "member"],
    [workspaceId, "admin", "admin"],
    [other, "ownerOfOther", "owner"],
  ];
  for (const [ws, persona, role] of members) {
    await db.owner.query("INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, $3)", [
      ws,
      accountOf[persona],
      role,
    ]);
  }
});
afterAll(async () => db.drop());

async function decide(persona: Persona, permission: Permission): Promise<{ status: Status; workspaceId?: string }> {
  try {
    const access = await resolveWorkspaceAccess(accountOf[persona] ?? null, "target", permission, db.appPrisma);
    return { status: 200, workspaceId: access.workspace.id };
  } catch (error) {
    if (error instanceof AccessError) return { status: error.status };
    throw error;
  }
}

describe("access matrix: every workspace permission × persona", () => {
  it("covers every permission", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...PERMISSIONS].sort());
  });

  for (const permission of PERMISSIONS) {
    it(`${permission}`, async () => {
      const actual: Record<string, Status> = {};
      for (const persona of PERSONAS) {
        const outcome = await decide(persona, permission);
        actual[persona] = outcome.status;
        // A 200 is always for the requested workspace, never another tenant's.
        if (outcome.status === 200) expect(outcome.workspaceId).toBe(workspaceId);
      }
      expect(actual).toEqual(EXPECTED[permission]);
    });
  }

  it("every declared workspace route gets exactly its permission's row", async () => {
    const routes = Object.entries(ACCESS_MATRIX).filter(
      (e): e is [string, Extract<Rule, { kind: "workspace" }>] => e[1].kind === "workspace",
    );
    expect(routes.length).toBeGreaterThan(15);
    const used = new Set(routes.map(([, rule]) => rule.permission));
    for (const permission of used) expect(EXPECTED[permission]).toBeDefined();
  });

  it("a demoted admin loses management at once; a removed member gets 404", async () => {
    await db.owner.query("UPDATE public.workspace_members SET role = 'viewer' WHERE account_id = $1", [
      accountOf.admin,
    ]);
    expect((await decide("admin", "members.manage")).status).toBe(403);
    await db.owner.query("DELETE FROM public.workspace_members WHERE account_id = $1", [accountOf.admin]);
    expect((await decide("admin", "workspace.read")).status).toBe(404);
  });
});
