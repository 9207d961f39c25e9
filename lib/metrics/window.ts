/**
 * A metric's value over an arbitrary [from, to) window (to the microsecond), optionally per series:
 * what the alert evaluator asks ("cost of each user over the last 90 minutes").
 *
 * Rollups are bucketed by workspace-local hour (or local day for the per-user tables), so no
 * rollup can answer a window that starts or ends inside a bucket. The window is therefore split:
 *   - the whole buckets inside it come from the rollup (hourly tables; daily ones when the query
 *     needs the user dimension), and
 *   - the partial buckets at its two edges come from the raw rows (`agent_runs` by `started_at`,
 *     `llm_usage_logs` by `created_at`), turned into the same mergeable parts the rollups keep:
 *     counters, sums and log-histogram entries (`analytics.log_hist_key`, as the rollup does).
 * All parts of a series are then combined once: sums are summed, rates are the ratio of the summed
 * numerator and denominator, means the summed total over the summed count, percentiles are read
 * from the merged histogram (≤ 1 % relative error, the catalogue's bound). The raw reads are
 * bounded: less than one bucket at each edge (< 2 h, or < 2 local days for per-user queries).
 *
 * Distinct-user metrics (active_users, new_users) have no mergeable sub-day parts: they are
 * answered at DAY resolution from `user_daily_activity` over the local days the window touches,
 * and the result says so (`resolution: "day"` with the days actually read).
 */
import { z } from "zod";
import type { ReadTx } from "@/lib/db/read-tx";
import { Prisma } from "@/lib/generated/prisma/client";
import { METRIC_DEFINITIONS, type FilterKey, type GroupBy, type MetricName, type MetricUnit } from "./definitions";
import { MetricQueryError } from "./errors";
import { validateMetricShape, type MetricWorkspace } from "./query";

/** Most series one window query returns (the evaluator's per-series cap); more = `truncated`. */
export const MAX_WINDOW_SERIES = 10_000;

export type MetricWindowInput = {
  workspace: MetricWorkspace;
  metric: string;
  from: Date;
  to: Date;
  groupBy?: string | null;
  filters?: Partial<Record<string, string | undefined>>;
  /** Most series returned (largest values first); default and maximum MAX_WINDOW_SERIES. */
  maxSeries?: number;
};

export type WindowSeriesValue = { key: string; label: string; value: number | null };

export type MetricWindowResult = {
  metric: MetricName;
  unit: MetricUnit;
  groupBy: GroupBy | null;
  /** "exact": the asked window; "day": the local days it touches (distinct-user metrics). */
  resolution: "exact" | "day";
  /** The window actually measured (= the asked one unless resolution is "day"). */
  from: Date;
  to: Date;
  /**
   * One entry per series with data in the window (ungrouped: exactly one, key "total"; additive
   * metrics are 0 and others null when nothing happened). Series without rows are absent.
   */
  series: WindowSeriesValue[];
  /** More series than `maxSeries` had data; the largest values were kept. */
  truncated: boolean;
};

type Family = "run" | "llm";

/** How a metric is read from the combined parts `p` (see the part columns below). */
type WindowMeasure =
  | { family: Family; kind: "aggregate"; sql: string; additive: boolean }
  | { family: Family; kind: "histogram"; fraction: number; divisor: number };

const sum = (family: Family, sql: string): WindowMeasure => ({ family, kind: "aggregate", sql, additive: true });
const ratio = (family: Family, sql: string): WindowMeasure => ({ family, kind: "aggregate", sql, additive: false });
const quantile = (family: Family, fraction: number, divisor: number): WindowMeasure => ({
  family,
  kind: "histogram",
  fraction,
  divisor,
});

const FINISHED = "sum(p.completed + p.failed + p.cancelled)";
const WINDOW_MEASURES: Partial<Record<MetricName, WindowMeasure>> = {
  runs: sum("run", "sum(p.runs)"),
  runs_completed: sum("run", "sum(p.completed)"),
  runs_failed: sum("run", "sum(p.failed)"),
  runs_cancelled: sum("run", "sum(p.cancelled)"),
  success_rate: ratio("run", `100.0 * sum(p.completed) / nullif(${FINISHED}, 0)`),
  error_rate: ratio("run", `100.0 * sum(p.failed) / nullif(${FINISHED}, 0)`),
  credits: sum("run", "sum(p.credits)"),
  runtime_avg: ratio("run", "sum(p.runtime_sum) / nullif(sum(p.runtime_runs), 0)"),
  runtime_p50: quantile("run", 0.5, 1000),
  runtime_p95: quantile("run", 0.95, 1000),
  runtime_p99: quantile("run", 0.99, 1000),
  prompt_tokens: sum("llm", "sum(p.prompt_tokens)"),
  completion_tokens: sum("llm", "sum(p.completion_tokens)"),
  total_tokens: sum("llm", "sum(p.total_tokens)"),
  cost_usd: sum("llm", "sum(p.cost_usd)"),
  llm_calls: sum("llm", "sum(p.calls)"),
  unpriced_llm_calls: sum("llm", "sum(p.unpriced_calls)"),
  llm_latency_p95: quantile("llm", 0.95, 1),
};

/**
 * One table feeding a family's parts: its time column, its dimension keys, filters and the part
 * columns (in PART_COLUMNS order). Keys of nullable dimensions are '(none)', as in queryMetric.
 */
type PartSource = {
  table: string;
  time: { column: string; kind: "hour" | "day" | "raw" };
  dimensions: Partial<Record<GroupBy, string>>;
  filters: Partial<Record<FilterKey, string>>;
  /** Rollups: every part column. Raw rows: the additive ones (all but hk/hc) — see histKey. */
  parts: string[];
  /** Raw rows only: the row's log-histogram key (NULL when the row has no value to count). */
  histKey?: string;
};

const PART_COLUMNS: Record<Family, string[]> = {
  run: ["runs", "completed", "failed", "cancelled", "credits", "runtime_runs", "runtime_sum", "hk", "hc"],
  llm: ["calls", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "unpriced_calls", "hk", "hc"],
};

const RUN_ROLLUP_HOURLY: PartSource = {
  table: "analytics.run_hourly",
  time: { column: "hour", kind: "hour" },
  dimensions: {
    agent: "t.agent_id::text",
    model: "coalesce(t.model, '(none)')",
    status: "t.status",
    error_type: "coalesce(t.error_type, '(none)')",
  },
  filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}" },
  parts: [
    "t.runs",
    "CASE WHEN t.status = 'completed' THEN t.runs ELSE 0 END",
    "CASE WHEN t.status = 'failed' THEN t.runs ELSE 0 END",
    "CASE WHEN t.status = 'cancelled' THEN t.runs ELSE 0 END",
    "t.credits",
    "t.runtime_runs",
    "t.runtime_sum_seconds",
    "t.runtime_hist_keys",
    "t.runtime_hist_counts",
  ],
};
const RUN_ROLLUP_USER_DAILY: PartSource = {
  table: "analytics.run_user_daily",
  time: { column: "day", kind: "day" },
  dimensions: { user: "t.user_id::text", agent: "t.agent_id::text" },
  filters: { agentId: "t.agent_id = {}::uuid", userId: "t.user_id = {}::uuid" },
  parts: [
    "t.runs",
    "t.completed_runs",
    "t.failed_runs",
    "t.cancelled_runs",
    "t.credits",
    "t.runtime_runs",
    "t.runtime_sum_seconds",
    "t.runtime_hist_keys",
    "t.runtime_hist_counts",
  ],
};
// The raw rows, with the rollup function's own definitions (0029 rollup_run_dimensions).
const RUN_TIMED = "t.status <> 'running' AND t.runtime_seconds IS NOT NULL";
const RUN_RAW: PartSource = {
  table: "public.agent_runs",
  time: { column: "started_at", kind: "raw" },
  dimensions: {
    agent: "t.agent_id::text",
    user: "t.user_id::text",
    model: "coalesce(t.model, '(none)')",
    status: "t.status",
    error_type: "coalesce(t.error_type, '(none)')",
  },
  filters: { agentId: "t.agent_id = {}::uuid", userId: "t.user_id = {}::uuid", model: "t.model = {}" },
  parts: [
    "1",
    "(t.status = 'completed')::int",
    "(t.status = 'failed')::int",
    "(t.status = 'cancelled')::int",
    "t.credits_consumed",
    `(${RUN_TIMED})::int`,
    `CASE WHEN ${RUN_TIMED} THEN t.runtime_seconds ELSE 0 END`,
  ],
  histKey: `CASE WHEN ${RUN_TIMED} THEN analytics.log_hist_key((t.runtime_seconds * 1000)::double precision) END`,
};

const LLM_ROLLUP_PARTS = [
  "t.calls",
  "t.prompt_tokens",
  "t.completion_tokens",
  "t.total_tokens",
  "t.cost_usd",
  "t.unpriced_calls",
  "t.latency_hist_keys",
  "t.latency_hist_counts",
];
const LLM_ROLLUP_HOURLY: PartSource = {
  table: "analytics.llm_usage_hourly",
  time: { column: "hour", kind: "hour" },
  dimensions: {
    agent: "coalesce(t.agent_id::text, '(none)')",
    model: "t.model",
    provider: "t.provider",
    error_type: "coalesce(t.error_type, '(none)')",
  },
  filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}", provider: "t.provider = {}" },
  parts: LLM_ROLLUP_PARTS,
};
const LLM_ROLLUP_USER_DAILY: PartSource = {
  table: "analytics.llm_usage_user_daily",
  time: { column: "day", kind: "day" },
  dimensions: {
    user: "t.user_id::text",
    agent: "coalesce(t.agent_id::text, '(none)')",
    model: "t.model",
    provider: "t.provider",
  },
  filters: {
    agentId: "t.agent_id = {}::uuid",
    userId: "t.user_id = {}::uuid",
    model: "t.model = {}",
    provider: "t.provider = {}",
  },
  parts: LLM_ROLLUP_PARTS,
};
// 0029 rollup_llm_dimensions: cost over priced calls only, error_type only of failed calls.
const LLM_RAW: PartSource = {
  table: "public.llm_usage_logs",
  time: { column: "created_at", kind: "raw" },
  dimensions: {
    agent: "coalesce(t.agent_id::text, '(none)')",
    user: "t.user_id::text",
    model: "t.model",
    provider: "t.provider",
    error_type: "coalesce(CASE WHEN NOT t.success THEN t.error_type END, '(none)')",
  },
  filters: {
    agentId: "t.agent_id = {}::uuid",
    userId: "t.user_id = {}::uuid",
    model: "t.model = {}",
    provider: "t.provider = {}",
  },
  parts: [
    "1",
    "t.prompt_tokens",
    "t.completion_tokens",
    "t.total_tokens",
    "coalesce(t.total_cost_usd, 0)",
    "(t.total_cost_usd IS NULL)::int",
  ],
  histKey: "analytics.log_hist_key(t.latency_ms::double precision)",
};

/** Rollups per family, finest first: hourly when it serves the query, else the per-user daily one. */
const ROLLUPS: Record<Family, PartSource[]> = {
  run: [RUN_ROLLUP_HOURLY, RUN_ROLLUP_USER_DAILY],
  llm: [LLM_ROLLUP_HOURLY, LLM_ROLLUP_USER_DAILY],
};
const RAW: Record<Family, PartSource> = { run: RUN_RAW, llm: LLM_RAW };

function serves(source: PartSource, groupBy: GroupBy | null, filterKeys: FilterKey[]): boolean {
  return (groupBy === null || source.dimensions[groupBy] !== undefined) && filterKeys.every((k) => source.filters[k]);
}

/** `(k, label)` of the series keys (`series_keys`): joined as a set (a hash join), not looked up one by one. */
const LABELS: Partial<Record<GroupBy, (ws: string) => Prisma.Sql>> = {
  agent: (ws) =>
    Prisma.sql`SELECT r.k, coalesce(a.name, r.k) AS label FROM series_keys r LEFT JOIN public.agents a ON a.workspace_id = ${ws}::uuid AND a.id::text = r.k`,
  user: (ws) =>
    Prisma.sql`SELECT r.k, coalesce(u.name, u.email, u.external_id) AS label FROM series_keys r LEFT JOIN public.users u ON u.workspace_id = ${ws}::uuid AND u.id::text = r.k`,
};

const rowSchema = z.object({
  qi: z.number().int(),
  k: z.string().nullable(),
  label: z.string().nullable(),
  v: z.number().nullable(),
});

function filterSql(source: PartSource, filters: Partial<Record<FilterKey, string>>): Prisma.Sql {
  const parts = (Object.entries(filters) as [FilterKey, string | undefined][])
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const [before, after] = (source.filters[name] ?? "false").split("{}");
      return Prisma.sql` AND ${Prisma.raw(before)}${value}${Prisma.raw(after ?? "")}`;
    });
  return parts.length ? Prisma.join(parts, "") : Prisma.empty;
}

/**
 * The rollup rows of the whole buckets of all windows, as `(src 'r', b, k, parts…)`: `b` is the
 * bucket start (the hour, or the local day as an instant), `k` the series key.
 */
function rollupRows(
  source: PartSource,
  family: Family,
  groupBy: GroupBy | null,
  filters: Partial<Record<FilterKey, string>>,
  workspaceId: string,
  timezone: string,
): Prisma.Sql {
  const key = groupBy ? Prisma.raw(source.dimensions[groupBy] ?? "NULL::text") : Prisma.raw("NULL::text");
  const columns = source.parts.map((sql, i) => `${sql} AS ${PART_COLUMNS[family][i]}`).join(", ");
  const time = Prisma.raw(`t.${source.time.column}`);
  const bucket = source.time.kind === "hour" ? time : Prisma.sql`(${time}::timestamp AT TIME ZONE ${timezone})`;
  const [lo, hi] = source.time.kind === "hour" ? ["min(rlo)", "max(rhi)"] : ["min(dlo)", "max(dhi)"];
  return Prisma.sql`
    SELECT 'r'::text AS src, ${bucket} AS b, ${key} AS k, ${Prisma.raw(columns)}
    FROM ${Prisma.raw(source.table)} t
    WHERE t.workspace_id = ${workspaceId}::uuid
      AND ${time} >= (SELECT ${Prisma.raw(lo)} FROM q WHERE rlo < rhi)
      AND ${time} < (SELECT ${Prisma.raw(hi)} FROM q WHERE rlo < rhi)${filterSql(source, filters)}`;
}

/**
 * The raw rows of all windows' edges, reduced in one pass to `(b, k, hkey, additive parts…, c)`:
 * `b` is the start of the segment between two consecutive window bounds (`seg.b`) the row falls
 * in — a segment is wholly inside or wholly outside every window's edges —, `hkey` the row's
 * log-histogram key (only when a percentile is asked; else NULL) and `c` how many rows have it.
 * One index range scan on (workspace_id, time) per merged edge range (LATERAL: the bounds are
 * parameters of the scan, so partitions are pruned at run time too).
 */
function rawRows(
  source: PartSource,
  family: Family,
  groupBy: GroupBy | null,
  filters: Partial<Record<FilterKey, string>>,
  workspaceId: string,
  withHistogram: boolean,
): Prisma.Sql {
  const key = groupBy ? Prisma.raw(source.dimensions[groupBy] ?? "NULL::text") : Prisma.raw("NULL::text");
  const names = PART_COLUMNS[family].slice(0, source.parts.length);
  const columns = source.parts.map((sql, i) => `${sql} AS ${names[i]}`).join(", ");
  const time = Prisma.raw(`t.${source.time.column}`);
  const histKey = Prisma.raw(withHistogram && source.histKey ? source.histKey : "NULL::int");
  return Prisma.sql`
    SELECT x.b, x.k, x.hkey, ${Prisma.raw(names.map((n) => `sum(x.${n}) AS ${n}`).join(", "))}, count(x.hkey)::int AS c
    FROM (SELECT seg.b[width_bucket(${time}, seg.b)] AS b, ${key} AS k, ${histKey} AS hkey, ${Prisma.raw(columns)}
          FROM ranges r CROSS JOIN seg
          CROSS JOIN LATERAL (SELECT * FROM ${Prisma.raw(source.table)} t
                              WHERE t.workspace_id = ${workspaceId}::uuid AND ${time} >= r.lo AND ${time} < r.hi${filterSql(source, filters)}
                              OFFSET 0) t) x
    GROUP BY x.b, x.k, x.hkey`;
}

/**
 * The windows' bounds, one row per window i: f/t as asked; [rlo, rhi) the whole rollup buckets
 * inside it (empty, rlo = rhi = t, when there is none), dlo/dhi the same as local dates for the
 * daily tables.
 */
function windowsSql(froms: Date[], tos: Date[], timezone: string, bucket: "hour" | "day"): Prisma.Sql {
  const windows = Prisma.sql`unnest(${froms}::timestamptz[], ${tos}::timestamptz[]) WITH ORDINALITY AS w(f, t, i)`;
  if (bucket === "hour") {
    return Prisma.sql`q AS (
      SELECT i::int AS i, f, t, CASE WHEN lo < hi THEN lo ELSE t END AS rlo, CASE WHEN lo < hi THEN hi ELSE t END AS rhi,
             NULL::date AS dlo, NULL::date AS dhi
      FROM (SELECT w.i, w.f, w.t,
                   -- the first local hour starting at or after f; the last one starting at or before t
                   analytics.local_hour_start(w.f + interval '1 hour' - interval '1 microsecond', ${timezone}) AS lo,
                   analytics.local_hour_start(w.t, ${timezone}) AS hi
            FROM ${windows}) x)`;
  }
  return Prisma.sql`q AS (
    SELECT i::int AS i, f, t,
           CASE WHEN dlo < dhi THEN dlo::timestamp AT TIME ZONE ${timezone} ELSE t END AS rlo,
           CASE WHEN dlo < dhi THEN dhi::timestamp AT TIME ZONE ${timezone} ELSE t END AS rhi, dlo, dhi
    FROM (SELECT w.i, w.f, w.t,
                 CASE WHEN (w.f AT TIME ZONE ${timezone})::date::timestamp AT TIME ZONE ${timezone} = w.f
                      THEN (w.f AT TIME ZONE ${timezone})::date ELSE (w.f AT TIME ZONE ${timezone})::date + 1 END AS dlo,
                 (w.t AT TIME ZONE ${timezone})::date AS dhi
          FROM ${windows}) x)`;
}

/** Distinct users over the local days the window touches (day resolution, see the file comment). */
async function distinctUsersWindow(
  db: ReadTx,
  metric: "active_users" | "new_users",
  workspace: MetricWorkspace,
  from: Date,
  to: Date,
  filters: Partial<Record<FilterKey, string>>,
): Promise<{ value: number; from: Date; to: Date }> {
  const days = z.array(z.object({ first_day: z.string(), end_day: z.string(), lo: z.date(), hi: z.date() })).parse(
    await db.$queryRaw`
        SELECT first_day::text, end_day::text, first_day::timestamp AT TIME ZONE ${workspace.timezone} AS lo,
               end_day::timestamp AT TIME ZONE ${workspace.timezone} AS hi
        FROM (SELECT (${from}::timestamptz AT TIME ZONE ${workspace.timezone})::date AS first_day,
                     ((${to}::timestamptz - interval '1 microsecond') AT TIME ZONE ${workspace.timezone})::date + 1 AS end_day) d`,
  )[0];
  const rows =
    metric === "active_users"
      ? await db.$queryRaw`
          SELECT count(DISTINCT d.user_id)::float8 AS v FROM analytics.user_daily_activity d
          WHERE d.workspace_id = ${workspace.id}::uuid
            AND d.activity_date >= ${days.first_day}::date AND d.activity_date < ${days.end_day}::date
            ${filters.userId ? Prisma.sql`AND d.user_id = ${filters.userId}::uuid` : Prisma.empty}`
      : await db.$queryRaw`
          SELECT count(*)::float8 AS v FROM (
            SELECT min(d.activity_date) AS first_day FROM analytics.user_daily_activity d
            WHERE d.workspace_id = ${workspace.id}::uuid AND d.activity_date < ${days.end_day}::date
            GROUP BY d.user_id) f
          WHERE f.first_day >= ${days.first_day}::date`;
  const [row] = z.array(z.object({ v: z.number() })).parse(rows);
  return { value: row?.v ?? 0, from: days.lo, to: days.hi };
}

/** Several windows of one workspace, group-by and filter set: one entry per asked window. */
export type MetricWindowsInput = {
  workspace: MetricWorkspace;
  groupBy?: string | null;
  filters?: Partial<Record<string, string | undefined>>;
  /** Most series returned per window (largest values first); default and maximum MAX_WINDOW_SERIES. */
  maxSeries?: number;
  windows: Array<{ metric: string; from: Date; to: Date }>;
};

/** The answer for one asked window: its result, or the error that refused or failed it. */
export type MetricWindowAnswer = { ok: true; result: MetricWindowResult } | { ok: false; error: Error };

type ValidWindow = {
  index: number;
  metric: MetricName;
  from: Date;
  to: Date;
  measure: WindowMeasure | null;
};

function validateWindow(metric: MetricName, from: Date, to: Date): void {
  if (!(from instanceof Date) || !(to instanceof Date) || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()))
    throw new MetricQueryError("invalid_range", "A window needs valid `from` and `to` instants.");
  if (from.getTime() >= to.getTime())
    throw new MetricQueryError("invalid_range", "A window's `from` must be before its `to`.");
  if (to.getTime() - from.getTime() > 400 * 86_400_000)
    throw new MetricQueryError("invalid_range", "A window may span at most 400 days.");
  if (!WINDOW_MEASURES[metric] && metric !== "active_users" && metric !== "new_users")
    throw new MetricQueryError("invalid_group_by", `Metric "${metric}" has no window query.`);
}

/**
 * Many windows of one family (run or llm metrics) in ONE statement. Every window's parts come from
 * the same two scans: the rollup rows of [min whole-bucket start, max whole-bucket end) and the raw
 * rows of the merged edge ranges of all windows. Raw rows are first reduced to segments between
 * consecutive window bounds, so the (often large) partial bucket shared by every window ending at
 * the same instant is read and summed once, not once per window. Each window then sums the
 * rollup buckets of its [rlo, rhi) and the raw segments of its edges, and each asked metric is
 * read from those sums exactly as a single-window query would.
 */
async function queryFamilyWindows(
  db: ReadTx,
  input: { workspace: MetricWorkspace; groupBy: GroupBy | null; filters: Partial<Record<FilterKey, string>> },
  family: Family,
  asked: ValidWindow[],
  maxSeries: number,
): Promise<Map<number, Array<z.infer<typeof rowSchema>>>> {
  const { groupBy, filters } = input;
  const filterKeys = (Object.keys(filters) as FilterKey[]).filter((k) => filters[k] !== undefined);
  const rollup = ROLLUPS[family].find((s) => serves(s, groupBy, filterKeys));
  const raw = RAW[family];
  if (!rollup || !serves(raw, groupBy, filterKeys)) {
    throw new MetricQueryError(
      "invalid_group_by",
      `Metrics of ${asked.map((w) => w.metric).join("/")} have no window query${groupBy ? ` by ${groupBy}` : ""}${
        filterKeys.length ? ` with filters ${filterKeys.join("/")}` : ""
      }: no rollup keeps that combination.`,
    );
  }
  // Distinct windows (several metrics may share one), numbered from 1 as unnest's ordinality.
  const windowIndex = new Map<string, number>();
  const froms: Date[] = [];
  const tos: Date[] = [];
  for (const w of asked) {
    const key = `${w.from.toISOString()}|${w.to.toISOString()}`;
    if (!windowIndex.has(key)) {
      froms.push(w.from);
      tos.push(w.to);
      windowIndex.set(key, froms.length);
    }
  }
  const ws = input.workspace.id;
  const tz = input.workspace.timezone;
  const questions = {
    qi: asked.map((w) => w.index),
    wi: asked.map((w) => windowIndex.get(`${w.from.toISOString()}|${w.to.toISOString()}`) ?? 0),
    metric: asked.map((w) => w.metric),
    fraction: asked.map((w) => (w.measure?.kind === "histogram" ? w.measure.fraction : null)),
    divisor: asked.map((w) => (w.measure?.kind === "histogram" ? w.measure.divisor : null)),
  };
  const aggregates = asked.filter((w) => w.measure?.kind === "aggregate");
  const hasHistogram = asked.some((w) => w.measure?.kind === "histogram");
  const sumColumns = PART_COLUMNS[family].filter((c) => c !== "hk" && c !== "hc");
  // A bucket is in window q: rollup buckets inside [rlo, rhi), raw segments inside the edges.
  const inWindow = Prisma.raw(
    "((p.src = 'r' AND p.b >= q.rlo AND p.b < q.rhi) OR (p.src = 'x' AND ((p.b >= q.f AND p.b < q.rlo) OR (p.b >= q.rhi AND p.b < q.t))))",
  );
  const valueSelects: Prisma.Sql[] = [];
  if (aggregates.length > 0) {
    const cases = [...new Set(aggregates.map((w) => w.metric))].map((metric) => {
      const measure = WINDOW_MEASURES[metric];
      return measure?.kind === "aggregate" ? `WHEN '${metric}' THEN (${measure.sql})::float8` : "";
    });
    valueSelects.push(Prisma.sql`
      SELECT qs.qi, p.k, CASE qs.metric ${Prisma.raw(cases.join(" "))} END AS v
      FROM qs JOIN q ON q.i = qs.wi JOIN sums p ON ${inWindow}
      WHERE qs.fraction IS NULL
      GROUP BY qs.qi, qs.metric, p.k`);
  }
  if (hasHistogram) {
    valueSelects.push(Prisma.sql`
      SELECT qs.qi, p.k,
             (analytics.log_hist_quantiles(array_agg(p.hkey), array_agg(p.c), ARRAY[qs.fraction]))[1] / qs.divisor AS v
      FROM qs JOIN q ON q.i = qs.wi JOIN hist p ON ${inWindow}
      WHERE qs.fraction IS NOT NULL
      GROUP BY qs.qi, qs.fraction, qs.divisor, p.k`);
  }
  const labels =
    groupBy && LABELS[groupBy] ? LABELS[groupBy](ws) : Prisma.sql`SELECT r.k, NULL::text AS label FROM series_keys r`;
  const statement = Prisma.sql`
      WITH ${windowsSql(froms, tos, tz, rollup.time.kind === "day" ? "day" : "hour")},
      qs AS (SELECT * FROM unnest(${questions.qi}::int[], ${questions.wi}::int[], ${questions.metric}::text[],
                                  ${questions.fraction}::float8[], ${questions.divisor}::float8[]) AS qs(qi, wi, metric, fraction, divisor)),
      -- every window bound, sorted: raw rows are summed per segment between two consecutive bounds
      seg AS (SELECT array_agg(x ORDER BY x) AS b
              FROM (SELECT DISTINCT x FROM q CROSS JOIN LATERAL (VALUES (q.f), (q.rlo), (q.rhi), (q.t)) v(x)) s),
      -- the edges of all windows merged into disjoint ranges (each read once)
      edges AS (SELECT f AS lo, rlo AS hi FROM q WHERE f < rlo UNION ALL SELECT rhi AS lo, t AS hi FROM q WHERE rhi < t),
      marked AS (SELECT lo, hi, CASE WHEN lo <= max(hi) OVER (ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                                     THEN 0 ELSE 1 END AS fresh FROM edges),
      islands AS (SELECT lo, hi, sum(fresh) OVER (ORDER BY lo, hi) AS g FROM marked),
      ranges AS (SELECT min(lo) AS lo, max(hi) AS hi FROM islands GROUP BY g),
      rollup_rows AS MATERIALIZED (${rollupRows(rollup, family, groupBy, filters, ws, tz)}),
      raw_rows AS MATERIALIZED (${rawRows(raw, family, groupBy, filters, ws, hasHistogram)}),
      sums AS (SELECT src, b, k, ${Prisma.raw(sumColumns.map((c) => `sum(${c}) AS ${c}`).join(", "))}
               FROM (SELECT src, b, k, ${Prisma.raw(sumColumns.join(", "))} FROM rollup_rows
                     UNION ALL SELECT 'x'::text, b, k, ${Prisma.raw(sumColumns.join(", "))} FROM raw_rows) a
               GROUP BY src, b, k),
      hist AS (SELECT src, b, k, hkey, sum(c)::int AS c
               FROM (SELECT r.src, r.b, r.k, h.k AS hkey, h.c FROM rollup_rows r CROSS JOIN LATERAL unnest(r.hk, r.hc) AS h(k, c)
                     UNION ALL SELECT 'x'::text, b, k, hkey, c FROM raw_rows WHERE hkey IS NOT NULL) a
               GROUP BY src, b, k, hkey),
      vals AS (${Prisma.join(valueSelects, " UNION ALL ")}),
      ranked AS (SELECT qi, k, v, row_number() OVER (PARTITION BY qi ORDER BY v DESC NULLS LAST, k) AS rn FROM vals),
      kept AS (SELECT * FROM ranked WHERE rn <= ${maxSeries + 1}),
      series_keys AS (SELECT DISTINCT k FROM kept WHERE k IS NOT NULL),
      labels AS (${labels})
      SELECT kept.qi, kept.k, labels.label, kept.v
      FROM kept LEFT JOIN labels ON labels.k = kept.k
      ORDER BY kept.qi, kept.rn`;
  const rows = z.array(rowSchema).parse(await db.$queryRaw(statement));
  const byQuestion = new Map<number, Array<z.infer<typeof rowSchema>>>();
  for (const row of rows) {
    const list = byQuestion.get(row.qi);
    if (list) list.push(row);
    else byQuestion.set(row.qi, [row]);
  }
  return byQuestion;
}

/**
 * Many windows (metrics and ranges) of one workspace, group-by and filter set, in at most one
 * statement per metric family — what the alert evaluator asks every minute. Each answer equals
 * `queryMetricWindow` of that window alone; a window that is refused (or whose statement failed)
 * gets its error, the others their results.
 */
export async function queryMetricWindows(db: ReadTx, input: MetricWindowsInput): Promise<MetricWindowAnswer[]> {
  const answers: MetricWindowAnswer[] = input.windows.map(() => ({
    ok: false,
    error: new MetricQueryError("invalid_parameter", "Window not evaluated."),
  }));
  const maxSeries = input.maxSeries ?? MAX_WINDOW_SERIES;
  if (!Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > MAX_WINDOW_SERIES) {
    const error = new MetricQueryError(
      "invalid_parameter",
      `"maxSeries" must be a whole number from 1 to ${MAX_WINDOW_SERIES}.`,
    );
    return input.windows.map(() => ({ ok: false, error }));
  }
  const valid: ValidWindow[] = [];
  let shape: { groupBy: GroupBy | null; filters: Partial<Record<FilterKey, string>> } | null = null;
  input.windows.forEach((w, index) => {
    try {
      const checked = validateMetricShape({ metric: w.metric, groupBy: input.groupBy, filters: input.filters });
      validateWindow(checked.metric, w.from, w.to);
      shape = { groupBy: checked.groupBy, filters: checked.filters };
      valid.push({
        index,
        metric: checked.metric,
        from: w.from,
        to: w.to,
        measure: WINDOW_MEASURES[checked.metric] ?? null,
      });
    } catch (error) {
      answers[index] = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
  });
  const checkedShape: { groupBy: GroupBy | null; filters: Partial<Record<FilterKey, string>> } | null = shape;
  if (!checkedShape) return answers;
  const { groupBy, filters } = checkedShape;
  const resultOf = (w: ValidWindow, rows: Array<z.infer<typeof rowSchema>>): MetricWindowResult => {
    const definition = METRIC_DEFINITIONS[w.metric];
    const base = {
      metric: w.metric,
      unit: definition.unit,
      groupBy,
      resolution: "exact" as const,
      from: w.from,
      to: w.to,
    };
    if (!groupBy) {
      const additive = w.measure?.kind === "aggregate" && w.measure.additive;
      const v = rows[0]?.v ?? null;
      return {
        ...base,
        series: [{ key: "total", label: definition.label, value: v ?? (additive ? 0 : null) }],
        truncated: false,
      };
    }
    return {
      ...base,
      series: rows
        .slice(0, maxSeries)
        .map((r) => ({ key: r.k ?? "(none)", label: r.label ?? r.k ?? "(none)", value: r.v })),
      truncated: rows.length > maxSeries,
    };
  };

  const tasks: Array<Promise<void>> = [];
  for (const w of valid) {
    if (w.metric !== "active_users" && w.metric !== "new_users") continue;
    const metric = w.metric;
    tasks.push(
      distinctUsersWindow(db, metric, input.workspace, w.from, w.to, filters).then(
        (days) => {
          const definition = METRIC_DEFINITIONS[metric];
          answers[w.index] = {
            ok: true,
            result: {
              metric,
              unit: definition.unit,
              groupBy,
              resolution: "day",
              from: days.from,
              to: days.to,
              series: [{ key: "total", label: definition.label, value: days.value }],
              truncated: false,
            },
          };
        },
        (error: unknown) => {
          answers[w.index] = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
        },
      ),
    );
  }
  for (const family of ["run", "llm"] as const) {
    const asked = valid.filter((w) => w.measure?.family === family);
    if (asked.length === 0) continue;
    tasks.push(
      queryFamilyWindows(db, { workspace: input.workspace, groupBy, filters }, family, asked, maxSeries).then(
        (rows) => {
          for (const w of asked) answers[w.index] = { ok: true, result: resultOf(w, rows.get(w.index) ?? []) };
        },
        (error: unknown) => {
          for (const w of asked)
            answers[w.index] = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
        },
      ),
    );
  }
  // Sequential on a transaction (one connection); the statements are independent otherwise.
  await Promise.all(tasks);
  return answers;
}

/**
 * The metric's value over [from, to), exact to the instant for every metric but the distinct-user
 * ones (day resolution). Grouped: one value per series with data, the largest `maxSeries` first.
 * Runs in the caller's transaction/connection (RLS applies as for queryMetric).
 */
export async function queryMetricWindow(db: ReadTx, input: MetricWindowInput): Promise<MetricWindowResult> {
  const [answer] = await queryMetricWindows(db, {
    workspace: input.workspace,
    groupBy: input.groupBy,
    filters: input.filters,
    maxSeries: input.maxSeries,
    windows: [{ metric: input.metric, from: input.from, to: input.to }],
  });
  if (!answer.ok) throw answer.error;
  return answer.result;
}
