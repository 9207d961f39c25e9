import type pg from "pg";
import { rollupSteps } from "@/lib/rollups/steps";

/**
 * Lower bounds for the rollup bench's two targets on this machine (docs/notes/rollups.md, "Session 9").
 *
 * Whatever an engine computes, a cycle must at least read its raw rows once and write the rollup rows
 * it produces. This measures exactly that, on the bench world after `benchRollups` ran (so the rollup
 * tables hold what the engine wrote and today's raw rows are the bench's ingested minute), with the
 * engine's two connections:
 *
 * - write: the rows of every table a registered step writes, inserted into an empty copy of the table
 *   with the same indexes and constraints (`LIKE … INCLUDING ALL`; no triggers, no foreign keys, no
 *   aggregation, no delete of older versions): `due` = the rows of the minute's periods (today's local
 *   day per workspace, the minute's UTC hours, the user_token_usage periods containing the minute),
 *   staged beforehand so the timed insert reads a small table; `rebuild` = every row, read straight
 *   from the rollup table (a sequential scan, a few percent of the insert).
 * - read: one aggregate over the raw rows the cycle reads (`due`: the minute's; `rebuild`: all), one
 *   statement per raw table.
 *
 * Tables are split between the two lanes by row count (largest first onto the lighter lane). Nothing
 * of the world is changed: the copies live in schema bench_floor, dropped at the end.
 */
export type FloorMode = "due" | "rebuild";

export type FloorResult = {
  mode: FloorMode;
  writeSeconds: number;
  readSeconds: number;
  rowsWritten: number;
  rawRowsRead: number;
  tables: { table: string; rows: number; seconds: number }[];
};

const LANES = 2;
const SCHEMA = "bench_floor";

// The bench's minute is everything after today's UTC midnight (the bench loader stops there).
const MINUTE_END = `(SELECT max(created_at) FROM analytics.user_activity
                     WHERE created_at >= date_trunc('day', now(), 'UTC'))`;

const RAW_TABLES = [
  { table: "public.agent_runs", time: "started_at", aggregate: "sum(credits_consumed)" },
  { table: "analytics.user_activity", time: "created_at", aggregate: "count(DISTINCT session_id)" },
  { table: "public.llm_usage_logs", time: "created_at", aggregate: "sum(total_tokens)" },
];

/** The rows of `table` a due cycle after the minute writes, as a WHERE clause over alias t. */
function duePeriodFilter(columns: Map<string, string>): string {
  const localDay = `(m.minute_end AT TIME ZONE coalesce(w.timezone, 'UTC'))::date`;
  for (const day of ["metric_date", "activity_date", "day", "first_day"]) {
    if (columns.get(day) === "date") return `t.${day} = ${localDay}`;
  }
  for (const hour of ["metric_hour", "hour"]) {
    if (columns.get(hour) === "timestamp with time zone") {
      return `t.${hour} >= date_trunc('hour', m.minute_end - interval '61 seconds', 'UTC')`;
    }
  }
  if (columns.has("period_start") && columns.has("period_end")) {
    return `t.period_start <= m.minute_end AND m.minute_end < t.period_end`;
  }
  if (columns.has("cohort_date")) return "false"; // cohorts: a workspace-grain step, not due in the cycle
  throw new Error(`no period column to select a due cycle's rows of (columns: ${[...columns.keys()].join(", ")})`);
}

function splitIntoLanes<T extends { rows: number }>(items: T[]): T[][] {
  const lanes: { rows: number; items: T[] }[] = Array.from({ length: LANES }, () => ({ rows: 0, items: [] }));
  for (const item of [...items].sort((a, b) => b.rows - a.rows)) {
    const lightest = lanes.reduce((a, b) => (b.rows < a.rows ? b : a));
    lightest.items.push(item);
    lightest.rows += item.rows;
  }
  return lanes.map((lane) => lane.items);
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const value = await run();
  return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

export async function measureRollupFloor(owner: pg.Pool, mode: FloorMode): Promise<FloorResult> {
  const { rows: minute } = await owner.query<{ n: number }>(
    `SELECT count(*)::integer AS n FROM analytics.user_activity WHERE created_at >= date_trunc('day', now(), 'UTC')`,
  );
  if (minute[0].n === 0) throw new Error("no ingested minute in the world: run the rollups bench on it first");
  const tableNames = [...new Set(rollupSteps().flatMap((step) => step.tables ?? []))];
  await owner.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await owner.query(`CREATE SCHEMA ${SCHEMA}`);
  try {
    const prepared: { table: string; copy: string; source: string; rows: number }[] = [];
    for (const [index, table] of tableNames.entries()) {
      const [schema, name] = table.split(".");
      const { rows: columnRows } = await owner.query<{ column_name: string; data_type: string }>(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
        [schema, name],
      );
      const columns = new Map(columnRows.map((c) => [c.column_name, c.data_type]));
      const copy = `${SCHEMA}.t${index}`;
      await owner.query(`CREATE TABLE ${copy} (LIKE ${table} INCLUDING ALL)`);
      let source = table;
      if (mode === "due") {
        source = `${SCHEMA}.s${index}`;
        const workspaceJoin = columns.has("workspace_id")
          ? "LEFT JOIN public.workspaces w ON w.id = t.workspace_id"
          : "LEFT JOIN public.workspaces w ON false";
        await owner.query(
          `CREATE UNLOGGED TABLE ${source} AS
           SELECT t.* FROM ${table} t CROSS JOIN (SELECT ${MINUTE_END} AS minute_end) m ${workspaceJoin}
           WHERE ${duePeriodFilter(columns)}`,
        );
        await owner.query(`VACUUM ANALYZE ${source}`);
      }
      const { rows: count } = await owner.query<{ n: number }>(
        mode === "due"
          ? `SELECT count(*)::integer AS n FROM ${source}`
          : `SELECT reltuples::bigint::integer AS n FROM pg_class WHERE oid = '${table}'::regclass`,
      );
      prepared.push({ table, copy, source, rows: Math.max(count[0].n, 0) });
    }
    await owner.query("CHECKPOINT");

    const perTable: FloorResult["tables"] = [];
    const write = await timed(() =>
      Promise.all(
        splitIntoLanes(prepared).map(async (lane) => {
          for (const item of lane) {
            const { value: inserted, seconds } = await timed(() =>
              owner.query(`INSERT INTO ${item.copy} OVERRIDING SYSTEM VALUE SELECT * FROM ${item.source}`),
            );
            perTable.push({ table: item.table, rows: inserted.rowCount ?? 0, seconds });
          }
        }),
      ),
    );

    const reads = await Promise.all(
      RAW_TABLES.map(async (raw) => {
        const where = mode === "due" ? `WHERE ${raw.time} >= date_trunc('day', now(), 'UTC')` : "";
        const { rows } = await owner.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${raw.table} ${where}`);
        return { ...raw, where, rows: rows[0].n };
      }),
    );
    const read = await timed(() =>
      Promise.all(
        splitIntoLanes(reads).map(async (lane) => {
          for (const raw of lane) await owner.query(`SELECT ${raw.aggregate} FROM ${raw.table} ${raw.where}`);
        }),
      ),
    );
    perTable.sort((a, b) => b.seconds - a.seconds);
    return {
      mode,
      writeSeconds: write.seconds,
      readSeconds: read.seconds,
      rowsWritten: perTable.reduce((sum, t) => sum + t.rows, 0),
      rawRowsRead: reads.reduce((sum, r) => sum + r.rows, 0),
      tables: perTable,
    };
  } finally {
    await owner.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  }
}
