import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { loadWorld, worldArbitrary } from "./dimensions.testkit";
import { rebuildRollups, refreshDirtyRollups } from "./engine";
import { rollupSteps } from "./steps";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

/** Marks every hour of the workspace's runs and calls dirty, the way ingest does. */
async function markWorkspaceDirty(workspaceId: string) {
  await db.owner.query(
    `INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
     SELECT DISTINCT $1::uuid, date_trunc('hour', t, 'UTC') FROM (
         SELECT started_at AS t FROM public.agent_runs WHERE workspace_id = $1
         UNION ALL SELECT created_at FROM public.llm_usage_logs WHERE workspace_id = $1) AS raw
     ON CONFLICT DO NOTHING`,
    [workspaceId],
  );
}

describe("usage rollups inside the rollup engine", () => {
  it("are registered and filled by an incremental cycle from dirty hours", async () => {
    expect(rollupSteps().map((s) => s.name)).toEqual(
      expect.arrayContaining(["run_dimensions", "llm_dimensions", "stage_dimensions", "token_usage", "cohorts"]),
    );
    const world = fc.sample(worldArbitrary(), { numRuns: 1, seed: 42 })[0];
    const workspaceId = await loadWorld(db.owner, world);
    await markWorkspaceDirty(workspaceId);
    const stats = await refreshDirtyRollups(db.owner);
    expect(stats.rowsWritten.token_usage).toBeGreaterThan(0);

    // Totals of each table equal the raw totals (the column-by-column checks are in the step tests).
    const { rows } = await db.owner.query(
      `SELECT (SELECT sum(runs)::int FROM analytics.run_hourly WHERE workspace_id = $1) AS hourly_runs,
              (SELECT count(*)::int FROM public.agent_runs WHERE workspace_id = $1) AS raw_runs,
              (SELECT sum(runs)::int FROM analytics.run_user_daily WHERE workspace_id = $1) AS user_daily_runs,
              (SELECT sum(calls)::int FROM analytics.llm_usage_hourly WHERE workspace_id = $1) AS hourly_calls,
              (SELECT sum(calls)::int FROM analytics.llm_usage_user_daily WHERE workspace_id = $1) AS user_daily_calls,
              (SELECT count(*)::int FROM public.llm_usage_logs WHERE workspace_id = $1) AS raw_calls,
              (SELECT coalesce(sum(stages), 0)::int FROM analytics.stage_daily WHERE workspace_id = $1) AS stages,
              (SELECT count(*)::int FROM public.run_stages WHERE workspace_id = $1) AS raw_stages,
              (SELECT sum(message_count)::int FROM analytics.user_token_usage WHERE workspace_id = $1 AND period_type = 'daily') AS daily_calls,
              (SELECT sum(message_count)::int FROM analytics.user_token_usage WHERE workspace_id = $1 AND period_type = 'monthly') AS monthly_calls,
              (SELECT count(*)::int FROM analytics.user_cohorts WHERE workspace_id = $1) > 0 AS has_cohorts`,
      [workspaceId],
    );
    const r = rows[0];
    expect([r.hourly_runs, r.user_daily_runs]).toEqual([r.raw_runs, r.raw_runs]);
    expect([r.hourly_calls, r.user_daily_calls, r.daily_calls, r.monthly_calls]).toEqual([
      r.raw_calls,
      r.raw_calls,
      r.raw_calls,
      r.raw_calls,
    ]);
    expect(r.stages).toBe(r.raw_stages);
    expect(r.has_cohorts).toBe(true);
  });

  it("the platform's cohorts are written after the workspaces' of the same cycle", async () => {
    // The platform's day batch runs in a lane beside the workspaces'; its cohort rows, which add up
    // the workspaces' rows, must come after every lane.
    await db.owner.query(
      "TRUNCATE public.workspaces, analytics.cohort_refreshes, analytics.rollup_platform_dirty_hours CASCADE",
    );
    for (const seed of [3, 4]) {
      const world = fc.sample(worldArbitrary(), { numRuns: 1, seed })[0];
      const workspaceId = await loadWorld(db.owner, world);
      await markWorkspaceDirty(workspaceId);
    }
    await refreshDirtyRollups(db.owner);
    const { rows } = await db.owner.query<{ period: string; platform: number; workspaces: number }>(
      `SELECT cohort_period AS period,
              sum(initial_users) FILTER (WHERE workspace_id IS NULL)::int AS platform,
              sum(initial_users) FILTER (WHERE workspace_id IS NOT NULL)::int AS workspaces
       FROM analytics.user_cohorts GROUP BY 1 ORDER BY 1`,
    );
    expect(rows.map((row) => row.period)).toEqual(["daily", "monthly", "weekly"]);
    for (const row of rows) {
      expect(row.workspaces).toBeGreaterThan(0);
      expect(row.platform).toBe(row.workspaces);
    }
  });

  it("declare the tables they write, and a finished rebuild vacuums and analyzes them", async () => {
    const steps = rollupSteps();
    expect(steps.filter((step) => (step.tables ?? []).length === 0).map((step) => step.name)).toEqual([]);
    const tables = [...new Set(steps.flatMap((step) => step.tables ?? []))];
    const { rows: missing } = await db.owner.query<{ name: string }>(
      "SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NULL",
      [tables],
    );
    expect(missing).toEqual([]);

    const world = fc.sample(worldArbitrary(), { numRuns: 1, seed: 7 })[0];
    await loadWorld(db.owner, world);
    // Emptied tables have no statistics (reltuples -1); VACUUM (ANALYZE) sets reltuples to the live rows.
    await db.owner.query("TRUNCATE analytics.run_hourly, analytics.llm_usage_user_daily");
    const { rows: range } = await db.owner.query<{ from: string; to: string }>(
      `SELECT (min(t) - interval '1 day')::date::text AS from, (max(t) + interval '1 day')::date::text AS to
       FROM (SELECT started_at AS t FROM public.agent_runs UNION ALL SELECT created_at FROM public.llm_usage_logs) raw`,
    );
    const stats = await rebuildRollups(db.owner, { from: range[0].from, to: range[0].to });
    expect(stats.vacuumMs).toBeGreaterThanOrEqual(0);
    const { rows } = await db.owner.query<{ table: string; reltuples: number; n: number }>(
      `SELECT 'run_hourly' AS table, (SELECT reltuples FROM pg_class WHERE oid = 'analytics.run_hourly'::regclass) AS reltuples,
              (SELECT count(*)::int FROM analytics.run_hourly) AS n
       UNION ALL
       SELECT 'llm_usage_user_daily', (SELECT reltuples FROM pg_class WHERE oid = 'analytics.llm_usage_user_daily'::regclass),
              (SELECT count(*)::int FROM analytics.llm_usage_user_daily)`,
    );
    for (const row of rows) {
      expect(row.n).toBeGreaterThan(0);
      expect(row).toEqual({ table: row.table, reltuples: row.n, n: row.n });
    }
  });
});
