import { z } from "zod";
import type { BenchContext, BenchResult } from "./types";

/**
 * Storage per raw event: pg_total_relation_size (heap + TOAST + every index, summed over all
 * partitions of a partitioned table) ÷ rows, per raw table, measured in SQL.
 */
const RAW_TABLES = [
  "analytics.user_activity",
  "public.llm_usage_logs",
  "public.agent_runs",
  "public.run_stages",
] as const;

const rowSchema = z.object({ table_name: z.string(), bytes: z.coerce.number(), row_count: z.coerce.number() });

export async function benchStorage(ctx: BenchContext): Promise<BenchResult[]> {
  await ctx.owner.query(`ANALYZE ${RAW_TABLES.join(", ")}`);
  const results: BenchResult[] = [];
  for (const table of RAW_TABLES) {
    // A partitioned parent has no storage of its own: sum its leaf partitions; a plain table
    // (agent_runs, run_stages) is measured itself.
    const { rows: measured } = await ctx.owner.query(
      `SELECT $1::text AS table_name,
              coalesce((SELECT sum(pg_total_relation_size(p.relid)) FROM pg_partition_tree($1::regclass) p WHERE p.isleaf),
                       pg_total_relation_size($1::regclass)) AS bytes,
              (SELECT count(*) FROM ${table}) AS row_count`,
      [table],
    );
    const row = rowSchema.parse(measured[0]);
    results.push({
      section: "storage",
      name: `bytes per row: ${row.table_name}`,
      value: row.row_count === 0 ? Number.NaN : Math.round(row.bytes / row.row_count),
      unit: "bytes",
      note: `${(row.bytes / 1024 / 1024).toFixed(1)} MiB over ${row.row_count.toLocaleString()} rows (heap + TOAST + indexes)`,
    });
  }
  const total = await ctx.owner.query(
    `SELECT sum(coalesce((SELECT sum(pg_total_relation_size(p.relid)) FROM pg_partition_tree(t.name::regclass) p WHERE p.isleaf),
                         pg_total_relation_size(t.name::regclass))) AS bytes
       FROM unnest($1::text[]) t(name)`,
    [RAW_TABLES],
  );
  return results.concat(await totalPerEvent(ctx, Number(total.rows[0].bytes)));
}

async function totalPerEvent(ctx: BenchContext, bytes: number): Promise<BenchResult[]> {
  // A raw event = an activity event, an LLM call or a run (its stages belong to it).
  const { rows } = await ctx.owner.query<{ n: string }>(
    "SELECT (SELECT count(*) FROM analytics.user_activity) + (SELECT count(*) FROM public.llm_usage_logs) + (SELECT count(*) FROM public.agent_runs) AS n",
  );
  const events = Number(rows[0].n);
  return [
    {
      section: "storage",
      name: "bytes per raw event (all raw tables ÷ activity + calls + runs)",
      value: events === 0 ? Number.NaN : Math.round(bytes / events),
      unit: "bytes",
      target: "report",
      note: `${(bytes / 1024 / 1024).toFixed(1)} MiB over ${events.toLocaleString()} events`,
    },
  ];
}
