import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { activeUsersRolling } from "./overview";
import { dashboardRange } from "./range";
import type { DashboardScope } from "./scope";

/**
 * The one-pass rolling DAU/WAU/MAU (running sums of per-user coverage pieces) against the
 * definition itself — a distinct count per day and window — on sparse, irregular activity: users
 * active in bursts, with gaps shorter and longer than 7 and 30 days, some only before the range.
 */
let db: TestDatabase;
let workspaceId: string;
let accountId: string;
const TZ = "America/New_York";

beforeAll(async () => {
  db = await createTestDatabase();
  const ws = await db.owner.query<{ id: string }>(
    "INSERT INTO public.workspaces (slug, name, timezone) VALUES ('rolling', 'Rolling', $1) RETURNING id",
    [TZ],
  );
  workspaceId = ws.rows[0].id;
  await db.owner.query(
    "INSERT INTO public.users (workspace_id, external_id) SELECT $1, 'u' || i FROM generate_series(1, 150) i",
    [workspaceId],
  );
  await db.owner.query("SELECT setseed(0.7)");
  // User i is active on a day with a probability that depends on the user (1 % .. 60 %), from
  // 2026-01-01 to 2026-04-10: rare users leave gaps of weeks, frequent ones gaps of a day or two.
  await db.owner.query(
    `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, activity_events, first_seen_at, last_seen_at)
     SELECT $1, x.day, x.id, 1, x.day::timestamp AT TIME ZONE $2, x.day::timestamp AT TIME ZONE $2
     -- random() in the subquery's select list: a WHERE random() < f(u) would be pushed down to the
     -- users scan and drawn once per user, not per user and day.
     FROM (SELECT u.id, u.external_id, d::date AS day, random() AS r
           FROM public.users u, generate_series('2026-01-01'::date, '2026-04-10'::date, interval '1 day') d
           WHERE u.workspace_id = $1) x
     WHERE x.r < 0.01 + (substr(x.external_id, 2)::int % 12) * 0.05`,
    [workspaceId, TZ],
  );
  const account = await db.owner.query<{ id: string }>(
    "INSERT INTO public.accounts (email) VALUES ('rolling@example.com') RETURNING id",
  );
  accountId = account.rows[0].id;
  await db.owner.query(
    "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'viewer')",
    [workspaceId, accountId],
  );
});
afterAll(async () => {
  await db?.drop();
});

function scope(from: string, to: string): DashboardScope {
  return {
    accountId,
    workspace: { id: workspaceId, slug: "rolling", name: "Rolling", timezone: TZ },
    range: dashboardRange({ range: "custom", from, to }, TZ, new Date("2026-04-20T12:00:00Z")),
    filters: {},
    canSeeAllUsers: true,
    canExportUsers: true,
    searchParams: {},
    db: db.appPrisma,
  };
}

describe("activeUsersRolling", () => {
  it.each([
    ["2026-02-01", "2026-03-15"],
    ["2026-04-01", "2026-04-20"], // the last days have no activity: DAU 0, WAU/MAU tail off
    ["2026-01-01", "2026-01-10"], // nothing before the range
  ])("equals a distinct count per day and window, %s .. %s", async (from, to) => {
    const days = await activeUsersRolling(scope(from, to));
    const { rows } = await db.owner.query<{ day: string; dau: number; wau: number; mau: number }>(
      `SELECT to_char(d, 'YYYY-MM-DD') AS day,
              (SELECT count(DISTINCT user_id) FROM analytics.user_daily_activity a
                WHERE a.workspace_id = $1 AND a.activity_date = d::date)::float8 AS dau,
              (SELECT count(DISTINCT user_id) FROM analytics.user_daily_activity a
                WHERE a.workspace_id = $1 AND a.activity_date BETWEEN d::date - 6 AND d::date)::float8 AS wau,
              (SELECT count(DISTINCT user_id) FROM analytics.user_daily_activity a
                WHERE a.workspace_id = $1 AND a.activity_date BETWEEN d::date - 29 AND d::date)::float8 AS mau
       FROM generate_series($2::date, $3::date, interval '1 day') d ORDER BY 1`,
      [workspaceId, from, to],
    );
    expect(days).toEqual(rows);
    // The fixture is sparse enough for the three to differ (else the test could not tell them apart).
    const middle = rows[Math.min(rows.length - 1, 9)];
    expect(middle.dau).toBeLessThan(middle.wau);
    if (from !== "2026-01-01") expect(middle.wau).toBeLessThan(middle.mau);
  });
});
