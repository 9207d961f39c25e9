import { z } from "zod";
import type { ReadTx } from "@/lib/db/read-tx";
import { queryMetricBreakdown, type BreakdownRow } from "@/lib/metrics/query";
import type { GroupBy, MetricName } from "@/lib/metrics/definitions";
import { asAccount, type DashboardScope } from "./scope";

const activeRowSchema = z.object({ day: z.string(), dau: z.number(), wau: z.number(), mau: z.number() });
export type ActiveUsersDay = z.infer<typeof activeRowSchema>;

/**
 * DAU, WAU and MAU as TRUE rolling distinct counts (users active in the day / the 7 / the 30 local
 * days ending on each day of the range), from analytics.user_daily_activity (one row per user and
 * active day), never sums of daily counts. Exact and always as fresh as the rollups.
 *
 * One pass over the user-days of [from − 29, to] instead of a distinct count per day and window
 * (which re-read each user-day up to 37 times: 0.85 s for 30 days at 2,000 daily users). A user
 * active on day a is counted in a W-day window on days a .. a+W−1; cut at the user's next active
 * day n (lead), these pieces are disjoint per user, so the count on day d is the running sum of
 * +1 at each piece's start and −1 at its end (least(a + W, n)).
 */
export async function activeUsersRolling(scope: DashboardScope): Promise<ActiveUsersDay[]> {
  const ws = scope.workspace.id;
  const rows = await asAccount(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH user_days AS (
        SELECT a.activity_date AS day,
               lead(a.activity_date) OVER (PARTITION BY a.user_id ORDER BY a.activity_date) AS next_day
        FROM analytics.user_daily_activity a
        WHERE a.workspace_id = ${ws}::uuid
          AND a.activity_date BETWEEN ${scope.range.from}::date - 29 AND ${scope.range.to}::date
      ), starts AS (
        SELECT day, count(*) AS n FROM user_days GROUP BY day
      ), week_ends AS (
        SELECT least(day + 7, coalesce(next_day, day + 7)) AS day, count(*) AS n FROM user_days GROUP BY 1
      ), month_ends AS (
        SELECT least(day + 30, coalesce(next_day, day + 30)) AS day, count(*) AS n FROM user_days GROUP BY 1
      ), counted AS (
        SELECT g.day, coalesce(s.n, 0) AS dau,
               sum(coalesce(s.n, 0) - coalesce(w.n, 0)) OVER (ORDER BY g.day) AS wau,
               sum(coalesce(s.n, 0) - coalesce(m.n, 0)) OVER (ORDER BY g.day) AS mau
        FROM (SELECT d::date AS day
              FROM generate_series(${scope.range.from}::date - 29, ${scope.range.to}::date, interval '1 day') d) g
        LEFT JOIN starts s ON s.day = g.day
        LEFT JOIN week_ends w ON w.day = g.day
        LEFT JOIN month_ends m ON m.day = g.day
      )
      SELECT to_char(day, 'YYYY-MM-DD') AS day, dau::float8 AS dau, wau::float8 AS wau, mau::float8 AS mau
      FROM counted
      WHERE day >= ${scope.range.from}::date
      ORDER BY day`,
  );
  return z.array(activeRowSchema).parse(rows);
}

/** One value per group over the scope's range (top agents, cost by model, errors by type, …). */
export function breakdown(
  scope: DashboardScope,
  metric: MetricName,
  groupBy: GroupBy,
  limit = 10,
): Promise<BreakdownRow[]> {
  return asAccount(scope, (tx) => breakdownIn(tx, scope, metric, groupBy, limit));
}

/** The same inside the caller's transaction (a card's several breakdowns share one). */
export function breakdownIn(
  tx: ReadTx,
  scope: DashboardScope,
  metric: MetricName,
  groupBy: GroupBy,
  limit = 10,
): Promise<BreakdownRow[]> {
  return queryMetricBreakdown(tx, {
    workspace: scope.workspace,
    metric,
    from: scope.range.from,
    to: scope.range.to,
    groupBy,
    filters: scope.filters,
    limit,
  });
}

/** Whether the workspace has any rolled-up activity at all (drives the "send data" empty state). */
export async function hasAnyData(scope: DashboardScope): Promise<boolean> {
  const rows = await asAccount(
    scope,
    (tx) => tx.$queryRaw<{ any: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM analytics.run_hourly WHERE workspace_id = ${scope.workspace.id}::uuid)
          OR EXISTS (SELECT 1 FROM analytics.llm_usage_hourly WHERE workspace_id = ${scope.workspace.id}::uuid)
          OR EXISTS (SELECT 1 FROM analytics.user_daily_activity WHERE workspace_id = ${scope.workspace.id}::uuid) AS any`,
  );
  return rows[0]?.any ?? false;
}
