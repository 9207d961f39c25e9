import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPassword } from "@/lib/auth/password";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { slugFromName } from "./commands/create-workspace";

type Result = { code: number; stdout: string[]; stderr: string[] };

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

/** Runs the real CLI as a subprocess against this file's database. */
function admin(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      "npx",
      ["tsx", "scripts/admin.ts", ...args],
      { env: { ...process.env, DATABASE_URL: db.ownerUrl, PULSEBOARD_DEBUG: "" }, cwd: process.cwd() },
      (error, stdout, stderr) => {
        const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("npm warn"));
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout: lines(stdout), stderr: lines(stderr) });
      },
    );
  });
}

/** The error contract: exit 1, nothing on stdout, exactly one `error: ...` line on stderr. */
function expectOneError(result: Result, pattern: RegExp) {
  expect(result.code).toBe(1);
  expect(result.stdout).toEqual([]);
  expect(result.stderr).toHaveLength(1);
  expect(result.stderr[0]).toMatch(/^error: /);
  expect(result.stderr[0]).toMatch(pattern);
}

describe("admin CLI: create-user", () => {
  it("creates an account with an Argon2id hash and prints its id last", async () => {
    const result = await admin(
      "create-user",
      "--email",
      "Alice@Example.com",
      "--password",
      "correct horse battery",
      "--name",
      "Alice",
      "--admin",
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toEqual([]);
    expect(result.stdout[0]).toBe("created account alice@example.com (platform admin)");
    const { rows } = await db.owner.query<{
      id: string;
      name: string;
      is_platform_admin: boolean;
      password_hash: string;
    }>("SELECT id, name, is_platform_admin, password_hash FROM public.accounts WHERE email = 'alice@example.com'");
    expect(rows).toHaveLength(1);
    expect(result.stdout.at(-1)).toBe(rows[0].id);
    expect(rows[0]).toMatchObject({ name: "Alice", is_platform_admin: true });
    expect(await verifyPassword(rows[0].password_hash, "correct horse battery")).toBe(true);
  });

  it.concurrent.each([
    [
      ["create-user", "--email", "alice@example.com", "--password", "another long one"],
      /account with e-mail alice@example.com already exists/,
    ],
    [["create-user", "--email", "not-an-email", "--password", "long enough pw"], /--email must be an e-mail address/],
    [
      ["create-user", "--email", "bob@example.com", "--password", "short"],
      /--password Password must be at least 10 characters/,
    ],
    [
      ["create-user", "--password", "long enough pw"],
      /--email is required \(usage: npm run admin -- create-user --email/,
    ],
    [
      ["create-user", "--email", "bob@example.com", "--password", "long enough pw", "--colour", "red"],
      /unknown option --colour for create-user/,
    ],
    [["create-user", "--email"], /--email needs a value/],
    [
      ["create-user", "--email", "bob@example.com", "--password", "long enough pw", "--admin=yes"],
      /--admin is a switch/,
    ],
    [["create-user", "bob@example.com"], /unexpected argument "bob@example.com"/],
  ])("rejects %j with one error line", async (args, pattern) => {
    expectOneError(await admin(...args), pattern);
  });

  it("left no half-written account behind after the failures", async () => {
    const { rows } = await db.owner.query<{ n: number }>("SELECT count(*)::int AS n FROM public.accounts");
    expect(rows[0].n).toBe(1);
  });
});

describe("admin CLI: create-workspace, add-member, list-workspaces", () => {
  it("creates a workspace and prints the slug alone on the last line", async () => {
    const result = await admin("create-workspace", "--name", "Acme Cloud (EU)", "--timezone", "Europe/Berlin");
    expect(result.code).toBe(0);
    expect(result.stdout).toEqual(['created workspace "Acme Cloud (EU)" (time zone Europe/Berlin)', "acme-cloud-eu"]);
    const { rows } = await db.owner.query("SELECT name, timezone FROM public.workspaces WHERE slug = 'acme-cloud-eu'");
    expect(rows).toEqual([{ name: "Acme Cloud (EU)", timezone: "Europe/Berlin" }]);
  });

  it("derives the next free slug when the name's slug is taken, and defaults the time zone to UTC", async () => {
    const result = await admin("create-workspace", "--name", "acme cloud eu");
    expect(result.code).toBe(0);
    expect(result.stdout.at(-1)).toBe("acme-cloud-eu-2");
    const { rows } = await db.owner.query("SELECT timezone FROM public.workspaces WHERE slug = 'acme-cloud-eu-2'");
    expect(rows).toEqual([{ timezone: "UTC" }]);
  });

  it("uses an explicit slug", async () => {
    const result = await admin(
      "create-workspace",
      "--name",
      "Tokyo Team",
      "--slug",
      "tokyo",
      "--timezone",
      "Asia/Tokyo",
    );
    expect(result.stdout.at(-1)).toBe("tokyo");
  });

  it.concurrent.each([
    [
      ["create-workspace", "--name", "Mars", "--timezone", "Mars/Olympus_Mons"],
      /unknown time zone "Mars\/Olympus_Mons"; use an IANA name/,
    ],
    [["create-workspace", "--name", "Dup", "--slug", "tokyo"], /slug "tokyo" already exists; pass another --slug/],
    [["create-workspace", "--name", "Bad", "--slug", "Bad Slug"], /--slug must be 1-63 lowercase letters/],
    [["create-workspace", "--name", "!!!"], /cannot derive a slug from the name "!!!"; pass --slug/],
    [["create-workspace", "--name", ""], /--name must not be empty/],
    [["create-workspace"], /--name is required/],
    [
      ["add-member", "--workspace", "nope", "--email", "alice@example.com", "--role", "admin"],
      /no workspace with slug "nope"; .*list-workspaces/,
    ],
    [
      ["add-member", "--workspace", "tokyo", "--email", "ghost@example.com", "--role", "admin"],
      /no account with e-mail ghost@example.com; create it first with: npm run admin -- create-user/,
    ],
    [
      ["add-member", "--workspace", "tokyo", "--email", "alice@example.com", "--role", "superuser"],
      /--role must be one of owner, admin, member, viewer/,
    ],
    [["frobnicate"], /unknown command "frobnicate"; list the commands with: npm run admin -- help/],
    [[], /no command given/],
  ])("rejects %j with one error line", async (args, pattern) => {
    expectOneError(await admin(...args), pattern);
  });

  it("adds a member, then changes the role instead of duplicating the membership", async () => {
    const added = await admin("add-member", "--workspace", "tokyo", "--email", "ALICE@example.com", "--role", "viewer");
    expect(added).toMatchObject({ code: 0, stdout: ["added alice@example.com to tokyo as viewer"], stderr: [] });
    const changed = await admin(
      "add-member",
      "--workspace",
      "tokyo",
      "--email",
      "alice@example.com",
      "--role",
      "admin",
    );
    expect(changed.stdout).toEqual(["changed alice@example.com in tokyo from viewer to admin"]);
    const { rows } = await db.owner.query(
      `SELECT m.role FROM public.workspace_members m JOIN public.workspaces w ON w.id = m.workspace_id WHERE w.slug = 'tokyo'`,
    );
    expect(rows).toEqual([{ role: "admin" }]);
  });

  it("lists workspaces with member and tracked-user counts", async () => {
    const result = await admin("list-workspaces");
    expect(result.code).toBe(0);
    expect(result.stdout[0]).toMatch(/^SLUG\s+NAME\s+TIMEZONE\s+MEMBERS\s+TRACKED USERS$/);
    expect(result.stdout.slice(1).map((l) => l.split(/\s{2,}/))).toEqual([
      ["acme-cloud-eu", "Acme Cloud (EU)", "Europe/Berlin", "0", "0"],
      ["acme-cloud-eu-2", "acme cloud eu", "UTC", "0", "0"],
      ["tokyo", "Tokyo Team", "Asia/Tokyo", "1", "0"],
    ]);
  });

  it("prints help listing every command", async () => {
    const result = await admin("help");
    expect(result.code).toBe(0);
    const text = result.stdout.join("\n");
    for (const name of ["create-user", "create-workspace", "add-member", "list-workspaces", "help"])
      expect(text).toContain(name);
  });
});

describe("slugFromName", () => {
  it("lowercases, strips accents and punctuation, and trims dashes", () => {
    expect(slugFromName("Café Zürich — Ops!")).toBe("cafe-zurich-ops");
    expect(slugFromName("  --Hello--  ")).toBe("hello");
    expect(slugFromName("x".repeat(80))).toHaveLength(60);
  });
});
