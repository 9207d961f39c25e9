import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { adminHint, seedIfEmpty } from "./first-start";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());
afterEach(() => {
  delete process.env.PULSEBOARD_SEED;
  delete process.env.PULSEBOARD_SEED_SCALE;
});

describe("first start", () => {
  it("tells how to create the first account while there is none", async () => {
    expect(await adminHint(db.ownerUrl)).toMatch(/^no accounts yet: create one with npm run admin -- create-user/);
  });

  it("skips seeding when PULSEBOARD_SEED=off", async () => {
    process.env.PULSEBOARD_SEED = "off";
    expect(await seedIfEmpty(db.ownerUrl, { log: () => {} })).toBe(false);
    const { rows } = await db.owner.query<{ n: number }>("SELECT count(*)::int AS n FROM public.workspaces");
    expect(rows[0].n).toBe(0);
  });

  it("seeds an empty database once, then leaves it alone", async () => {
    process.env.PULSEBOARD_SEED_SCALE = "small";
    const lines: string[] = [];
    expect(await seedIfEmpty(db.ownerUrl, { log: (line) => lines.push(line) })).toBe(true);
    expect(lines.some((line) => /seeded scale=small/.test(line))).toBe(true);
    const before = await db.owner.query<{ n: number }>("SELECT count(*)::int AS n FROM public.agent_runs");
    expect(before.rows[0].n).toBeGreaterThan(300);
    expect(await seedIfEmpty(db.ownerUrl, { log: () => {} })).toBe(false);
    const after = await db.owner.query<{ n: number }>("SELECT count(*)::int AS n FROM public.agent_runs");
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it("prints the demo logins while the admin still has the demo password, and nothing once it changed", async () => {
    expect(await adminHint(db.ownerUrl)).toBe(
      "demo logins: admin@pulseboard.local, member@pulseboard.local, viewer@pulseboard.local (password: pulseboard-demo)",
    );
    await db.owner.query("UPDATE public.accounts SET password_hash = NULL WHERE email = 'admin@pulseboard.local'");
    expect(await adminHint(db.ownerUrl)).toBeNull();
  });
});
