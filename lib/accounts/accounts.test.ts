import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessError, BadRequestError } from "@/lib/access/authorize";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { withUserContext, withWorkspaceContext } from "@/lib/db/context";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { auditFilterSchema, clientIpFromHeaders, listAuditEvents, recordAuditEvent } from "./audit";
import { createAccountFromInvitation, findOpenInvitation } from "./invitation-signup";
import {
  changeMemberRole,
  inviteMember,
  listMembers,
  listOpenInvitations,
  removeMember,
  revokeInvitation,
  type ActingMember,
} from "./members";
import { changeOwnPassword } from "./password-change";
import { SIGN_IN_LIMITS, isSignInThrottled, signInWithPassword } from "./sign-in";

let db: TestDatabase;
const ids: Record<string, string> = {};
const PASSWORD = "correct horse battery";

async function account(email: string, platformAdmin = false): Promise<string> {
  const hash = await hashPassword(PASSWORD);
  const { rows } = await db.owner.query<{ id: string }>(
    "INSERT INTO public.accounts (email, name, password_hash, is_platform_admin) VALUES ($1, $1, $2, $3) RETURNING id",
    [email, hash, platformAdmin],
  );
  return rows[0].id;
}
async function workspace(slug: string): Promise<string> {
  const { rows } = await db.owner.query<{ id: string }>(
    "INSERT INTO public.workspaces (slug, name) VALUES ($1, $1) RETURNING id",
    [slug],
  );
  return rows[0].id;
}
async function member(ws: string, acc: string, role: string): Promise<void> {
  await db.owner.query("INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, $3)", [
    ws,
    acc,
    role,
  ]);
}
async function roleOf(ws: string, acc: string): Promise<string | null> {
  const { rows } = await db.owner.query<{ role: string }>(
    "SELECT role FROM public.workspace_members WHERE workspace_id = $1 AND account_id = $2",
    [ws, acc],
  );
  return rows[0]?.role ?? null;
}
const as = <T>(accountId: string, fn: Parameters<typeof withUserContext<T>>[1]) =>
  withUserContext(accountId, fn, db.appPrisma);
const actor = (ws: string, acc: string, role: ActingMember["role"]): ActingMember => ({
  workspaceId: ws,
  accountId: acc,
  role,
  ip: "10.0.0.1",
});
const filter = (input: Record<string, string> = {}) => auditFilterSchema.parse(input);

beforeAll(async () => {
  db = await createTestDatabase();
  ids.owner = await account("owner@a.test");
  ids.admin = await account("admin@a.test");
  ids.member = await account("member@a.test");
  ids.viewer = await account("viewer@a.test");
  ids.ownerB = await account("owner@b.test");
  ids.root = await account("root@platform.test", true);
  ids.wa = await workspace("ws-a");
  ids.wb = await workspace("ws-b");
  await member(ids.wa, ids.owner, "owner");
  await member(ids.wa, ids.admin, "admin");
  await member(ids.wa, ids.member, "member");
  await member(ids.wa, ids.viewer, "viewer");
  await member(ids.wb, ids.ownerB, "owner");
});
afterAll(async () => db.drop());

describe("audit trail", () => {
  it("takes the actor from the context, refuses foreign workspaces, and is readable by admins of that workspace only", async () => {
    await as(ids.member, (tx) =>
      recordAuditEvent(tx, {
        workspaceId: ids.wa,
        action: "export.downloaded",
        details: { format: "csv" },
        ip: "192.0.2.7",
      }),
    );
    await expect(
      as(ids.member, (tx) => recordAuditEvent(tx, { workspaceId: ids.wb, action: "export.downloaded" })),
    ).rejects.toThrow(/not a member/);
    await expect(
      db.appPrisma.$queryRaw`SELECT app.record_audit_event(NULL, 'auth.sign_in', NULL, NULL, '{}', NULL)`,
    ).rejects.toThrow(/no account or workspace context/);
    // An API key context may write for its own workspace only.
    await withWorkspaceContext(
      ids.wb,
      (tx) => recordAuditEvent(tx, { workspaceId: ids.wb, action: "export.downloaded" }),
      db.appPrisma,
    );
    await expect(
      withWorkspaceContext(
        ids.wb,
        (tx) => recordAuditEvent(tx, { workspaceId: ids.wa, action: "export.downloaded" }),
        db.appPrisma,
      ),
    ).rejects.toThrow();

    const adminView = await as(ids.admin, (tx) => listAuditEvents(tx, ids.wa, filter()));
    expect(adminView.rows.map((r) => [r.action, r.actor_email, r.ip, r.details])).toEqual([
      ["export.downloaded", "member@a.test", "192.0.2.7", { format: "csv" }],
    ]);
    expect((await as(ids.member, (tx) => listAuditEvents(tx, ids.wa, filter()))).rows).toEqual([]);
    expect((await as(ids.ownerB, (tx) => listAuditEvents(tx, ids.wa, filter()))).rows).toEqual([]);
    expect(
      (await as(ids.ownerB, (tx) => listAuditEvents(tx, ids.wb, filter()))).rows.map((r) => r.actor_email),
    ).toEqual([null]);
    expect((await as(ids.root, (tx) => listAuditEvents(tx, ids.wa, filter()))).rows).toHaveLength(1);
    // The app role cannot write or rewrite history directly.
    await expect(
      as(ids.owner, (tx) => tx.$executeRaw`INSERT INTO public.audit_log (action) VALUES ('auth.sign_in')`),
    ).rejects.toThrow(/permission denied/);
    await expect(as(ids.owner, (tx) => tx.$executeRaw`DELETE FROM public.audit_log`)).rejects.toThrow(
      /permission denied/,
    );
  });

  it("filters by action and actor and pages by cursor", async () => {
    for (let i = 0; i < 5; i++)
      await as(ids.admin, (tx) =>
        recordAuditEvent(tx, {
          workspaceId: ids.wa,
          action: "alert_rule.updated",
          target: { type: "alert_rule", id: `r${i}` },
        }),
      );
    const page1 = await as(ids.owner, (tx) =>
      listAuditEvents(tx, ids.wa, filter({ action: "alert_rule.updated", limit: "3" })),
    );
    expect(page1.rows.map((r) => r.target_id)).toEqual(["r4", "r3", "r2"]);
    const page2 = await as(ids.owner, (tx) =>
      listAuditEvents(tx, ids.wa, {
        ...filter({ action: "alert_rule.updated", limit: "3" }),
        before: page1.nextBefore,
      }),
    );
    expect(page2.rows.map((r) => r.target_id)).toEqual(["r1", "r0"]);
    expect(page2.nextBefore).toBeNull();
    const byActor = await as(ids.owner, (tx) => listAuditEvents(tx, ids.wa, filter({ actor: "MEMBER@a.test" })));
    expect(byActor.rows.map((r) => r.action)).toEqual(["export.downloaded"]);
    expect(() => auditFilterSchema.parse({ action: "drop.table" })).toThrow();
  });

  it("reads the client IP from the right-most X-Forwarded-For entry, honouring trusted proxy hops", () => {
    const headers = (value: string) => new Headers({ "x-forwarded-for": value });
    expect(clientIpFromHeaders(headers("6.6.6.6, 203.0.113.9"))).toBe("203.0.113.9");
    process.env.PULSEBOARD_TRUSTED_PROXY_HOPS = "2";
    expect(clientIpFromHeaders(headers("6.6.6.6, 203.0.113.9, 10.0.0.2"))).toBe("203.0.113.9");
    delete process.env.PULSEBOARD_TRUSTED_PROXY_HOPS;
    expect(clientIpFromHeaders(headers("::ffff:127.0.0.1"))).toBe("127.0.0.1");
    expect(clientIpFromHeaders(headers("not an ip"))).toBeNull();
    expect(clientIpFromHeaders(new Headers())).toBeNull();
  });
});

describe("sign-in throttling and audit", () => {
  const failedFor = async (email: string) =>
    (
      await db.owner.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM public.audit_log WHERE action = 'auth.sign_in_failed' AND actor_email = $1",
        [email],
      )
    ).rows[0].n;

  it("locks an account after the limit, even for the right password, and a success clears the count", async () => {
    const email = "viewer@a.test";
    for (let i = 0; i < SIGN_IN_LIMITS.perAccount - 1; i++) {
      expect(
        await signInWithPassword({ email, password: "wrong password" }, `198.51.100.${i + 1}`, db.ownerPrisma),
      ).toBeNull();
    }
    const ok = await signInWithPassword(
      { email: "Viewer@A.test", password: PASSWORD },
      "198.51.100.50",
      db.ownerPrisma,
    );
    expect(ok?.id).toBe(ids.viewer);
    expect(await isSignInThrottled(db.ownerPrisma, email, null)).toBe(false);
    for (let i = 0; i < SIGN_IN_LIMITS.perAccount; i++)
      await signInWithPassword({ email, password: "wrong password" }, `198.51.100.${i + 1}`, db.ownerPrisma);
    expect(await signInWithPassword({ email, password: PASSWORD }, "198.51.100.99", db.ownerPrisma)).toBeNull();
    expect(await failedFor(email)).toBe(2 * SIGN_IN_LIMITS.perAccount);
    const { rows } = await db.owner.query<{ reason: string }>(
      "SELECT details->>'reason' AS reason FROM public.audit_log WHERE actor_email = $1 ORDER BY id DESC LIMIT 1",
      [email],
    );
    expect(rows[0].reason).toBe("throttled");
    const signIns = await db.owner.query<{ n: number; ip: string }>(
      "SELECT count(*)::int AS n, max(host(ip)) AS ip FROM public.audit_log WHERE action = 'auth.sign_in' AND actor_account_id = $1",
      [ids.viewer],
    );
    expect(signIns.rows[0]).toEqual({ n: 1, ip: "198.51.100.50" });
  });

  it("locks an IP after the limit across e-mails, unknown ones included; other IPs still sign in", async () => {
    const ip = "203.0.113.66";
    for (let i = 0; i < SIGN_IN_LIMITS.perIp; i++)
      await signInWithPassword({ email: `nobody${i}@x.test`, password: "guess" }, ip, db.ownerPrisma);
    expect(await signInWithPassword({ email: "member@a.test", password: PASSWORD }, ip, db.ownerPrisma)).toBeNull();
    expect(
      (await signInWithPassword({ email: "member@a.test", password: PASSWORD }, "203.0.113.67", db.ownerPrisma))?.id,
    ).toBe(ids.member);
  });

  it("the app role cannot read or write the throttle table", async () => {
    await expect(as(ids.root, (tx) => tx.$queryRaw`SELECT count(*) FROM public.sign_in_failures`)).rejects.toThrow(
      /permission denied/,
    );
  });
});

describe("members and invitations", () => {
  it("invites by e-mail; signing in accepts the invitation with its role", async () => {
    const newcomer = await account("newcomer@a.test");
    const invited = await as(ids.admin, (tx) =>
      inviteMember(tx, actor(ids.wa, ids.admin, "admin"), { email: " NewComer@A.test ", role: "viewer" }),
    );
    expect(invited.email).toBe("newcomer@a.test");
    expect(await as(ids.admin, (tx) => listOpenInvitations(tx, ids.wa))).toMatchObject([
      { email: "newcomer@a.test", role: "viewer", expired: false },
    ]);
    // Other workspaces' admins and plain members see no invitations.
    expect(await as(ids.ownerB, (tx) => tx.$queryRaw<unknown[]>`SELECT id FROM public.workspace_invitations`)).toEqual(
      [],
    );
    expect(await as(ids.member, (tx) => listOpenInvitations(tx, ids.wa))).toEqual([]);
    expect(await roleOf(ids.wa, newcomer)).toBeNull();
    expect((await signInWithPassword({ email: "newcomer@a.test", password: PASSWORD }, null, db.ownerPrisma))?.id).toBe(
      newcomer,
    );
    expect(await roleOf(ids.wa, newcomer)).toBe("viewer");
    expect(await as(ids.admin, (tx) => listOpenInvitations(tx, ids.wa))).toEqual([]);
    const { rows } = await db.owner.query(
      "SELECT action FROM public.audit_log WHERE workspace_id = $1 AND target_id = $2 ORDER BY id",
      [ids.wa, invited.invitationId],
    );
    expect(rows.map((r) => r.action)).toEqual(["member.invited", "invitation.accepted"]);
    await expect(
      as(ids.admin, (tx) =>
        inviteMember(tx, actor(ids.wa, ids.admin, "admin"), { email: "newcomer@a.test", role: "member" }),
      ),
    ).rejects.toThrow(/already a member/);
  });

  it("does not accept expired or revoked invitations", async () => {
    const late = await account("late@a.test");
    const early = await account("revoked@a.test");
    const a = await as(ids.owner, (tx) =>
      inviteMember(tx, actor(ids.wa, ids.owner, "owner"), { email: "late@a.test", role: "member" }),
    );
    await db.owner.query(
      "UPDATE public.workspace_invitations SET expires_at = now() - interval '1 minute' WHERE id = $1",
      [a.invitationId],
    );
    const b = await as(ids.owner, (tx) =>
      inviteMember(tx, actor(ids.wa, ids.owner, "owner"), { email: "revoked@a.test", role: "member" }),
    );
    await as(ids.owner, (tx) =>
      revokeInvitation(tx, actor(ids.wa, ids.owner, "owner"), { invitationId: b.invitationId }),
    );
    await signInWithPassword({ email: "late@a.test", password: PASSWORD }, null, db.ownerPrisma);
    await signInWithPassword({ email: "revoked@a.test", password: PASSWORD }, null, db.ownerPrisma);
    expect([await roleOf(ids.wa, late), await roleOf(ids.wa, early)]).toEqual([null, null]);
    await expect(
      as(ids.owner, (tx) => revokeInvitation(tx, actor(ids.wa, ids.owner, "owner"), { invitationId: b.invitationId })),
    ).rejects.toThrow(BadRequestError);
  });

  it("the invitation link creates an account for a new person and joins them", async () => {
    const { token } = await as(ids.owner, (tx) =>
      inviteMember(tx, actor(ids.wa, ids.owner, "owner"), { email: "brand.new@a.test", role: "member" }),
    );
    expect(await findOpenInvitation(token, db.ownerPrisma)).toMatchObject({
      email: "brand.new@a.test",
      workspace_slug: "ws-a",
      has_account: false,
    });
    expect(await findOpenInvitation("x".repeat(43), db.ownerPrisma)).toBeNull();
    await expect(
      createAccountFromInvitation({ token, name: "New", password: "short", confirmPassword: "short" }, db.ownerPrisma),
    ).rejects.toThrow();
    await createAccountFromInvitation(
      { token, name: "New", password: "a long enough pass", confirmPassword: "a long enough pass" },
      db.ownerPrisma,
    );
    const { rows } = await db.owner.query(
      "SELECT a.id, m.role FROM public.accounts a JOIN public.workspace_members m ON m.account_id = a.id WHERE a.email = 'brand.new@a.test'",
    );
    expect(rows.map((r) => r.role)).toEqual(["member"]);
    expect(await findOpenInvitation(token, db.ownerPrisma)).toBeNull();
    await expect(
      createAccountFromInvitation(
        { token, name: "Again", password: "a long enough pass", confirmPassword: "a long enough pass" },
        db.ownerPrisma,
      ),
    ).rejects.toThrow(/no longer valid/);
  });

  it("lists co-members with e-mails to owners/admins and platform admins only", async () => {
    expect((await as(ids.admin, (tx) => listMembers(tx, ids.wa))).slice(0, 4).map((m) => [m.email, m.role])).toEqual([
      ["owner@a.test", "owner"],
      ["admin@a.test", "admin"],
      ["brand.new@a.test", "member"],
      ["member@a.test", "member"],
    ]);
    expect(await as(ids.member, (tx) => listMembers(tx, ids.wa))).toEqual([]);
    expect(await as(ids.ownerB, (tx) => listMembers(tx, ids.wa))).toEqual([]);
    expect((await as(ids.root, (tx) => listMembers(tx, ids.wa))).length).toBeGreaterThan(4);
  });

  it("admins manage non-owners; only owners touch the owner role; the last owner stays", async () => {
    const admin = actor(ids.wa, ids.admin, "admin");
    const owner = actor(ids.wa, ids.owner, "owner");
    await as(ids.admin, (tx) => changeMemberRole(tx, admin, { accountId: ids.viewer, role: "member" }));
    expect(await roleOf(ids.wa, ids.viewer)).toBe("member");
    await expect(
      as(ids.admin, (tx) => changeMemberRole(tx, admin, { accountId: ids.viewer, role: "owner" })),
    ).rejects.toThrow(AccessError);
    await expect(
      as(ids.admin, (tx) => changeMemberRole(tx, admin, { accountId: ids.owner, role: "viewer" })),
    ).rejects.toThrow(AccessError);
    await expect(as(ids.admin, (tx) => removeMember(tx, admin, { accountId: ids.owner }))).rejects.toThrow(AccessError);
    await expect(
      as(ids.admin, (tx) => inviteMember(tx, admin, { email: "boss@a.test", role: "owner" })),
    ).rejects.toThrow(AccessError);
    await expect(
      as(ids.owner, (tx) => changeMemberRole(tx, owner, { accountId: ids.owner, role: "admin" })),
    ).rejects.toThrow(/at least one owner/);
    await expect(as(ids.owner, (tx) => removeMember(tx, owner, { accountId: ids.owner }))).rejects.toThrow(
      /last owner/,
    );
    await expect(
      as(ids.admin, (tx) => changeMemberRole(tx, admin, { accountId: ids.ownerB, role: "viewer" })),
    ).rejects.toThrow(/not a member/);
    // The same rules hold for hand-written SQL as the app role (triggers), not just in this module.
    await expect(
      as(
        ids.admin,
        (tx) =>
          tx.$executeRaw`UPDATE public.workspace_members SET role = 'owner' WHERE account_id = ${ids.viewer}::uuid`,
      ),
    ).rejects.toThrow(/only an owner/);
    await expect(
      as(ids.owner, (tx) => tx.$executeRaw`DELETE FROM public.workspace_members WHERE account_id = ${ids.owner}::uuid`),
    ).rejects.toThrow(/at least one owner/);
    // ...and RLS keeps an owner of another workspace out entirely (0 rows touched).
    expect(
      await as(
        ids.ownerB,
        (tx) =>
          tx.$executeRaw`UPDATE public.workspace_members SET role = 'viewer' WHERE workspace_id = ${ids.wa}::uuid`,
      ),
    ).toBe(0);
    expect(await roleOf(ids.wa, ids.admin)).toBe("admin");
    // An owner promotes someone, after which the first owner may step down.
    await as(ids.owner, (tx) => changeMemberRole(tx, owner, { accountId: ids.admin, role: "owner" }));
    await as(ids.owner, (tx) => changeMemberRole(tx, owner, { accountId: ids.owner, role: "admin" }));
    expect([await roleOf(ids.wa, ids.owner), await roleOf(ids.wa, ids.admin)]).toEqual(["admin", "owner"]);
    await as(ids.admin, (tx) => removeMember(tx, actor(ids.wa, ids.admin, "owner"), { accountId: ids.viewer }));
    expect(await roleOf(ids.wa, ids.viewer)).toBeNull();
    const { rows } = await db.owner.query<{ action: string; details: Record<string, string> }>(
      "SELECT action, details FROM public.audit_log WHERE workspace_id = $1 AND action IN ('member.role_changed', 'member.removed') ORDER BY id",
      [ids.wa],
    );
    expect(rows.map((r) => [r.action, r.details.from ?? r.details.role, r.details.to ?? null])).toEqual([
      ["member.role_changed", "viewer", "member"],
      ["member.role_changed", "admin", "owner"],
      ["member.role_changed", "owner", "admin"],
      ["member.removed", "member", null],
    ]);
    // A deleted workspace takes its memberships with it (the last-owner guard does not block it).
    const temp = await workspace("temp-ws");
    await member(temp, ids.owner, "owner");
    await db.owner.query("DELETE FROM public.workspaces WHERE id = $1", [temp]);
  });
});

describe("change password", () => {
  it("verifies the current password, enforces the policy, writes only the own hash, and audits", async () => {
    const input = (current: string, next: string) => ({
      currentPassword: current,
      newPassword: next,
      confirmPassword: next,
    });
    await expect(
      as(ids.member, (tx) => changeOwnPassword(tx, ids.member, input("wrong", "another good password"), null)),
    ).rejects.toThrow(/not correct/);
    await expect(
      as(ids.member, (tx) => changeOwnPassword(tx, ids.member, input(PASSWORD, "short"), null)),
    ).rejects.toThrow();
    await as(ids.member, (tx) =>
      changeOwnPassword(tx, ids.member, input(PASSWORD, "another good password"), "192.0.2.1"),
    );
    const { rows } = await db.owner.query<{ password_hash: string }>(
      "SELECT password_hash FROM public.accounts WHERE id = $1",
      [ids.member],
    );
    expect(await verifyPassword(rows[0].password_hash, "another good password")).toBe(true);
    const audit = await db.owner.query(
      "SELECT count(*)::int AS n FROM public.audit_log WHERE action = 'account.password_changed' AND actor_account_id = $1",
      [ids.member],
    );
    expect(audit.rows[0].n).toBe(1);
    // The definer function only ever writes the caller's own row; without a context, nothing.
    await expect(
      db.appPrisma.$queryRaw<{ ok: boolean }[]>`SELECT app.set_own_password_hash('$argon2id$x') AS ok`,
    ).resolves.toEqual([{ ok: false }]);
    await expect(as(ids.member, (tx) => tx.$queryRaw`SELECT app.set_own_password_hash('plain')`)).rejects.toThrow(
      /Argon2id/,
    );
    await expect(
      as(
        ids.member,
        (tx) => tx.$executeRaw`UPDATE public.accounts SET is_platform_admin = true WHERE id = ${ids.member}::uuid`,
      ),
    ).resolves.toBe(0);
  });
});
