import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureRollupFloor } from "@/lib/bench/floor";
import { rebuildRollups } from "@/lib/rollups/engine";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

// Two workspaces far apart in time zones: "today" differs between them for most of the UTC day, and the
// far-east one's local day includes rows from before today's UTC midnight.
const ZONES = { utc: "UTC", east: "Pacific/Kiritimati" } as const;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  for (const [slug, zone] of Object.entries(ZONES)) {
    const ws = (
      await db.owner.query<{ id: string }>(
        "INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, $1, $2) RETURNING id",
        [slug, zone],
      )
    ).rows[0].id;
    await db.owner.query(
      "INSERT INTO public.users (workspace_id, external_id) SELECT $1, 'u' || g FROM generate_series(1, 4) g",
      [ws],
    );
    await db.owner.query(
      "INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'a' || g, 'A' || g FROM generate_series(1, 3) g",
      [ws],
    );
    // Earlier days (up to 30 hours before today's UTC midnight) and "the minute" (now).
    await db.owner.query(
      `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds)
       SELECT $1, 'r' || g, a.id, u.id, 'completed', t, t + interval '5 seconds', 5
       FROM generate_series(1, 40) g
       JOIN LATERAL (SELECT id FROM public.agents WHERE workspace_id = $1 ORDER BY external_id OFFSET g % 3 LIMIT 1) a ON true
       JOIN LATERAL (SELECT id FROM public.users WHERE workspace_id = $1 ORDER BY external_id OFFSET g % 4 LIMIT 1) u ON true
       CROSS JOIN LATERAL (SELECT CASE WHEN g <= 30 THEN date_trunc('day', now(), 'UTC') - make_interval(hours => g)
                                       ELSE now() END AS t) tt`,
      [ws],
    );
    await db.owner.query(
      `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, session_id, created_at)
       SELECT $1, u.id, 'login', gen_random_uuid(), CASE WHEN g <= 20 THEN date_trunc('day', now(), 'UTC') - make_interval(hours => g)
                                           ELSE now() END
       FROM generate_series(1, 26) g
       JOIN LATERAL (SELECT id FROM public.users WHERE workspace_id = $1 ORDER BY external_id OFFSET g % 4 LIMIT 1) u ON true`,
      [ws],
    );
  }
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  await rebuildRollups(db.owner, { from: day(-3), to: day(1) });
}, 120_000);
afterAll(async () => db.drop());

const MINUTE_END = `(SELECT max(created_at) FROM analytics.user_activity WHERE created_at >= date_trunc('day', now(), 'UTC'))`;

describe("rollup floor", () => {
  it("due: copies exactly the rows of the minute's periods, reads exactly the minute's raw rows", async () => {
    const result = await measureRollupFloor(db.owner, "due");
    const written = Object.fromEntries(result.tables.map((t) => [t.table, t.rows]));
    // Recounted from raw rows: distinct (user, agent) pairs of runs on each workspace's local day of the minute.
    const { rows } = await db.owner.query<{ pairs: number; users: number }>(
      `SELECT count(DISTINCT (r.workspace_id, r.user_id, r.agent_id))::integer AS pairs,
              (SELECT count(DISTINCT (a.workspace_id, a.user_id))::integer FROM (
                 SELECT workspace_id, user_id, created_at AS at FROM analytics.user_activity
                 UNION ALL SELECT workspace_id, user_id, started_at FROM public.agent_runs) a
               JOIN public.workspaces w ON w.id = a.workspace_id
               WHERE (a.at AT TIME ZONE w.timezone)::date = (${MINUTE_END} AT TIME ZONE w.timezone)::date) AS users
       FROM public.agent_runs r JOIN public.workspaces w ON w.id = r.workspace_id
       WHERE (r.started_at AT TIME ZONE w.timezone)::date = (${MINUTE_END} AT TIME ZONE w.timezone)::date`,
    );
    expect(rows[0].pairs).toBeGreaterThan(0);
    expect(written["analytics.run_user_daily"]).toBe(rows[0].pairs);
    expect(written["analytics.user_daily_activity"]).toBe(rows[0].users);
    // Two workspaces plus the platform, one daily_metrics row each for the day of the minute.
    expect(written["analytics.daily_metrics"]).toBe(3);
    // 10 runs and 6 activity events per workspace are the minute.
    expect(result.rawRowsRead).toBe(2 * (10 + 6));
    expect(result.rowsWritten).toBe(result.tables.reduce((sum, t) => sum + t.rows, 0));
    const { rows: schemas } = await db.owner.query("SELECT 1 FROM pg_namespace WHERE nspname = 'bench_floor'");
    expect(schemas).toHaveLength(0);
  });

  it("rebuild: copies every row of every rollup table, reads every raw row", async () => {
    const result = await measureRollupFloor(db.owner, "rebuild");
    for (const { table, rows } of result.tables) {
      const { rows: count } = await db.owner.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${table}`);
      expect(rows, table).toBe(count[0].n);
    }
    expect(result.tables.find((t) => t.table === "analytics.hourly_metrics")?.rows).toBeGreaterThan(0);
    expect(result.rawRowsRead).toBe(2 * (40 + 26));
  });

  it("refuses a world without an ingested minute", async () => {
    await db.owner.query("DELETE FROM analytics.user_activity WHERE created_at >= date_trunc('day', now(), 'UTC')");
    await expect(measureRollupFloor(db.owner, "due")).rejects.toThrow(/no ingested minute/);
  });
});
