import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import {
  AccessError,
  describeClientError,
  listReadableWorkspaces,
  recordPlatformAdminRead,
  resolveWorkspaceAccess,
  runAction,
  withApiErrors,
} from "./authorize";
import type { Permission } from "./permissions";

let db: TestDatabase;
const ids: Record<string, string> = {};

async function account(key: string, isPlatformAdmin = false) {
  const { rows } = await db.owner.query<{ id: string }>(
    "INSERT INTO public.accounts (email, name, is_platform_admin) VALUES ($1, $2, $3) RETURNING id",
    [`${key}@example.test`, key, isPlatformAdmin],
  );
  ids[key] = rows[0].id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  const ws = await db.owner.query<{ id: string; slug: string }>(
    `INSERT INTO public.workspaces (slug, name, timezone) VALUES
       ('acme', 'Acme', 'Europe/Berlin'), ('globex', 'Globex', 'UTC'), ('initech', 'Initech', 'UTC')
     RETURNING id, slug`,
  );
  for (const row of ws.rows) ids[`ws:${row.slug}`] = row.id;
  for (const key of ["owner", "admin", "member", "viewer", "outsider"]) await account(key);
  await account("platform", true);
  await account("platformviewer", true);
  const memberships: [string, string, string][] = [
    ["acme", "owner", "owner"],
    ["acme", "admin", "admin"],
    ["acme", "member", "member"],
    ["acme", "viewer", "viewer"],
    ["globex", "outsider", "owner"],
    ["globex", "member", "viewer"],
    ["acme", "platformviewer", "viewer"],
  ];
  for (const [slug, key, role] of memberships) {
    await db.owner.query("INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, $3)", [
      ids[`ws:${slug}`],
      ids[key],
      role,
    ]);
  }
});

afterAll(async () => {
  await db?.drop();
});

async function statusOf(accountKey: string | null, slug: string, permission: Permission): Promise<number> {
  try {
    await resolveWorkspaceAccess(accountKey ? ids[accountKey] : null, slug, permission, db.appPrisma);
    return 200;
  } catch (error) {
    if (error instanceof AccessError) return error.status;
    throw error;
  }
}

describe("the platform-admin path", () => {
  it("is audited: one row per admin, workspace and hour, however often they look", async () => {
    const access = await resolveWorkspaceAccess(ids.platform, "initech", "workspace.read", db.appPrisma);
    expect(access.role).toBeNull();
    await recordPlatformAdminRead(access, db.appPrisma);
    await recordPlatformAdminRead(access, db.appPrisma);
    const { rows } = await db.owner.query(
      "SELECT actor_account_id AS actor, workspace_id AS ws FROM public.audit_log WHERE action = 'platform_admin.workspace_read'",
    );
    expect(rows).toEqual([{ actor: ids.platform, ws: ids["ws:initech"] }]);
  });
});

describe("resolveWorkspaceAccess", () => {
  it("returns the workspace, role and account of a member", async () => {
    const access = await resolveWorkspaceAccess(ids.viewer, "acme", "workspace.read", db.appPrisma);
    expect(access).toEqual({
      account: { id: ids.viewer, email: "viewer@example.test", name: "viewer" },
      workspace: { id: ids["ws:acme"], slug: "acme", name: "Acme", timezone: "Europe/Berlin" },
      role: "viewer",
      isPlatformAdmin: false,
    });
  });

  it.each([
    // [account, permission, expected status]
    ["owner", "members.manage", 200],
    ["owner", "prices.manage", 200],
    ["admin", "api_keys.manage", 200],
    ["admin", "alerts.manage", 200],
    ["member", "usage.export", 200],
    ["member", "alerts.manage", 403],
    ["member", "members.manage", 403],
    ["viewer", "workspace.read", 200],
    ["viewer", "usage.export", 403],
    ["viewer", "api_keys.manage", 403],
  ] as const)("%s asking for %s in their workspace gets %i", async (who, permission, expected) => {
    expect(await statusOf(who, "acme", permission)).toBe(expected);
  });

  it("answers 401 without a session, or for a malformed or deleted account id", async () => {
    expect(await statusOf(null, "acme", "workspace.read")).toBe(401);
    await expect(resolveWorkspaceAccess("not-a-uuid", "acme", "workspace.read", db.appPrisma)).rejects.toMatchObject({
      status: 401,
    });
    await expect(
      resolveWorkspaceAccess("00000000-0000-4000-8000-000000000000", "acme", "workspace.read", db.appPrisma),
    ).rejects.toMatchObject({ status: 401 });
  });

  it("answers 404 alike for a workspace that exists but is not theirs and one that does not exist", async () => {
    expect(await statusOf("outsider", "acme", "workspace.read")).toBe(404);
    // Even asking for a permission they would lack does not reveal the workspace: still 404, not 403.
    expect(await statusOf("outsider", "acme", "members.manage")).toBe(404);
    expect(await statusOf("outsider", "no-such-workspace", "workspace.read")).toBe(404);
    expect(await statusOf("owner", "Not A Slug!", "workspace.read")).toBe(404);
  });

  it("uses the role of the workspace asked about, not the account's best role elsewhere", async () => {
    expect(await statusOf("member", "acme", "usage.export")).toBe(200);
    expect(await statusOf("member", "globex", "usage.export")).toBe(403);
  });

  it("lets a platform admin read every workspace but not manage one they are not a member of", async () => {
    const access = await resolveWorkspaceAccess(ids.platform, "initech", "workspace.read", db.appPrisma);
    expect(access.role).toBeNull();
    expect(access.isPlatformAdmin).toBe(true);
    expect(await statusOf("platform", "globex", "audit.read")).toBe(200);
    expect(await statusOf("platform", "globex", "members.manage")).toBe(403);
    expect(await statusOf("platform", "no-such-workspace", "workspace.read")).toBe(404);
    // A platform admin who is a viewer member keeps the viewer's limits there.
    expect(await statusOf("platformviewer", "acme", "alerts.manage")).toBe(403);
  });

  it("re-reads membership on every call: a removed member loses access at once", async () => {
    await db.owner.query(
      "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'admin')",
      [ids["ws:initech"], ids.viewer],
    );
    expect(await statusOf("viewer", "initech", "members.manage")).toBe(200);
    await db.owner.query(
      "UPDATE public.workspace_members SET role = 'viewer' WHERE workspace_id = $1 AND account_id = $2",
      [ids["ws:initech"], ids.viewer],
    );
    expect(await statusOf("viewer", "initech", "members.manage")).toBe(403);
    await db.owner.query("DELETE FROM public.workspace_members WHERE workspace_id = $1 AND account_id = $2", [
      ids["ws:initech"],
      ids.viewer,
    ]);
    expect(await statusOf("viewer", "initech", "workspace.read")).toBe(404);
  });
});

describe("listReadableWorkspaces", () => {
  it("lists a member's workspaces by name and every workspace for a platform admin", async () => {
    const member = await listReadableWorkspaces(ids.member, db.appPrisma);
    expect(member.map((w) => [w.slug, w.role])).toEqual([
      ["acme", "member"],
      ["globex", "viewer"],
    ]);
    const platform = await listReadableWorkspaces(ids.platform, db.appPrisma);
    expect(platform.map((w) => w.slug)).toEqual(["acme", "globex", "initech"]);
    expect(await listReadableWorkspaces(ids.outsider, db.appPrisma)).toHaveLength(1);
  });
});

describe("error mapping", () => {
  it("maps AccessError and zod errors to JSON responses with their status", async () => {
    const schema = z.object({ name: z.string().min(1), limit: z.number().int().max(100) });
    const handler = withApiErrors(async (kind: string) => {
      if (kind === "401") throw new AccessError(401);
      if (kind === "403") throw new AccessError(403);
      if (kind === "404") throw new AccessError(404);
      schema.parse({ name: "", limit: 1000 });
      return new Response("unreachable");
    });
    expect((await handler("401")).status).toBe(401);
    expect((await handler("403")).status).toBe(403);
    const notFound = await handler("404");
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toEqual({ error: "Workspace not found." });
    const invalid = await handler("zod");
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { fields: Record<string, string[]> };
    expect(Object.keys(body.fields).sort()).toEqual(["limit", "name"]);
  });

  it("lets unexpected errors through as bugs (500), not as client errors", async () => {
    expect(describeClientError(new Error("boom"))).toBeNull();
    await expect(withApiErrors(async () => Promise.reject(new Error("boom")))()).rejects.toThrow("boom");
  });

  it("returns server-action failures as values", async () => {
    expect(await runAction(async () => 42)).toEqual({ ok: true, data: 42 });
    expect(await runAction(async () => Promise.reject(new AccessError(403)))).toMatchObject({ ok: false, status: 403 });
  });
});
