import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { withUserReadContext } from "@/lib/db/context";

/**
 * The workspace overview, read from the rollups only (analytics.daily_metrics and
 * analytics.user_daily_activity; never raw events), inside the viewer's row-level-security context.
 *
 * "The last N days" are N workspace-local calendar days ending today (today included), because
 * the rollups bucket by the workspace's local day.
 */
export type OverviewScope = {
  accountId: string;
  workspace: { id: string; timezone: string };
  /** The instant "today" is computed from; defaults to the database's now(). For tests. */
  asOf?: Date;
  client?: PrismaClient;
};

export const KPI_WINDOW_DAYS = 7;
export const CHART_WINDOW_DAYS = 30;

const runTotalsSchema = z.object({
  runs: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
  credits: z.number(),
  /** First and last local day of the window, YYYY-MM-DD. */
  from: z.string(),
  to: z.string(),
});
export type RunTotals = z.infer<typeof runTotalsSchema> & {
  /** completed ÷ (completed + failed + cancelled) as a fraction; null when nothing finished. */
  successRate: number | null;
};

/** Read-only, on a read replica when DATABASE_REPLICA_URLS is set (the overview only reads). */
function run<T>(scope: OverviewScope, fn: Parameters<typeof withUserReadContext<T>>[1]): Promise<T> {
  return scope.client
    ? withUserReadContext(scope.accountId, fn, scope.client)
    : withUserReadContext(scope.accountId, fn);
}

/** Runs, outcome counts and credits over the last `days` workspace-local days. */
export async function getRunTotals(scope: OverviewScope, days: number = KPI_WINDOW_DAYS): Promise<RunTotals> {
  const { id, timezone } = scope.workspace;
  const asOf = scope.asOf ?? null;
  const rows = await run(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH bounds AS (
        SELECT (coalesce(${asOf}::timestamptz, now()) AT TIME ZONE ${timezone})::date AS today
      )
      SELECT coalesce(sum(d.total_runs), 0)::int AS runs,
             coalesce(sum(d.successful_runs), 0)::int AS completed,
             coalesce(sum(d.failed_runs), 0)::int AS failed,
             coalesce(sum(d.cancelled_runs), 0)::int AS cancelled,
             coalesce(sum(d.total_credits_consumed), 0)::float8 AS credits,
             to_char(min(b.today) - ${days - 1}::int, 'YYYY-MM-DD') AS "from",
             to_char(min(b.today), 'YYYY-MM-DD') AS "to"
      FROM bounds b
      LEFT JOIN analytics.daily_metrics d
        ON d.workspace_id = ${id}::uuid
       AND d.metric_date BETWEEN b.today - ${days - 1}::int AND b.today`,
  );
  const totals = runTotalsSchema.parse(rows[0]);
  const finished = totals.completed + totals.failed + totals.cancelled;
  return { ...totals, successRate: finished === 0 ? null : totals.completed / finished };
}

/** Distinct tracked users active on any of the last `days` workspace-local days. */
export async function getActiveUsers(scope: OverviewScope, days: number = KPI_WINDOW_DAYS): Promise<number> {
  const { id, timezone } = scope.workspace;
  const asOf = scope.asOf ?? null;
  const rows = await run(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH bounds AS (
        SELECT (coalesce(${asOf}::timestamptz, now()) AT TIME ZONE ${timezone})::date AS today
      )
      SELECT count(DISTINCT a.user_id)::int AS active_users
      FROM bounds b
      JOIN analytics.user_daily_activity a
        ON a.workspace_id = ${id}::uuid
       AND a.activity_date BETWEEN b.today - ${days - 1}::int AND b.today`,
  );
  return z.object({ active_users: z.number().int() }).parse(rows[0]).active_users;
}

const runsByDaySchema = z.array(
  z.object({
    day: z.string(),
    completed: z.number().int(),
    failed: z.number().int(),
    cancelled: z.number().int(),
    /** Started that day and not finished (yet) when the rollup ran. */
    running: z.number().int(),
  }),
);
export type RunsByDay = z.infer<typeof runsByDaySchema>;

/** One row per local day of the last `days` (days without runs included, as zeros), oldest first. */
export async function getRunsByDay(scope: OverviewScope, days: number = CHART_WINDOW_DAYS): Promise<RunsByDay> {
  const { id, timezone } = scope.workspace;
  const asOf = scope.asOf ?? null;
  const rows = await run(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH bounds AS (
        SELECT (coalesce(${asOf}::timestamptz, now()) AT TIME ZONE ${timezone})::date AS today
      ), days AS (
        SELECT (b.today - offs)::date AS day FROM bounds b, generate_series(0, ${days - 1}::int) AS offs
      )
      SELECT to_char(days.day, 'YYYY-MM-DD') AS day,
             coalesce(sum(d.successful_runs), 0)::int AS completed,
             coalesce(sum(d.failed_runs), 0)::int AS failed,
             coalesce(sum(d.cancelled_runs), 0)::int AS cancelled,
             greatest(coalesce(sum(d.total_runs - d.successful_runs - d.failed_runs - d.cancelled_runs), 0), 0)::int
               AS running
      FROM days
      LEFT JOIN analytics.daily_metrics d ON d.workspace_id = ${id}::uuid AND d.metric_date = days.day
      GROUP BY days.day
      ORDER BY days.day`,
  );
  return runsByDaySchema.parse(rows);
}

/** Whether the rollups hold anything at all for the workspace (drives the empty state). */
export async function hasRollupData(scope: OverviewScope): Promise<boolean> {
  const rows = await run(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      SELECT EXISTS (SELECT 1 FROM analytics.daily_metrics WHERE workspace_id = ${scope.workspace.id}::uuid)
          OR EXISTS (SELECT 1 FROM analytics.user_daily_activity WHERE workspace_id = ${scope.workspace.id}::uuid)
        AS has_data`,
  );
  return z.object({ has_data: z.boolean() }).parse(rows[0]).has_data;
}
