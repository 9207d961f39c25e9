import { z } from "zod";
import { asAccount, type DashboardScope } from "./scope";
import type { SearchParams } from "./range";

export const COHORT_PERIODS = ["daily", "weekly", "monthly"] as const;
export type CohortPeriod = (typeof COHORT_PERIODS)[number];
export type CohortOptions = {
  period: CohortPeriod;
  mode: "percent" | "count";
  bound: "bounded" | "on_or_after";
  periods: number;
};

export function cohortOptions(params: SearchParams): CohortOptions {
  const one = (k: string) => {
    const v = params[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const period = (COHORT_PERIODS as readonly string[]).includes(one("cohort") ?? "")
    ? (one("cohort") as CohortPeriod)
    : "weekly";
  return {
    period,
    mode: one("mode") === "count" ? "count" : "percent",
    bound: one("bound") === "on_or_after" ? "on_or_after" : "bounded",
    periods: period === "daily" ? 14 : 12,
  };
}

const cellSchema = z.object({
  cohort_date: z.string(),
  initial_users: z.number(),
  n: z.number(),
  complete: z.boolean(),
  count: z.number().nullable(),
  pct: z.number().nullable(),
});
const averageSchema = z.object({
  n: z.number(),
  pct: z.number().nullable(),
  count: z.number().nullable(),
  cohorts: z.number(),
});

export type CohortGrid = {
  rows: {
    cohortDate: string;
    initialUsers: number;
    cells: { n: number; complete: boolean; count: number | null; pct: number | null }[];
  }[];
  /** Weighted by cohort size over complete cells only: Σ active / Σ initial users. */
  average: z.infer<typeof averageSchema>[];
};

/**
 * The retention grid straight from analytics.user_cohorts (filled by the cohort rollup, 0027):
 * cohorts starting in the range × periods 0..periods-1. Bounded = active in period n; on-or-after =
 * active in n or any later period. Incomplete periods come back with complete=false and no numbers.
 */
export async function cohortGrid(scope: DashboardScope, options: CohortOptions): Promise<CohortGrid> {
  const activeKey = options.bound === "bounded" ? "active" : "active_or_later";
  const pctKey = `${activeKey}_pct`;
  const [cells, average] = await asAccount(scope, async (tx) => {
    const cellRows = await tx.$queryRaw<unknown[]>`
      SELECT to_char(c.cohort_date, 'YYYY-MM-DD') AS cohort_date, c.initial_users::float8 AS initial_users,
             (p->>'n')::int AS n, coalesce((p->>'complete')::boolean, false) AS complete,
             (p->>${activeKey})::float8 AS count, (p->>${pctKey})::float8 AS pct
      FROM analytics.user_cohorts c
      CROSS JOIN LATERAL jsonb_array_elements(c.retention_data->'periods') AS p
      WHERE c.workspace_id = ${scope.workspace.id}::uuid AND c.cohort_period = ${options.period}
        AND c.cohort_date BETWEEN ${scope.range.from}::date AND ${scope.range.to}::date
        AND (p->>'n')::int < ${options.periods}
      ORDER BY c.cohort_date, n`;
    const averageRows = await tx.$queryRaw<unknown[]>`
      SELECT (p->>'n')::int AS n,
             (100.0 * sum((p->>${activeKey})::numeric) FILTER (WHERE (p->>'complete')::boolean)
                 / nullif(sum(c.initial_users) FILTER (WHERE (p->>'complete')::boolean), 0))::float8 AS pct,
             sum((p->>${activeKey})::numeric) FILTER (WHERE (p->>'complete')::boolean)::float8 AS count,
             (count(*) FILTER (WHERE (p->>'complete')::boolean))::float8 AS cohorts
      FROM analytics.user_cohorts c
      CROSS JOIN LATERAL jsonb_array_elements(c.retention_data->'periods') AS p
      WHERE c.workspace_id = ${scope.workspace.id}::uuid AND c.cohort_period = ${options.period}
        AND c.cohort_date BETWEEN ${scope.range.from}::date AND ${scope.range.to}::date
        AND (p->>'n')::int < ${options.periods}
      GROUP BY 1 ORDER BY 1`;
    return [z.array(cellSchema).parse(cellRows), z.array(averageSchema).parse(averageRows)] as const;
  });
  const rows = new Map<string, CohortGrid["rows"][number]>();
  for (const cell of cells) {
    const row = rows.get(cell.cohort_date) ?? {
      cohortDate: cell.cohort_date,
      initialUsers: cell.initial_users,
      cells: [],
    };
    row.cells.push({ n: cell.n, complete: cell.complete, count: cell.count, pct: cell.pct });
    rows.set(cell.cohort_date, row);
  }
  return { rows: [...rows.values()], average };
}
