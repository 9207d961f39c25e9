import type pg from "pg";
import { z } from "zod";

/**
 * Monthly range partitions of the leaf raw tables (migration 0060): analytics.user_activity and
 * public.llm_usage_logs, by created_at in UTC months, in schema raw_partitions. A default partition
 * catches rows outside every month; app.ensure_partitions moves them out when it creates the month.
 */
export const PARTITIONED_RAW_TABLES = ["analytics.user_activity", "public.llm_usage_logs"] as const;

export const monthsAheadSchema = z.number().int().min(0).max(24);

/** Creates the current month's and the next `monthsAhead` months' partitions; returns how many were new. */
export async function ensurePartitions(pool: pg.Pool | pg.PoolClient, monthsAhead: number): Promise<number> {
  const months = monthsAheadSchema.parse(monthsAhead);
  const { rows } = await pool.query<{ created: number }>("SELECT app.ensure_partitions($1) AS created", [months]);
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
