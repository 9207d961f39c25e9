import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { queryMetric } from "./query";

/**
 * Migration 0114: analytics.user_first_active_days always equals min(activity_date) per user of
 * analytics.user_daily_activity, whatever writes it (inserts, deletes of a first day, updates,
 * truncation), and the catalogue's new_users read from it equals the definition.
 */
let db: TestDatabase;
let workspaceId: string;
const TZ = "Europe/Berlin";

/** Users whose stored first day differs from the min over their user-days (either way). */
async function mismatches(): Promise<number> {
  const { rows } = await db.owner.query<{ n: number }>(
    `WITH truth AS (SELECT workspace_id, user_id, min(activity_date) AS first_day
                      FROM analytics.user_daily_activity GROUP BY 1, 2)
     SELECT ((SELECT count(*) FROM (SELECT * FROM truth EXCEPT SELECT * FROM analytics.user_first_active_days) a)
           + (SELECT count(*) FROM (SELECT * FROM analytics.user_first_active_days EXCEPT SELECT * FROM truth) b))::int AS n`,
  );
  return rows[0].n;
}

async function storedCount(): Promise<number> {
  const { rows } = await db.owner.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM analytics.user_first_active_days WHERE workspace_id = $1",
    [workspaceId],
  );
  return rows[0].n;
}

beforeAll(async () => {
  db = await createTestDatabase();
  const ws = await db.owner.query<{ id: string }>(
    "INSERT INTO public.workspaces (slug, name, timezone) VALUES ('first-days', 'First days', $1) RETURNING id",
    [TZ],
  );
  workspaceId = ws.rows[0].id;
  await db.owner.query(
    "INSERT INTO public.users (workspace_id, external_id) SELECT $1, 'u' || i FROM generate_series(1, 60) i",
    [workspaceId],
  );
  await db.owner.query("SELECT setseed(0.3)");
  // User i starts on day (i mod 40) of March and is active on ~a third of the days after.
  await db.owner.query(
    `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, activity_events, first_seen_at, last_seen_at)
     SELECT $1, x.day, x.id, 1, now(), now()
     FROM (SELECT u.id, d::date AS day, substr(u.external_id, 2)::int AS i, random() AS r
           FROM public.users u, generate_series('2026-03-01'::date, '2026-04-30'::date, interval '1 day') d
           WHERE u.workspace_id = $1) x
     WHERE x.day >= '2026-03-01'::date + x.i % 40 AND (x.day = '2026-03-01'::date + x.i % 40 OR x.r < 0.33)`,
    [workspaceId],
  );
});
afterAll(async () => {
  await db?.drop();
});

describe("user_first_active_days (0114)", () => {
  it("holds every active user's first day after inserts", async () => {
    expect(await storedCount()).toBe(60);
    expect(await mismatches()).toBe(0);
    const { rows } = await db.owner.query<{ first_day: string }>(
      `SELECT to_char(f.first_day, 'YYYY-MM-DD') AS first_day FROM analytics.user_first_active_days f
       JOIN public.users u ON u.workspace_id = f.workspace_id AND u.id = f.user_id WHERE u.external_id = 'u7'`,
    );
    expect(rows[0].first_day).toBe("2026-03-08");
  });

  it("follows deletes of first days, updates, a user's last day going, and truncation", async () => {
    // Delete every user's first day: each first day moves to the user's next active day.
    await db.owner.query(
      `DELETE FROM analytics.user_daily_activity d USING analytics.user_first_active_days f
       WHERE d.workspace_id = f.workspace_id AND d.user_id = f.user_id AND d.activity_date = f.first_day`,
    );
    expect(await mismatches()).toBe(0);
    // An earlier day through UPDATE lowers it.
    await db.owner.query(
      `UPDATE analytics.user_daily_activity SET activity_date = '2026-02-15'
       WHERE (workspace_id, activity_date, user_id) = (
         SELECT workspace_id, activity_date, user_id FROM analytics.user_daily_activity ORDER BY activity_date DESC, user_id LIMIT 1)`,
    );
    expect(await mismatches()).toBe(0);
    const lowered = await db.owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM analytics.user_first_active_days WHERE first_day = '2026-02-15'",
    );
    expect(lowered.rows[0].n).toBe(1);
    // A user with no active day left has no row.
    await db.owner.query(
      `DELETE FROM analytics.user_daily_activity d USING public.users u
       WHERE u.workspace_id = d.workspace_id AND u.id = d.user_id AND u.external_id = 'u1'`,
    );
    expect(await storedCount()).toBe(59);
    expect(await mismatches()).toBe(0);
    await db.owner.query("TRUNCATE analytics.user_daily_activity");
    expect(await storedCount()).toBe(0);
  });

  it("serves new_users, equal to the first-active-day definition over user_daily_activity", async () => {
    await db.owner.query(
      `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, activity_events, first_seen_at, last_seen_at)
       SELECT $1, '2026-03-01'::date + (substr(u.external_id, 2)::int * 7) % 50 + k, u.id, 1, now(), now()
       FROM public.users u, generate_series(0, 20, 5) k WHERE u.workspace_id = $1`,
      [workspaceId],
    );
    expect(await mismatches()).toBe(0);
    const result = await queryMetric(db.ownerPrisma, {
      workspace: { id: workspaceId, timezone: TZ },
      metric: "new_users",
      from: "2026-03-02",
      to: "2026-04-12",
      granularity: "week",
    });
    const { rows } = await db.owner.query<{ week: string; n: number }>(
      `SELECT to_char(date_trunc('week', first_day), 'YYYY-MM-DD') AS week, count(*)::int AS n
       FROM (SELECT user_id, min(activity_date) AS first_day FROM analytics.user_daily_activity
             WHERE workspace_id = $1 GROUP BY user_id) f
       WHERE first_day >= '2026-03-02' AND first_day < '2026-04-13' GROUP BY 1`,
      [workspaceId],
    );
    const expected = new Map(rows.map((r) => [r.week, r.n]));
    const points = result.series[0].points;
    expect(points).toHaveLength(6);
    for (const point of points) expect(point.v, point.t).toBe(expected.get(point.t.slice(0, 10)) ?? 0);
    expect(points.reduce((sum, p) => sum + (p.v ?? 0), 0)).toBeGreaterThan(20);
  });
});
