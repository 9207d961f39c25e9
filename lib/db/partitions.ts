import type pg from "pg";
import { z } from "zod";

/**
 * Monthly range partitions of the four raw tables, in UTC months, in schema raw_partitions:
 * analytics.user_activity and public.llm_usage_logs by created_at (migration 0060),
 * public.agent_runs and public.run_stages by started_at (0093). A default partition catches rows
 * outside every month; app.ensure_partitions moves them out when it creates the month — except out
 * of agent_runs' default partition, which foreign keys reference (that month is skipped, with a
 * warning, until those rows are moved by hand: docs/SCALING.md).
 */
export const PARTITIONED_RAW_TABLES = [
  "analytics.user_activity",
  "public.llm_usage_logs",
  "public.agent_runs",
  "public.run_stages",
] as const;

export const monthsAheadSchema = z.number().int().min(0).max(24);

/** Creates the current month's and the next `monthsAhead` months' partitions; returns how many were new. */
export async function ensurePartitions(pool: pg.Pool | pg.PoolClient, monthsAhead: number): Promise<number> {
  const months = monthsAheadSchema.parse(monthsAhead);
  const { rows } = await pool.query<{ created: number }>("SELECT app.ensure_partitions($1) AS created", [months]);
  return rows[0]?.created ?? 0;
}

/**
 * Creates the monthly partitions of every partitioned raw table for each UTC month that `from`..`to`
 * touches (existing ones are left alone). Loaders of history call it before writing, so old rows
 * land in their month's partition rather than the default partition (which maintenance only
 * creates from the current month on). Returns how many partitions it created.
 */
export async function ensurePartitionsCovering(
  pool: pg.Pool | pg.PoolClient | pg.Client,
  from: Date,
  to: Date,
): Promise<number> {
  if (!(from <= to))
    throw new Error(`ensurePartitionsCovering: from (${from.toISOString()}) is after to (${to.toISOString()})`);
  const { rows } = await pool.query<{ created: number }>(
    `SELECT count(*) FILTER (WHERE app.create_month_partition(t.parent::regclass, m))::int AS created
       FROM unnest($1::text[]) AS t(parent)
      CROSS JOIN generate_series(date_trunc('month', $2::timestamptz, 'UTC'), date_trunc('month', $3::timestamptz, 'UTC'),
                                 interval '1 month') AS m`,
    [PARTITIONED_RAW_TABLES, from, to],
  );
  return rows[0]?.created ?? 0;
}

const partitionRowSchema = z.object({
  parent: z.string(),
  partition: z.string(),
  range_start: z.date().nullable(),
  range_end: z.date().nullable(),
  is_default: z.boolean(),
});
export type TimePartition = z.infer<typeof partitionRowSchema>;

/** Every partition of the partitioned raw tables with its bounds, oldest first (default last). */
export async function listPartitions(pool: pg.Pool | pg.PoolClient): Promise<TimePartition[]> {
  const { rows } = await pool.query(
    `SELECT t.parent, p.partition::text AS partition, p.range_start, p.range_end, p.is_default
       FROM unnest($1::text[]) AS t(parent)
       CROSS JOIN LATERAL app.time_partitions(t.parent::regclass) p
      ORDER BY t.parent, p.is_default, p.range_start`,
    [PARTITIONED_RAW_TABLES],
  );
  return z.array(partitionRowSchema).parse(rows);
}
