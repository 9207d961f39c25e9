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
    for (const table of ["user_activity", "llm_usage_logs", "agent_runs", "run_stages"]) {
      for (const offset of [0, 1, 2, 3]) expect(names).toContain(`raw_partitions.${table}_p${monthLabel(offset)}`);
      expect(names).toContain(`raw_partitions.${table}_default`);
    }
  });

  it("keeps only the justified indexes", async () => {
    const { rows } = await db.owner.query<{ name: string; def: string }>(
      `SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index
        WHERE indrelid IN ('analytics.user_activity'::regclass, 'public.llm_usage_logs'::regclass,
                           'public.agent_runs'::regclass, 'public.run_stages'::regclass, 'public.agent_run_keys'::regclass)
        ORDER BY 1`,
    );
    expect(rows.map((r) => r.def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?/, "$1")).sort()).toEqual([
      "UNIQUE analytics.user_activity USING btree (workspace_id, created_at, id)",
      "UNIQUE public.agent_run_keys USING btree (workspace_id, external_id)",
      "UNIQUE public.agent_run_keys USING btree (workspace_id, run_id)",
      // 0120: the stages' foreign key target (started_at included so a moved run moves its stages).
      "UNIQUE public.agent_run_keys USING btree (workspace_id, run_id, started_at)",
      "UNIQUE public.agent_runs USING btree (workspace_id, started_at, id)",
      "UNIQUE public.llm_usage_logs USING btree (workspace_id, created_at, id)",
      "UNIQUE public.run_stages USING btree (workspace_id, started_at, run_id, stage_index)",
      "analytics.user_activity USING brin (created_at)",
      "public.agent_runs USING brin (started_at)",
      "public.agent_runs USING btree (workspace_id, id)",
      "public.llm_usage_logs USING brin (created_at)",
      // 0096: calls waiting for a run that has not arrived yet (only those rows are indexed).
      "public.llm_usage_logs USING btree (workspace_id, pending_run_external_id) WHERE (pending_run_external_id IS NOT NULL)",
      "public.llm_usage_logs USING btree (workspace_id, run_id) WHERE (run_id IS NOT NULL)",
      "public.run_stages USING btree (workspace_id, run_id)",
    ]);
    expect(rows.map((r) => r.name)).toEqual([
      "agent_run_keys_pkey",
      "agent_run_keys_run_key",
      "agent_run_keys_run_start_key",
      "agent_runs_pkey",
      "analytics.idx_user_activity_created_at_brin",
      "analytics.user_activity_pkey",
      "idx_agent_runs_id",
      "idx_agent_runs_started_brin",
      "idx_llm_usage_logs_created_brin",
      "idx_llm_usage_logs_pending_run",
      "idx_llm_usage_logs_run",
      "idx_run_stages_run",
      "llm_usage_logs_pkey",
      "run_stages_pkey",
    ]);
  });

  it("ensure_partitions creates the missing months once and refuses a bad horizon", async () => {
    expect(await ensurePartitions(db.owner, 3)).toBe(0);
    expect(await ensurePartitions(db.owner, 5)).toBe(8); // months 4 and 5, four tables
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
    expect(await ensurePartitions(db.owner, 8)).toBe(12); // months 6, 7, 8 of four tables
    expect(await one("SELECT count(*)::int AS n FROM raw_partitions.user_activity_default")).toEqual({ n: 0 });
    expect(await one(`SELECT count(*)::int AS n FROM raw_partitions.user_activity_p${monthLabel(8)}`)).toEqual({
      n: 3,
    });
    expect(await one("SELECT count(*)::int AS n FROM analytics.user_activity WHERE workspace_id = $1", [ws])).toEqual({
      n: 3,
    });
    await db.owner.query("DELETE FROM analytics.user_activity WHERE workspace_id = $1", [ws]);
  });

  it("a month whose runs sit in agent_runs' default partition is created and the runs move in, with stages and keys", async () => {
    const agent = (
      await one<{ id: string }>(
        "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'a-far', 'Far') RETURNING id",
        [ws],
      )
    ).id;
    const far = "date_trunc('month', now(), 'UTC') + interval '10 months' + interval '3 days'";
    const run = (
      await one<{ id: string }>(
        `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at)
         VALUES ($1, 'far-run', $2, $3, 'running', ${far}) RETURNING id`,
        [ws, agent, user],
      )
    ).id;
    await db.owner.query(
      `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, prompt_tokens, started_at)
       VALUES ($1, $2, 0, 'plan', 7, ${far}), ($1, $2, 1, 'act', 8, ${far})`,
      [ws, run],
    );
    // Months 9 and 10 of all four tables. (Before 0120 foreign keys referenced agent_runs, so rows
    // could not leave its default partition and its month 10 was skipped.)
    expect(await ensurePartitions(db.owner, 10)).toBe(8);
    const names = (await listPartitions(db.owner)).map((p) => p.partition);
    expect(names).toContain(`raw_partitions.agent_runs_p${monthLabel(10)}`);
    expect(await one("SELECT count(*)::int AS n FROM raw_partitions.agent_runs_default WHERE id = $1", [run])).toEqual({
      n: 0,
    });
    expect(
      await one(`SELECT count(*)::int AS n FROM raw_partitions.agent_runs_p${monthLabel(10)} WHERE id = $1`, [run]),
    ).toEqual({ n: 1 });
    expect(
      await one(
        `SELECT count(*)::int AS n, sum(prompt_tokens)::int AS tokens FROM raw_partitions.run_stages_p${monthLabel(10)}`,
      ),
    ).toEqual({ n: 2, tokens: 15 });
    // Nothing was lost on the way: the run, its stages (through the parent) and its key.
    expect(
      await one(
        `SELECT (SELECT count(*)::int FROM public.run_stages WHERE workspace_id = $1 AND run_id = $2) AS stages,
                (SELECT count(*)::int FROM public.agent_run_keys WHERE workspace_id = $1 AND run_id = $2) AS keys`,
        [ws, run],
      ),
    ).toEqual({ stages: 2, keys: 1 });
    expect(await ensurePartitions(db.owner, 10)).toBe(0);
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

describe("migration 0093 on a database with runs, stages and calls", () => {
  it("moves every run and stage into the partitions, registers every run and keeps calls linked", async () => {
    const serverUrl = inject("pgServerUrl");
    const name = `runparts_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = withDatabase(serverUrl, name);
    const before = mkdtempSync(path.join(os.tmpdir(), "migrations-before-0093-"));
    const client = new pg.Client({ connectionString: url });
    try {
      for (const migration of loadMigrations().filter((m) => m.name < "0093")) {
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
      const a = (
        await client.query<{ id: string }>(
          "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'a', 'A') RETURNING id",
          [w],
        )
      ).rows[0].id;
      // One run a day for 400 days (14 months), two stages each, one call for every fourth run.
      await client.query(
        `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
         SELECT $1, 'r' || g, $2, $3, 'completed', now() - make_interval(days => g), now() - make_interval(days => g) + interval '5 seconds', 5, g
           FROM generate_series(0, 399) g`,
        [w, a, u],
      );
      await client.query(
        `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, prompt_tokens, completion_tokens, started_at)
         SELECT r.workspace_id, r.id, i, 'step', 10 + i, 1, r.started_at FROM public.agent_runs r, generate_series(0, 1) i`,
      );
      // Three stages whose copied started_at drifted from their run's (0001 never enforced it).
      await client.query(
        `UPDATE public.run_stages SET started_at = started_at + interval '1 hour'
          WHERE stage_index = 1 AND run_id IN (SELECT id FROM public.agent_runs WHERE external_id IN ('r1', 'r2', 'r3'))`,
      );
      await client.query(
        `INSERT INTO public.llm_usage_logs (workspace_id, run_id, agent_id, user_id, provider, model, prompt_tokens, completion_tokens, latency_ms, created_at)
         SELECT r.workspace_id, r.id, r.agent_id, r.user_id, 'openai', 'gpt-4o', 3, 4, 10, r.started_at
           FROM public.agent_runs r WHERE substr(r.external_id, 2)::int % 4 = 0`,
      );
      const checksum = async () =>
        (
          await client.query<{ runs: string; stages: string; calls: string }>(
            `SELECT (SELECT count(*) || ':' || sum(credits_consumed) || ':' || md5(string_agg(id::text || external_id || started_at::text, ',' ORDER BY id)) FROM public.agent_runs) AS runs,
                    (SELECT count(*) || ':' || sum(total_tokens) || ':' || md5(string_agg(id::text || run_id::text || stage_index, ',' ORDER BY id)) FROM public.run_stages) AS stages,
                    (SELECT count(*) || ':' || count(run_id) || ':' || md5(string_agg(id::text || run_id::text, ',' ORDER BY id)) FROM public.llm_usage_logs) AS calls`,
          )
        ).rows[0];
      const original = await checksum();
      expect(original.runs.split(":").slice(0, 2)).toEqual(["400", String((399 * 400) / 2) + ".0000"]);
      expect(original.stages.split(":").slice(0, 2)).toEqual(["800", String(400 * (11 + 12))]);
      expect(original.calls.split(":").slice(0, 2)).toEqual(["100", "100"]);

      await runMigrations(url);
      expect(await checksum()).toEqual(original);
      const after = await client.query<{
        keys: number;
        drifted: number;
        run_parts: number;
        in_default: number;
        joined_calls: number;
      }>(
        `SELECT (SELECT count(*)::int FROM public.agent_run_keys k JOIN public.agent_runs r
                   ON r.workspace_id = k.workspace_id AND r.started_at = k.started_at AND r.id = k.run_id AND r.external_id = k.external_id) AS keys,
                (SELECT count(*)::int FROM public.run_stages s JOIN public.agent_runs r ON r.id = s.run_id WHERE s.started_at <> r.started_at) AS drifted,
                (SELECT count(*)::int FROM app.time_partitions('public.agent_runs') WHERE NOT is_default) AS run_parts,
                (SELECT count(*)::int FROM raw_partitions.agent_runs_default) + (SELECT count(*)::int FROM raw_partitions.run_stages_default) AS in_default,
                (SELECT count(*)::int FROM public.llm_usage_logs l JOIN public.agent_run_keys k ON k.workspace_id = l.workspace_id AND k.run_id = l.run_id) AS joined_calls`,
      );
      // From the oldest run's month to three months ahead; nothing in the default partitions.
      expect(after.rows[0]).toMatchObject({ keys: 400, drifted: 0, in_default: 0, joined_calls: 100 });
      expect(after.rows[0].run_parts).toBeGreaterThanOrEqual(17);
      // The materialized views that read runs were recreated with the same numbers.
      await client.query("SELECT analytics.refresh_all_materialized_views()");
      expect(
        (
          await client.query(
            "SELECT total_runs_30d, total_credits_30d::float8 AS credits FROM analytics.mv_workspace_summary",
          )
        ).rows,
      ).toEqual([{ total_runs_30d: 30, credits: (29 * 30) / 2 }]);
      // The migrated registry enforces the old unique key.
      await expect(
        client.query(
          `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at)
           VALUES ($1, 'r7', $2, $3, 'running', now())`,
          [w, a, u],
        ),
      ).rejects.toMatchObject({ code: "23505" });
    } finally {
      await client.end().catch(() => {});
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      rmSync(before, { recursive: true, force: true });
    }
  });
});
