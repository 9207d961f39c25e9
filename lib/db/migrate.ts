import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { APP_ROLE, appRolePassword } from "./urls";

export const MIGRATIONS_DIR = path.join(process.cwd(), "prisma", "migrations");

export type Migration = { name: string; sql: string; checksum: string };

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), "utf8");
      return { name: file.replace(/\.sql$/, ""), sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 7_202_611;

/**
 * Applies pending migrations as the owner, each in its own transaction, recording each so it runs
 * once. Concurrent runners (dev server + worker starting together) serialise on an advisory lock.
 * An edited, already-applied migration fails loudly instead of silently diverging.
 */
export async function runMigrations(
  ownerUrl: string,
  options: { log?: (line: string) => void; dir?: string } = {},
): Promise<string[]> {
  const log = options.log ?? (() => {});
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS public._pulseboard_migrations (
        name       text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    await ensureAppRole(client, ownerUrl);
    const done = new Map(
      (
        await client.query<{ name: string; checksum: string }>(
          "SELECT name, checksum FROM public._pulseboard_migrations",
        )
      ).rows.map((row) => [row.name, row.checksum]),
    );
    for (const migration of loadMigrations(options.dir)) {
      const previous = done.get(migration.name);
      if (previous !== undefined) {
        if (previous !== migration.checksum) {
          throw new Error(
            `Migration ${migration.name} was changed after it was applied. Add a new migration instead of editing an applied one.`,
          );
        }
        continue;
      }
      log(`migrating: ${migration.name}`);
      try {
        await client.query("BEGIN");
        await client.query(migration.sql);
        await client.query("INSERT INTO public._pulseboard_migrations (name, checksum) VALUES ($1, $2)", [
          migration.name,
          migration.checksum,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`Migration ${migration.name} failed and was rolled back: ${message}`);
      }
      applied.push(migration.name);
    }
    await grantAppRole(client);
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    await client.end();
  }
  return applied;
}

async function ensureAppRole(client: pg.Client, ownerUrl: string) {
  const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
  if (process.env.DATABASE_APP_URL) {
    if (exists.rowCount === 0) throw new Error(`DATABASE_APP_URL is set but role ${APP_ROLE} does not exist.`);
    return;
  }
  const password = appRolePassword(ownerUrl).replace(/'/g, "''");
  const verb = exists.rowCount === 0 ? "CREATE" : "ALTER";
  await client.query(
    `${verb} ROLE ${APP_ROLE} WITH LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${password}'`,
  );
}

/** Tables get their grants from default privileges (migration 0000); CONNECT is per database. */
async function grantAppRole(client: pg.Client) {
  const database = (await client.query<{ db: string }>("SELECT current_database() AS db")).rows[0].db;
  await client.query(`GRANT CONNECT ON DATABASE "${database.replace(/"/g, '""')}" TO ${APP_ROLE}`);
}
