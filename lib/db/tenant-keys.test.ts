import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

/**
 * The Citus plan (docs/SCALING.md) distributes every tenant table by workspace_id; a distributed
 * table's primary key and unique constraints must contain the distribution column. This test keeps
 * the schema honest to that plan from the catalog: every table of public/analytics is either a
 * tenant table whose primary key includes workspace_id, or listed below with the reason it is not.
 */

/** Tables with a workspace_id column whose primary key does not include it. */
const TENANT_KEY_EXCEPTIONS: Record<string, string> = {
  "analytics.daily_metrics":
    "rollup whose NULL-workspace rows are platform-wide; natural key UNIQUE NULLS NOT DISTINCT (metric_date, workspace_id). Citus: workspace rows distributed, platform rows move to a reference table (SCALING.md)",
  "analytics.hourly_metrics": "same as daily_metrics: NULL workspace = platform-wide hour",
  "analytics.user_cohorts": "same as daily_metrics: NULL workspace = platform-wide cohorts",
  "public.audit_log":
    "NULL workspace = account events (sign-ins, password changes) for platform admins; keyset-paged by a global identity id. Citus: split into a distributed workspace log keyed (workspace_id, id) and a coordinator-local account log (SCALING.md)",
};

/** Tables without a workspace_id column: shared (reference) data or platform bookkeeping. */
const SHARED_TABLES: Record<string, string> = {
  "public.workspaces":
    "the tenant itself (id is the workspace id): distributed by id, co-located with the tenant tables",
  "public.accounts": "people who sign in, members of many workspaces: a reference table",
  "public.default_model_prices": "global list prices read by every workspace's ingest: a reference table",
  "public.sign_in_failures": "throttling per e-mail/IP before any workspace is known: coordinator-local",
  "analytics.rollup_platform_dirty_hours": "platform-wide rollup queue (no workspace): coordinator-local",
  "analytics.rollup_rebuild_progress":
    "backfill progress per scope text ('platform' or a workspace id): coordinator-local bookkeeping",
  "analytics.cohort_refreshes":
    "last cohort recompute per scope text ('platform' or a workspace id): coordinator-local bookkeeping",
};

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

type TableKey = { name: string; has_workspace: boolean; pk_columns: string[] | null };

async function readTableKeys(): Promise<TableKey[]> {
  const { rows } = await db.owner.query<TableKey>(`
    SELECT format('%s.%s', n.nspname, c.relname) AS name,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped) AS has_workspace,
           (SELECT array_agg(a.attname::text ORDER BY k.ord)
              FROM pg_constraint pk
              CROSS JOIN LATERAL unnest(pk.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS pk_columns
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'analytics') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND c.relname <> '_pulseboard_migrations'
     ORDER BY 1`);
  return rows;
}

describe("tenant keys (Citus distribution by workspace_id)", () => {
  it("every tenant table's primary key includes workspace_id, except the listed ones", async () => {
    const tables = await readTableKeys();
    expect(tables.length).toBeGreaterThan(20);
    const violations = tables
      .filter((t) => t.has_workspace && !(t.pk_columns ?? []).includes("workspace_id"))
      .map((t) => `${t.name} (${t.pk_columns?.join(", ") ?? "no primary key"})`);
    expect(violations.filter((v) => !(v.split(" ")[0] in TENANT_KEY_EXCEPTIONS))).toEqual([]);
    // An exception that no longer applies must be removed, so the list stays the truth.
    expect(
      Object.keys(TENANT_KEY_EXCEPTIONS).filter((name) => !violations.some((v) => v.startsWith(`${name} `))),
    ).toEqual([]);
  });

  it("every table without workspace_id is a listed shared table", async () => {
    const shared = (await readTableKeys()).filter((t) => !t.has_workspace).map((t) => t.name);
    expect(shared.filter((name) => !(name in SHARED_TABLES))).toEqual([]);
    expect(Object.keys(SHARED_TABLES).filter((name) => !shared.includes(name))).toEqual([]);
  });
});
