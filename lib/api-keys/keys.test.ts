import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkspaceAccess } from "@/lib/access/authorize";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { createWorkspace } from "@/lib/ingest/test-fixtures";
import { verifyApiKey } from "./keys";
import { createKeyFor, listKeysFor, revokeKeyFor } from "./manage";

let db: TestDatabase;
let workspaceId: string;
let admin: WorkspaceAccess;
let viewer: WorkspaceAccess;

function form(entries: [string, string][]) {
  const data = new FormData();
  for (const [name, value] of entries) data.append(name, value);
  return data;
}

beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = await createWorkspace(db.owner, "keys");
  const { rows } = await db.owner.query<{ id: string }>(
    "INSERT INTO public.accounts (email) VALUES ('a@example.com'), ('v@example.com') RETURNING id",
  );
  await db.owner.query(
    "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'viewer')",
    [workspaceId, rows[0].id, rows[1].id],
  );
  const workspace = { id: workspaceId, slug: "keys", name: "keys", timezone: "UTC" };
  admin = {
    account: { id: rows[0].id, email: "a@example.com", name: null },
    workspace,
    role: "owner",
    isPlatformAdmin: false,
  };
  viewer = {
    account: { id: rows[1].id, email: "v@example.com", name: null },
    workspace,
    role: "viewer",
    isPlatformAdmin: false,
  };
});
afterAll(async () => {
  await db?.drop();
});

describe("API keys", () => {
  it("are shown once, stored as a hash, listed by prefix, verified, and dead once revoked", async () => {
    const { key, summary } = await createKeyFor(
      admin,
      form([
        ["name", "CI"],
        ["scopes", "ingest"],
        ["scopes", "ingest"],
      ]),
      db.appPrisma,
    );
    expect(key.startsWith(`${summary.prefix}_`)).toBe(true);
    expect(summary.scopes).toEqual(["ingest"]);
    const stored = await db.owner.query("SELECT encode(secret_sha256, 'hex') AS hash, prefix FROM public.api_keys");
    expect(stored.rows[0].hash).toHaveLength(64);
    expect(JSON.stringify(stored.rows)).not.toContain(key.slice(12));

    // The key comes with its workspace's slug and time zone (0135), read in the same call.
    await db.owner.query("UPDATE public.workspaces SET timezone = 'Asia/Kolkata' WHERE id = $1", [workspaceId]);
    const verified = await verifyApiKey(db.appPrisma, key);
    expect(verified).toMatchObject({
      workspaceId,
      scopes: ["ingest"],
      workspace: { id: workspaceId, slug: "keys", timezone: "Asia/Kolkata" },
    });
    // Once a minute last_used_at is written (the UPDATE branch), else the key is only read: same answer.
    expect(await verifyApiKey(db.appPrisma, key)).toEqual(verified);
    expect(await verifyApiKey(db.appPrisma, key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"))).toBeNull();

    const listed = await listKeysFor(viewer, db.appPrisma);
    expect(listed.map((k) => [k.prefix, k.name, k.lastUsedAt !== null])).toEqual([[summary.prefix, "CI", true]]);

    // A viewer's revoke is refused by RLS (no row matches for UPDATE), the owner's works.
    expect(await revokeKeyFor(viewer, form([["keyId", summary.id]]), db.appPrisma)).toBe(false);
    expect(await verifyApiKey(db.appPrisma, key)).not.toBeNull();
    expect(await revokeKeyFor(admin, form([["keyId", summary.id]]), db.appPrisma, "203.0.113.9")).toBe(true);
    expect(await verifyApiKey(db.appPrisma, key)).toBeNull();

    // Creation and the one successful revocation are audited, with who, what and from where.
    const audit = await db.owner.query(
      "SELECT action, actor_account_id, target_id, host(ip) AS ip FROM public.audit_log WHERE workspace_id = $1 ORDER BY id",
      [workspaceId],
    );
    expect(audit.rows).toEqual([
      { action: "api_key.created", actor_account_id: admin.account.id, target_id: summary.id, ip: null },
      { action: "api_key.revoked", actor_account_id: admin.account.id, target_id: summary.id, ip: "203.0.113.9" },
    ]);
  });

  it("rejects invalid input with field messages and refuses viewers", async () => {
    await expect(
      createKeyFor(
        admin,
        form([
          ["name", ""],
          ["scopes", "admin"],
        ]),
        db.appPrisma,
      ),
    ).rejects.toThrow(/name|scopes/i);
    await expect(
      createKeyFor(
        viewer,
        form([
          ["name", "x"],
          ["scopes", "read"],
        ]),
        db.appPrisma,
      ),
    ).rejects.toThrow();
    // The app role cannot read the hash back even as an owner.
    await expect(
      db.appPrisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT set_config('app.current_user_id', ${admin.account.id}, true)`;
        return tx.$queryRaw`SELECT secret_sha256 FROM public.api_keys`;
      }),
    ).rejects.toThrow(/permission denied/);
  });
});
