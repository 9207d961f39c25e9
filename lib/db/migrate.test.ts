import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { loadMigrations, runMigrations } from "./migrate";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe("runMigrations", () => {
  it("records every migration once and is a no-op when run again", async () => {
    const { rows } = await db.owner.query<{ name: string }>(
      "SELECT name FROM public._pulseboard_migrations ORDER BY name",
    );
    expect(rows.map((r) => r.name)).toEqual(loadMigrations().map((m) => m.name));
    expect(await runMigrations(db.ownerUrl)).toEqual([]);
  });

  it("refuses an applied migration whose text changed", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "migrations-"));
    for (const m of loadMigrations()) writeFileSync(path.join(dir, `${m.name}.sql`), m.sql);
    const first = loadMigrations()[0];
    writeFileSync(path.join(dir, `${first.name}.sql`), `${first.sql}\n-- edited\n`);
    await expect(runMigrations(db.ownerUrl, { dir })).rejects.toThrow(/changed after it was applied/);
  });

  it("rolls a failing migration back whole and says which one failed", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "migrations-"));
    for (const m of loadMigrations()) writeFileSync(path.join(dir, `${m.name}.sql`), m.sql);
    writeFileSync(
      path.join(dir, "9999_broken.sql"),
      "CREATE TABLE public.half_written (id int); SELECT nonsense_fn();",
    );
    await expect(runMigrations(db.ownerUrl, { dir })).rejects.toThrow(/9999_broken failed and was rolled back/);
    const { rows } = await db.owner.query("SELECT to_regclass('public.half_written') AS t");
    expect(rows[0].t).toBeNull();
  });

  it("creates an app role that is neither superuser nor able to bypass RLS", async () => {
    const { rows } = await db.owner.query(
      "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'pulseboard_app'",
    );
    expect(rows[0]).toEqual({ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false });
  });
});
