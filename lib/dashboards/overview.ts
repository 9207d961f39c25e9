import { z } from "zod";
import type { Tx } from "@/lib/db/prisma";
import { queryMetricBreakdown, type BreakdownRow } from "@/lib/metrics/query";
import type { GroupBy, MetricName } from "@/lib/metrics/definitions";
import { asAccount, type DashboardScope } from "./scope";

const activeRowSchema = z.object({ day: z.string(), dau: z.number(), wau: z.number(), mau: z.number() });
export type ActiveUsersDay = z.infer<typeof activeRowSchema>;

/**
 * DAU, WAU and MAU as TRUE rolling distinct counts (users active in the day / the 7 / the 30 local
 * days ending on each day of the range), from analytics.user_daily_activity (one row per user and
 * active day), never sums of daily counts. Exact and always as fresh as the rollups.
 */
export async function activeUsersRolling(scope: DashboardScope): Promise<ActiveUsersDay[]> {
  const rows = await asAccount(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      SELECT to_char(d.day, 'YYYY-MM-DD') AS day,
             (SELECT count(*) FROM analytics.user_daily_activity a
               WHERE a.workspace_id = ${scope.workspace.id}::uuid AND a.activity_date = d.day)::float8 AS dau,
             (SELECT count(DISTINCT a.user_id) FROM analytics.user_daily_activity a
               WHERE a.workspace_id = ${scope.workspace.id}::uuid AND a.activity_date BETWEEN d.day - 6 AND d.day)::float8 AS wau,
             (SELECT count(DISTINCT a.user_id) FROM analytics.user_daily_activity a
               WHERE a.workspace_id = ${scope.workspace.id}::uuid AND a.activity_date BETWEEN d.day - 29 AND d.day)::float8 AS mau
      FROM generate_series(${scope.range.from}::date, ${scope.range.to}::date, interval '1 day') AS g(ts)
      CROSS JOIN LATERAL (SELECT g.ts::date AS day) d
      ORDER BY d.day`,
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
  tx: Tx,
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
