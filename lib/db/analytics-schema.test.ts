import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

// Each spec-004 defect fix, shown on numbers (see /work/shared/spec/README.md, "Known defects").

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

async function one<T>(sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await db.owner.query(sql, params);
  return rows[0] as T;
}

async function workspace(slug: string, timezone = "UTC"): Promise<string> {
  return (
    await one<{ id: string }>("INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, $1, $2) RETURNING id", [
      slug,
      timezone,
    ])
  ).id;
}

async function trackedUser(workspaceId: string, externalId: string): Promise<string> {
  return (
    await one<{ id: string }>("INSERT INTO public.users (workspace_id, external_id) VALUES ($1, $2) RETURNING id", [
      workspaceId,
      externalId,
    ])
  ).id;
}

async function agent(workspaceId: string, name: string): Promise<string> {
  return (
    await one<{ id: string }>(
      "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, $2, $2) RETURNING id",
      [workspaceId, name],
    )
  ).id;
}

async function run(
  workspaceId: string,
  agentId: string,
  userId: string,
  daysAgo: number,
  credits: number,
  status = "completed",
) {
  await db.owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
     VALUES ($1, gen_random_uuid()::text, $2, $3, $4, now() - make_interval(days => $5), now() - make_interval(days => $5) + interval '10 seconds', 10, $6)`,
    [workspaceId, agentId, userId, status, daysAgo, credits],
  );
}

/** A small deterministic PRNG so a failing case can be reproduced. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("analytics.calculate_percentiles (defect 1: 004's version does not compile)", () => {
  it("gives known percentiles of a small array and NULL for an empty one", async () => {
    const row = await one<{ p: string[]; empty: string[] | null }>(
      "SELECT analytics.calculate_percentiles(ARRAY[1, 2, 3, 4]::numeric[], ARRAY[0, 0.5, 0.95, 1]::numeric[])::text[] AS p, analytics.calculate_percentiles('{}'::numeric[], ARRAY[0.5]::numeric[]) AS empty",
    );
    expect(row.p.map(Number)).toEqual([1, 2.5, 3.85, 4]);
    expect(row.empty).toBeNull();
  });

  it("equals percentile_cont over the same values on random arrays", async () => {
    const random = mulberry32(20_241_122);
    const fractions = [0.5, 0.75, 0.95, 0.99];
    for (let i = 0; i < 25; i += 1) {
      const length = 1 + Math.floor(random() * 200);
      const values = Array.from({ length }, () => Math.round(random() * 1_000_000) / 100);
      const row = await one<{ ours: number[]; reference: number[] }>(
        `SELECT analytics.calculate_percentiles($1::numeric[], $2::numeric[])::float8[] AS ours,
                (SELECT percentile_cont($2::float8[]) WITHIN GROUP (ORDER BY v) FROM unnest($1::float8[]) AS v) AS reference`,
        [values, fractions],
      );
      // ours is numeric (15 significant digits of the float8 result), so compare closely, not bitwise.
      expect(row.ours).toHaveLength(fractions.length);
      row.ours.forEach((value, k) => expect(value).toBeCloseTo(row.reference[k], 9));
      // And against a direct JS interpolation, so the test does not only compare SQL with itself.
      const sorted = [...values].sort((x, y) => x - y);
      const expected = fractions.map((f) => {
        const position = f * (sorted.length - 1);
        const low = Math.floor(position);
        const high = Math.ceil(position);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
      });
      row.ours.forEach((value, k) => expect(value).toBeCloseTo(expected[k], 6));
    }
  });
});

describe("materialized views", () => {
  let ws: string;
  let busyAgent: string;
  let idleAgent: string;

  beforeAll(async () => {
    ws = await workspace("mv-fixes");
    const [u1, u2] = [await trackedUser(ws, "u1"), await trackedUser(ws, "u2")];
    busyAgent = await agent(ws, "busy");
    idleAgent = await agent(ws, "idle");
    // 4 recent runs × 5 credits; the idle agent's only run is 40 days old (outside the 30-day window).
    await run(ws, busyAgent, u1, 1, 5);
    await run(ws, busyAgent, u1, 2, 5);
    await run(ws, busyAgent, u2, 3, 5, "failed");
    await run(ws, busyAgent, u2, 4, 5);
    await run(ws, idleAgent, u1, 40, 7);
    // 3 members.
    for (const email of ["m1@example.com", "m2@example.com", "m3@example.com"]) {
      await db.owner.query(
        "WITH a AS (INSERT INTO public.accounts (email) VALUES ($1) RETURNING id) INSERT INTO public.workspace_members (workspace_id, account_id, role) SELECT $2, id, 'member' FROM a",
        [email, ws],
      );
    }
    await db.owner.query("SELECT analytics.refresh_all_materialized_views()");
  });

  it("mv_top_agents lists an agent with no runs in 30 days with 0 (defect 3)", async () => {
    const { rows } = await db.owner.query<{
      agent_id: string;
      total_runs_30d: number;
      successful_runs_30d: number;
      success_rate: string;
      total_credits_30d: string;
    }>(
      "SELECT agent_id, total_runs_30d, successful_runs_30d, success_rate, total_credits_30d FROM analytics.mv_top_agents WHERE workspace_id = $1 ORDER BY total_runs_30d DESC",
      [ws],
    );
    expect(rows).toEqual([
      {
        agent_id: busyAgent,
        total_runs_30d: 4,
        successful_runs_30d: 3,
        success_rate: "75.00",
        total_credits_30d: "20.0000",
      },
      { agent_id: idleAgent, total_runs_30d: 0, successful_runs_30d: 0, success_rate: "0.00", total_credits_30d: "0" },
    ]);
  });

  it("mv_workspace_summary does not multiply credits by members (defect 4: 4 runs × 5 credits, 3 members → 20)", async () => {
    const row = await one<Record<string, unknown>>(
      "SELECT total_members, total_tracked_users, total_agents, total_runs_30d, total_credits_30d::text AS credits, active_users_30d FROM analytics.mv_workspace_summary WHERE workspace_id = $1",
      [ws],
    );
    expect(row).toEqual({
      total_members: 3,
      total_tracked_users: 2,
      total_agents: 2,
      total_runs_30d: 4,
      credits: "20.0000",
      active_users_30d: 2,
    });
  });

  it("mv_active_users (one pass, 0136) equals 0005's per-day distinct counts on random user-days", async () => {
    // 0005's definition, verbatim, as the oracle.
    const oracle = `
      WITH workspace_today AS (
          SELECT w.id AS workspace_id, (now() AT TIME ZONE w.timezone)::date AS local_today
          FROM public.workspaces w
          WHERE EXISTS (SELECT 1 FROM analytics.user_daily_activity a
                        WHERE a.workspace_id = w.id AND a.activity_date >= (now() AT TIME ZONE w.timezone)::date - 118)
      ), days AS (
          SELECT t.workspace_id, d::date AS activity_date FROM workspace_today t
          CROSS JOIN LATERAL generate_series(t.local_today - 89, t.local_today, interval '1 day') AS d
      )
      SELECT days.workspace_id::text, days.activity_date::text,
          (SELECT count(*) FROM analytics.user_daily_activity a
            WHERE a.workspace_id = days.workspace_id AND a.activity_date = days.activity_date)::integer AS daily_active_users,
          (SELECT count(DISTINCT a.user_id) FROM analytics.user_daily_activity a WHERE a.workspace_id = days.workspace_id
              AND a.activity_date BETWEEN days.activity_date - 6 AND days.activity_date)::integer AS weekly_active_users,
          (SELECT count(DISTINCT a.user_id) FROM analytics.user_daily_activity a WHERE a.workspace_id = days.workspace_id
              AND a.activity_date BETWEEN days.activity_date - 29 AND days.activity_date)::integer AS monthly_active_users
      FROM days ORDER BY 1, 2`;
    const zones = ["Pacific/Kiritimati", "America/Los_Angeles", "Asia/Kathmandu"];
    for (const [i, zone] of zones.entries()) {
      const id = await workspace(`mv-random-${i}`, zone);
      const users: string[] = [];
      for (let u = 0; u < 12; u++) users.push(await trackedUser(id, `r${u}`));
      // Each user active on random days from 150 days ago (before the 118 read) to 3 days ahead
      // (after today: never counted), some every day for a stretch, some rarely.
      await db.owner.query(
        `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, runs, first_seen_at, last_seen_at)
         SELECT DISTINCT ON (u, ago) $1, (now() AT TIME ZONE $2)::date - ago, u, 1, now(), now()
         FROM unnest($3::uuid[]) WITH ORDINALITY AS x(u, n),
              LATERAL (SELECT (random() * 153)::int - 3 AS ago FROM generate_series(1, (x.n * 7)::int)) d`,
        [id, zone, users],
      );
    }
    await db.owner.query("SELECT analytics.refresh_all_materialized_views()");
    const expected = await db.owner.query(oracle);
    const actual = await db.owner.query(
      `SELECT workspace_id::text, activity_date::text, daily_active_users, weekly_active_users, monthly_active_users
       FROM analytics.mv_active_users ORDER BY 1, 2`,
    );
    expect(actual.rows.length).toBeGreaterThanOrEqual(3 * 90);
    expect(actual.rows).toEqual(expected.rows);
  });

  it("mv_active_users WAU/MAU are rolling 7/30-day distinct counts (defect 5)", async () => {
    const tokyo = await workspace("mv-active", "Asia/Tokyo");
    const [a, b, c, d] = [
      await trackedUser(tokyo, "a"),
      await trackedUser(tokyo, "b"),
      await trackedUser(tokyo, "c"),
      await trackedUser(tokyo, "d"),
    ];
    // Active days relative to the workspace-local today: a: -10 and 0; b: -5; c: -3; d: -40 (outside 30 days).
    await db.owner.query(
      `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, runs, first_seen_at, last_seen_at)
       SELECT $1, (now() AT TIME ZONE 'Asia/Tokyo')::date - d.ago, d.user_id, 1, now(), now()
       FROM (VALUES ($2::uuid, 10), ($2::uuid, 0), ($3::uuid, 5), ($4::uuid, 3), ($5::uuid, 40)) AS d(user_id, ago)`,
      [tokyo, a, b, c, d],
    );
    await db.owner.query("SELECT analytics.refresh_all_materialized_views()");
    const { rows } = await db.owner.query<{ ago: number; dau: number; wau: number; mau: number }>(
      `SELECT ((now() AT TIME ZONE 'Asia/Tokyo')::date - activity_date) AS ago,
              daily_active_users AS dau, weekly_active_users AS wau, monthly_active_users AS mau
       FROM analytics.mv_active_users WHERE workspace_id = $1 AND activity_date >= (now() AT TIME ZONE 'Asia/Tokyo')::date - 11
       ORDER BY activity_date DESC`,
      [tokyo],
    );
    const byAgo = new Map(rows.map((r) => [r.ago, r]));
    expect(rows).toHaveLength(12); // every local day, quiet days included
    expect(byAgo.get(0)).toEqual({ ago: 0, dau: 1, wau: 3, mau: 3 }); // a today; b, c within 7 days
    expect(byAgo.get(4)).toEqual({ ago: 4, dau: 0, wau: 2, mau: 2 }); // window -10..-4: a, b
    expect(byAgo.get(8)).toEqual({ ago: 8, dau: 0, wau: 1, mau: 1 }); // window -14..-8: a
    expect(byAgo.get(11)).toEqual({ ago: 11, dau: 0, wau: 0, mau: 1 }); // 30-day window -40..-11: d
  });
});

describe("rollup natural keys with a NULL (platform-wide) workspace (defect 6)", () => {
  it("ON CONFLICT updates the platform row instead of inserting a duplicate", async () => {
    for (const totalRuns of [1, 2, 3]) {
      await db.owner.query(
        `INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs) VALUES ('2025-01-01', NULL, $1)
         ON CONFLICT (metric_date, workspace_id) DO UPDATE SET total_runs = EXCLUDED.total_runs`,
        [totalRuns],
      );
      await db.owner.query(
        `INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id, total_runs) VALUES ('2025-01-01T05:00:00Z', NULL, $1)
         ON CONFLICT (metric_hour, workspace_id) DO UPDATE SET total_runs = EXCLUDED.total_runs`,
        [totalRuns],
      );
      await db.owner.query(
        `INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data) VALUES ('weekly', '2025-01-06', NULL, $1, '{}')
         ON CONFLICT (cohort_period, cohort_date, workspace_id) DO UPDATE SET initial_users = EXCLUDED.initial_users`,
        [totalRuns],
      );
    }
    expect(
      await one(
        "SELECT count(*)::int AS n, max(total_runs) AS v FROM analytics.daily_metrics WHERE workspace_id IS NULL AND metric_date = '2025-01-01'",
      ),
    ).toEqual({ n: 1, v: 3 });
    expect(
      await one(
        "SELECT count(*)::int AS n, max(total_runs) AS v FROM analytics.hourly_metrics WHERE workspace_id IS NULL",
      ),
    ).toEqual({ n: 1, v: 3 });
    expect(
      await one(
        "SELECT count(*)::int AS n, max(initial_users) AS v FROM analytics.user_cohorts WHERE workspace_id IS NULL",
      ),
    ).toEqual({ n: 1, v: 3 });
  });
});

describe("analytics.cleanup_old_data", () => {
  it("deletes only rows older than the retention windows and says how many", async () => {
    await db.owner.query("SELECT analytics.cleanup_old_data()"); // rows other tests left behind
    const ws = await workspace("cleanup");
    const user = await trackedUser(ws, "u");
    await db.owner.query(
      `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, created_at)
       SELECT $1, $2, 'page_view', now() - make_interval(days => d) FROM unnest(ARRAY[100, 91, 10, 0]) AS d`,
      [ws, user],
    );
    await db.owner.query(
      `INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id)
       SELECT date_trunc('hour', now() - make_interval(days => d), 'UTC'), $1 FROM unnest(ARRAY[45, 31, 2]) AS d`,
      [ws],
    );
    expect(await one("SELECT * FROM analytics.cleanup_old_data()")).toEqual({
      user_activity_deleted: "2",
      hourly_metrics_deleted: "2",
    });
    expect(await one("SELECT count(*)::int AS n FROM analytics.user_activity WHERE workspace_id = $1", [ws])).toEqual({
      n: 2,
    });
    expect(await one("SELECT count(*)::int AS n FROM analytics.hourly_metrics WHERE workspace_id = $1", [ws])).toEqual({
      n: 1,
    });
    // Shorter windows remove the rest but today's activity.
    expect(await one("SELECT * FROM analytics.cleanup_old_data(5, 1)")).toEqual({
      user_activity_deleted: "1",
      hourly_metrics_deleted: "1",
    });
    await expect(db.owner.query("SELECT analytics.cleanup_old_data(0, 30)")).rejects.toThrow(/at least 1/);
  });
});

describe("updated_at triggers", () => {
  it("exist on every table with an updated_at column", async () => {
    const { rows } = await db.owner.query<{ table: string }>(
      `SELECT c.table_schema || '.' || c.table_name AS table
       FROM information_schema.columns c
       JOIN pg_class cl ON cl.relname = c.table_name JOIN pg_namespace n ON n.oid = cl.relnamespace AND n.nspname = c.table_schema
       WHERE c.column_name = 'updated_at' AND c.table_schema IN ('public', 'analytics') AND cl.relkind = 'r'
         AND NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                         WHERE t.tgrelid = cl.oid AND p.proname = 'update_updated_at')`,
    );
    expect(rows).toEqual([]);
  });

  it("move updated_at on UPDATE", async () => {
    const ws = await workspace("touch");
    await db.owner.query(
      "UPDATE public.workspaces SET created_at = '2000-01-01', updated_at = '2000-01-01' WHERE id = $1",
      [ws],
    );
    await db.owner.query("UPDATE public.workspaces SET name = 'renamed' WHERE id = $1", [ws]);
    const row = await one<{ moved: boolean; created: Date }>(
      "SELECT updated_at > now() - interval '1 hour' AS moved, created_at AS created FROM public.workspaces WHERE id = $1",
      [ws],
    );
    expect(row.moved).toBe(true);
    expect(row.created.toISOString()).toBe(new Date("2000-01-01T00:00:00Z").toISOString());
    const metric = await one<{ id: string }>(
      "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, updated_at) VALUES ('2025-02-01', $1, '2000-01-01') RETURNING id",
      [ws],
    );
    await db.owner.query("UPDATE analytics.daily_metrics SET total_runs = 9 WHERE id = $1", [metric.id]);
    expect(
      await one("SELECT updated_at > now() - interval '1 hour' AS moved FROM analytics.daily_metrics WHERE id = $1", [
        metric.id,
      ]),
    ).toEqual({ moved: true });
  });
});

describe("constraints", () => {
  it("reject an unknown workspace time zone and an unknown event type", async () => {
    await expect(workspace("bad-tz", "Mars/Olympus")).rejects.toThrow(/unknown time zone/);
    const ws = await workspace("checks");
    const user = await trackedUser(ws, "u");
    await expect(
      db.owner.query(
        "INSERT INTO analytics.user_activity (workspace_id, user_id, event_type) VALUES ($1, $2, 'teleport')",
        [ws, user],
      ),
    ).rejects.toThrow(/valid_event_type/);
    await expect(
      db.owner.query(
        "INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data) VALUES ('hourly', '2025-01-01', $1, 1, '{}')",
        [ws],
      ),
    ).rejects.toThrow(/user_cohorts_period/);
  });
});
