import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { loadMigrations, MIGRATIONS_DIR, runMigrations } from "@/lib/db/migrate";
import { ensurePartitions, listPartitions } from "@/lib/db/partitions";
import { withDatabase } from "@/lib/db/urls";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

let db: TestDatabase;
let ws: string;
let user: string;

const one = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T> =>
  (await db.owner.query<T>(sql, params)).rows[0];

/** The UTC month start `offset` months from now, as the migration names it (YYYY_MM). */
function monthLabel(offset: number): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  ws = (await one<{ id: string }>("INSERT INTO public.workspaces (slug, name) VALUES ('parts', 'Parts') RETURNING id"))
    .id;
  user = (
    await one<{ id: string }>("INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'u1') RETURNING id", [
      ws,
    ])
  ).id;
});
afterAll(async () => db.drop());

describe("partitioned raw tables (0060)", () => {
  it("are range-partitioned by created_at with the partition key in the primary key", async () => {
    const { rows } = await db.owner.query<{ name: string; strategy: string; key: string; pk: string }>(`
      SELECT c.oid::regclass::text AS name, pt.partstrat AS strategy, pg_get_partkeydef(c.oid) AS key,
             pg_get_constraintdef(k.oid) AS pk
        FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid
        JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
       WHERE c.oid IN ('analytics.user_activity'::regclass, 'public.llm_usage_logs'::regclass) ORDER BY 1`);
    expect(rows).toEqual([
      {
        name: "analytics.user_activity",
        strategy: "r",
        key: "RANGE (created_at)",
        pk: "PRIMARY KEY (workspace_id, created_at, id)",
      },
      {
        name: "llm_usage_logs",
        strategy: "r",
        key: "RANGE (created_at)",
        pk: "PRIMARY KEY (workspace_id, created_at, id)",
      },
    ]);
  });

  it("have this month, three months ahead and a default partition, all in raw_partitions", async () => {
    const names = (await listPartitions(db.owner)).map((p) => p.partition);
    for (const table of ["user_activity", "llm_usage_logs"]) {
      for (const offset of [0, 1, 2, 3]) expect(names).toContain(`raw_partitions.${table}_p${monthLabel(offset)}`);
      expect(names).toContain(`raw_partitions.${table}_default`);
    }
  });

  it("keeps only the justified indexes", async () => {
    const { rows } = await db.owner.query<{ name: string }>(
      `SELECT indexrelid::regclass::text AS name FROM pg_index
        WHERE indrelid IN ('analytics.user_activity'::regclass, 'public.llm_usage_logs'::regclass) ORDER BY 1`,
    );
    expect(rows.map((r) => r.name)).toEqual([
      "analytics.idx_user_activity_created_at_brin",
      "analytics.user_activity_pkey",
      "idx_llm_usage_logs_created_brin",
      "idx_llm_usage_logs_run",
      "llm_usage_logs_pkey",
    ]);
  });

  it("ensure_partitions creates the missing months once and refuses a bad horizon", async () => {
    expect(await ensurePartitions(db.owner, 3)).toBe(0);
    expect(await ensurePartitions(db.owner, 5)).toBe(4); // months 4 and 5, two tables
    expect(await ensurePartitions(db.owner, 5)).toBe(0);
    await expect(db.owner.query("SELECT app.ensure_partitions(25)")).rejects.toThrow(/between 0 and 24/);
    await expect(ensurePartitions(db.owner, -1)).rejects.toThrow();
  });

  it("the default partition catches rows outside every month; creating that month moves them in", async () => {
    await db.owner.query(
      `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, created_at)
       SELECT $1, $2, 'page_view', date_trunc('month', now(), 'UTC') + interval '8 months' + make_interval(hours => g) FROM generate_series(1, 3) g`,
      [ws, user],
    );
    expect(await one("SELECT count(*)::int AS n FROM raw_partitions.user_activity_default")).toEqual({ n: 3 });
    expect(await ensurePartitions(db.owner, 8)).toBe(6); // months 6, 7, 8 of two tables
    expect(await one("SELECT count(*)::int AS n FROM raw_partitions.user_activity_default")).toEqual({ n: 0 });
    expect(await one(`SELECT count(*)::int AS n FROM raw_partitions.user_activity_p${monthLabel(8)}`)).toEqual({
      n: 3,
    });
    expect(await one("SELECT count(*)::int AS n FROM analytics.user_activity WHERE workspace_id = $1", [ws])).toEqual({
      n: 3,
    });
    await db.owner.query("DELETE FROM analytics.user_activity WHERE workspace_id = $1", [ws]);
  });

  it("the app role cannot reach a partition directly, only the parent under RLS", async () => {
    const app = new pg.Client({ connectionString: db.appUrl });
    await app.connect();
    try {
      await expect(app.query("SELECT count(*) FROM raw_partitions.user_activity_default")).rejects.toMatchObject({
        code: "42501",
      });
      const { rows } = await app.query<{ n: number }>("SELECT count(*)::int AS n FROM analytics.user_activity");
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await app.end();
    }
  });

  it("retention drops whole expired partitions and deletes rows only at the boundary", async () => {
    // Partitions for the last seven months; events 200, 150, 95, 85 and 10 days old (2 each).
    for (let offset = -7; offset < 0; offset++) {
      await db.owner.query(
        "SELECT app.create_month_partition('analytics.user_activity', date_trunc('month', now(), 'UTC') + make_interval(months => $1))",
        [offset],
      );
    }
    await db.owner.query(
      `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, created_at)
       SELECT $1, $2, 'page_view', now() - make_interval(days => d) FROM unnest(ARRAY[200, 200, 150, 150, 95, 95, 85, 85, 10, 10]) d`,
      [ws, user],
    );
    const before = (await listPartitions(db.owner)).filter(
      (p) => p.parent === "analytics.user_activity" && !p.is_default,
    );
    const cutoff = (await one<{ t: Date }>("SELECT now() - interval '90 days' AS t")).t;
    const expired = before.filter((p) => p.range_end !== null && p.range_end <= cutoff);
    expect(expired.length).toBeGreaterThanOrEqual(3); // the months of 200 and 150 days ago, and more

    const result = await one("SELECT * FROM analytics.cleanup_old_data(90, 30)");
    expect(result).toEqual({ user_activity_deleted: "6", hourly_metrics_deleted: "0" });
    const after = (await listPartitions(db.owner)).filter(
      (p) => p.parent === "analytics.user_activity" && !p.is_default,
    );
    expect(after.length).toBe(before.length - expired.length);
    expect(after.every((p) => p.range_end !== null && p.range_end > cutoff)).toBe(true);
    const left = await db.owner.query<{ days: number }>(
      "SELECT round(extract(epoch FROM now() - created_at) / 86400)::int AS days FROM analytics.user_activity WHERE workspace_id = $1 ORDER BY 1",
      [ws],
    );
    expect(left.rows.map((r) => r.days)).toEqual([10, 10, 85, 85]);
  });
});

describe("migration 0060 on a database with data", () => {
  it("moves every existing row into the partitions, with the same values", async () => {
    const serverUrl = inject("pgServerUrl");
    const name = `parts_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = withDatabase(serverUrl, name);
    const before = mkdtempSync(path.join(os.tmpdir(), "migrations-before-0060-"));
    const client = new pg.Client({ connectionString: url });
    try {
      for (const migration of loadMigrations().filter((m) => m.name < "0060")) {
        copyFileSync(path.join(MIGRATIONS_DIR, `${migration.name}.sql`), path.join(before, `${migration.name}.sql`));
      }
      await runMigrations(url, { dir: before });
      await client.connect();
      const w = (
        await client.query<{ id: string }>("INSERT INTO public.workspaces (slug, name) VALUES ('m', 'M') RETURNING id")
      ).rows[0].id;
      const u = (
        await client.query<{ id: string }>(
          "INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'u') RETURNING id",
          [w],
        )
      ).rows[0].id;
      // One event a day for 400 days: 14 months of data.
      await client.query(
        `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, created_at)
         SELECT $1, $2, 'login', now() - make_interval(days => g) FROM generate_series(0, 400) g`,
        [w, u],
      );
      await client.query(
        `INSERT INTO public.llm_usage_logs (workspace_id, user_id, provider, model, prompt_tokens, completion_tokens, latency_ms, created_at)
         SELECT $1, $2, 'openai', 'gpt-4o', g, 2 * g, 10, now() - make_interval(days => g) FROM generate_series(0, 99) g`,
        [w, u],
      );
      const checksum = async () =>
        (
          await client.query<{ a: string; l: string }>(
            `SELECT (SELECT count(*) || ':' || md5(string_agg(id::text || created_at::text, ',' ORDER BY id)) FROM analytics.user_activity) AS a,
                    (SELECT count(*) || ':' || sum(total_tokens) || ':' || md5(string_agg(id::text, ',' ORDER BY id)) FROM public.llm_usage_logs) AS l`,
          )
        ).rows[0];
      const original = await checksum();
      expect(original.l.split(":").slice(0, 2)).toEqual(["100", String(3 * 4950)]);

      await runMigrations(url);
      expect(await checksum()).toEqual(original);
      const parts = await client.query<{ n: number; in_default: number }>(
        `SELECT count(*)::int AS n, (SELECT count(*)::int FROM raw_partitions.user_activity_default) AS in_default
           FROM app.time_partitions('analytics.user_activity') WHERE NOT is_default`,
      );
      // One partition per month from the oldest event's month to three months ahead; none in default.
      expect(parts.rows[0].n).toBeGreaterThanOrEqual(17);
      expect(parts.rows[0].in_default).toBe(0);
    } finally {
      await client.end().catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      rmSync(before, { recursive: true, force: true });
    }
  });
});
