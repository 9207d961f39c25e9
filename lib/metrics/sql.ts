import { Prisma } from "@/lib/generated/prisma/client";
import type { FilterKey, GroupBy, MetricName } from "./definitions";
import type { Granularity } from "./range";

/**
 * How each metric is computed from the ROLLUP tables (never raw events). A metric has one or more
 * sources; `planMetric` picks the first that supports the requested granularity, group-by and
 * filters. Every source yields rows (bucket text 'YYYY-MM-DDTHH24:MI:SS' local, key, label, v)
 * aggregated in SQL; queryMetric only places them into series.
 *
 * Sources (DDL in prisma/migrations/0003, 0020, 0025, 0110):
 *   analytics.run_daily_totals      local day (no dimension; day's runtime histogram pre-merged)
 *   analytics.llm_usage_daily_totals local day (no dimension; day's latency histogram pre-merged)
 *   analytics.run_daily / llm_usage_daily  run_hourly / llm_usage_hourly merged per local day (0115)
 *   analytics.run_hourly            local hour × agent × model × status × error_type
 *   analytics.run_user_daily        local day × user × agent
 *   analytics.llm_usage_hourly      local hour × provider × model × agent × error_type
 *   analytics.llm_usage_user_daily  local day × user × provider × model × agent
 *   analytics.stage_daily           local day (of the run's start) × agent × stage × model × status
 *   analytics.user_daily_activity   local day × user (active users)
 *   analytics.user_first_active_days user → first active day (new users; 0114)
 *   analytics.daily_metrics         local day (active users per day only)
 *   analytics.hourly_metrics        UTC hour (active users per hour only)
 * `hour` columns hold the instant a workspace-local hour starts; `AT TIME ZONE tz` turns it back
 * into the wall-clock hour, which date_trunc turns into day/week (Monday)/month buckets.
 * Percentiles merge the rows' log-scale histograms with analytics.log_hist_quantiles (≤ 1 %
 * relative error, see 0025), so a week's p95 is the p95 of the week's runs, not a mean of p95s.
 */
export type SqlContext = {
  workspaceId: string;
  timezone: string;
  from: string; // naive local timestamp, inclusive
  to: string; // naive local timestamp, exclusive
  /** "total": the whole range as one bucket (KPI cards); exact for every aggregation. */
  granularity: Granularity | "total";
  groupBy: GroupBy | null;
  filters: Partial<Record<FilterKey, string>>;
};

export type Source = {
  table: string;
  /** A faster copy of what another source already serves (pre-merged totals): not a capability of its own. */
  accelerates?: boolean;
  granularities: readonly (Granularity | "total")[];
  groupBys: readonly (GroupBy | null)[];
  filters: readonly FilterKey[];
  build: (ctx: SqlContext) => Prisma.Sql;
  /**
   * Set when the source is a rollup table read with a plain aggregate: metrics whose sources share
   * the table can then be read side by side in one scan (metricColumnsSql).
   */
  aggregate?: { table: RollupTable; sql: string };
};

const BUCKET_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS';
const EVERY: readonly (Granularity | "total")[] = ["hour", "day", "week", "month", "total"];
const DAILY: readonly (Granularity | "total")[] = ["day", "week", "month", "total"];

/**
 * The local bucket start (a timestamp) of a row. Sources group by it; metricSql formats it as text
 * once per result row: to_char per source row cost more than the aggregation itself (28 ms vs 6 ms
 * for 60k user-days).
 */
function bucketOf(ctx: SqlContext, localTimestamp: Prisma.Sql): Prisma.Sql {
  if (ctx.granularity === "total") return Prisma.sql`${ctx.from}::timestamp`;
  return Prisma.sql`date_trunc(${ctx.granularity}, ${localTimestamp})`;
}

/** A measure: a plain aggregate, or a percentile read from merged histograms. */
type Measure =
  | { kind: "aggregate"; sql: string }
  | { kind: "histogram"; keys: string; counts: string; fraction: number; divisor: number };

type Dimension = { key: string; label?: string; join?: string };

/** A rollup table with a time column, its group-by dimensions, filters and measures. */
export type RollupTable = {
  table: string;
  /** Pre-merged totals of another table (left out of the "supported" lists of 400 messages). */
  accelerates?: boolean;
  /** One row per workspace and day (daily totals): a day bucket's histogram needs no merging. */
  oneRowPerDay?: boolean;
  time: { column: string; kind: "hour" | "day" };
  dimensions: Partial<Record<GroupBy, Dimension>>;
  filters: Partial<Record<FilterKey, string>>;
  /** Extra condition a measure needs (e.g. only failed runs), keyed by metric. */
  measures: Partial<Record<MetricName, Measure>>;
  granularities: readonly (Granularity | "total")[];
};

const AGENT: Dimension = {
  key: "t.agent_id::text",
  label: "coalesce(a.name, t.agent_id::text)",
  join: "LEFT JOIN public.agents a ON a.workspace_id = t.workspace_id AND a.id = t.agent_id",
};
const USER: Dimension = {
  key: "t.user_id::text",
  label: "coalesce(u.name, u.email, u.external_id)",
  join: "LEFT JOIN public.users u ON u.workspace_id = t.workspace_id AND u.id = t.user_id",
};

const hist = (prefix: string, fraction: number, divisor: number): Measure => ({
  kind: "histogram",
  keys: `${prefix}_hist_keys`,
  counts: `${prefix}_hist_counts`,
  fraction,
  divisor,
});
const agg = (sql: string): Measure => ({ kind: "aggregate", sql });

// Runs by status in run_hourly (one row per status); finished = anything but 'running'.
const RUN_HOURLY_MEASURES: Partial<Record<MetricName, Measure>> = {
  runs: agg("sum(t.runs)"),
  runs_completed: agg("coalesce(sum(t.runs) FILTER (WHERE t.status = 'completed'), 0)"),
  runs_failed: agg("coalesce(sum(t.runs) FILTER (WHERE t.status = 'failed'), 0)"),
  runs_cancelled: agg("coalesce(sum(t.runs) FILTER (WHERE t.status = 'cancelled'), 0)"),
  success_rate: agg(
    "100.0 * coalesce(sum(t.runs) FILTER (WHERE t.status = 'completed'), 0) / nullif(sum(t.runs) FILTER (WHERE t.status <> 'running'), 0)",
  ),
  error_rate: agg(
    "100.0 * coalesce(sum(t.runs) FILTER (WHERE t.status = 'failed'), 0) / nullif(sum(t.runs) FILTER (WHERE t.status <> 'running'), 0)",
  ),
  credits: agg("sum(t.credits)"),
  runtime_avg: agg("sum(t.runtime_sum_seconds) / nullif(sum(t.runtime_runs), 0)"),
  runtime_p50: hist("runtime", 0.5, 1000),
  runtime_p95: hist("runtime", 0.95, 1000),
  runtime_p99: hist("runtime", 0.99, 1000),
};

// run_user_daily and run_daily_totals have per-status counters instead of a status column.
const RUN_USER_MEASURES: Partial<Record<MetricName, Measure>> = {
  runs: agg("sum(t.runs)"),
  runs_completed: agg("sum(t.completed_runs)"),
  runs_failed: agg("sum(t.failed_runs)"),
  runs_cancelled: agg("sum(t.cancelled_runs)"),
  success_rate: agg(
    "100.0 * sum(t.completed_runs) / nullif(sum(t.completed_runs + t.failed_runs + t.cancelled_runs), 0)",
  ),
  error_rate: agg("100.0 * sum(t.failed_runs) / nullif(sum(t.completed_runs + t.failed_runs + t.cancelled_runs), 0)"),
  credits: agg("sum(t.credits)"),
  runtime_avg: agg("sum(t.runtime_sum_seconds) / nullif(sum(t.runtime_runs), 0)"),
  runtime_p50: hist("runtime", 0.5, 1000),
  runtime_p95: hist("runtime", 0.95, 1000),
  runtime_p99: hist("runtime", 0.99, 1000),
};

const LLM_MEASURES: Partial<Record<MetricName, Measure>> = {
  prompt_tokens: agg("sum(t.prompt_tokens)"),
  completion_tokens: agg("sum(t.completion_tokens)"),
  total_tokens: agg("sum(t.total_tokens)"),
  cost_usd: agg("sum(t.cost_usd)"),
  llm_calls: agg("sum(t.calls)"),
  unpriced_llm_calls: agg("sum(t.unpriced_calls)"),
  llm_latency_p95: hist("latency", 0.95, 1),
};

const STAGE_MEASURES: Partial<Record<MetricName, Measure>> = {
  prompt_tokens: agg("sum(t.prompt_tokens)"),
  completion_tokens: agg("sum(t.completion_tokens)"),
  total_tokens: agg("sum(t.total_tokens)"),
  cost_usd: agg("sum(t.cost_usd)"),
};

const TABLES: RollupTable[] = [
  // Pre-merged per workspace and local day (0110): the ungrouped, unfiltered day/week/month/total
  // shape most cards ask for reads ~30 rows instead of every hourly dimension row. First, so it wins.
  {
    table: "analytics.run_daily_totals",
    accelerates: true,
    oneRowPerDay: true,
    time: { column: "day", kind: "day" },
    dimensions: {},
    filters: {},
    measures: RUN_USER_MEASURES,
    granularities: DAILY,
  },
  {
    table: "analytics.llm_usage_daily_totals",
    accelerates: true,
    oneRowPerDay: true,
    time: { column: "day", kind: "day" },
    dimensions: {},
    filters: {},
    measures: LLM_MEASURES,
    granularities: DAILY,
  },
  // The hourly dimension rows merged per local day (0115): grouped/filtered day/week/month/total
  // series read ~7–20× fewer rows than from the hourly tables. Before them, so they win.
  {
    table: "analytics.run_daily",
    accelerates: true,
    time: { column: "day", kind: "day" },
    dimensions: {
      agent: AGENT,
      model: { key: "coalesce(t.model, '(none)')" },
      status: { key: "t.status" },
      error_type: { key: "coalesce(t.error_type, '(none)')" },
    },
    filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}" },
    measures: RUN_HOURLY_MEASURES,
    granularities: DAILY,
  },
  {
    table: "analytics.llm_usage_daily",
    accelerates: true,
    time: { column: "day", kind: "day" },
    dimensions: {
      agent: AGENT,
      model: { key: "t.model" },
      provider: { key: "t.provider" },
      error_type: { key: "coalesce(t.error_type, '(none)')" },
    },
    filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}", provider: "t.provider = {}" },
    measures: LLM_MEASURES,
    granularities: DAILY,
  },
  {
    table: "analytics.run_hourly",
    time: { column: "hour", kind: "hour" },
    dimensions: {
      agent: AGENT,
      model: { key: "coalesce(t.model, '(none)')" },
      status: { key: "t.status" },
      error_type: { key: "coalesce(t.error_type, '(none)')" },
    },
    filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}" },
    measures: RUN_HOURLY_MEASURES,
    granularities: EVERY,
  },
  {
    table: "analytics.run_user_daily",
    time: { column: "day", kind: "day" },
    dimensions: { user: USER, agent: AGENT },
    filters: { agentId: "t.agent_id = {}::uuid", userId: "t.user_id = {}::uuid" },
    measures: RUN_USER_MEASURES,
    granularities: DAILY,
  },
  {
    table: "analytics.llm_usage_hourly",
    time: { column: "hour", kind: "hour" },
    dimensions: {
      agent: AGENT,
      model: { key: "t.model" },
      provider: { key: "t.provider" },
      error_type: { key: "coalesce(t.error_type, '(none)')" },
    },
    filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}", provider: "t.provider = {}" },
    measures: LLM_MEASURES,
    granularities: EVERY,
  },
  {
    table: "analytics.llm_usage_user_daily",
    time: { column: "day", kind: "day" },
    dimensions: { user: USER, agent: AGENT, model: { key: "t.model" }, provider: { key: "t.provider" } },
    filters: {
      agentId: "t.agent_id = {}::uuid",
      userId: "t.user_id = {}::uuid",
      model: "t.model = {}",
      provider: "t.provider = {}",
    },
    measures: LLM_MEASURES,
    granularities: DAILY,
  },
  {
    table: "analytics.stage_daily",
    time: { column: "day", kind: "day" },
    dimensions: { stage: { key: "t.stage_name" } },
    filters: { agentId: "t.agent_id = {}::uuid", model: "t.model = {}" },
    measures: STAGE_MEASURES,
    granularities: DAILY,
  },
];

/** The pieces every query over a rollup table shares: its range condition, bucket, filters and group key. */
function tableQueryParts(table: RollupTable, ctx: SqlContext) {
  const t = Prisma.raw(table.table);
  const timeColumn = Prisma.raw(`t.${table.time.column}`);
  const where =
    table.time.kind === "hour"
      ? Prisma.sql`t.workspace_id = ${ctx.workspaceId}::uuid
          AND ${timeColumn} >= (${ctx.from}::timestamp AT TIME ZONE ${ctx.timezone})
          AND ${timeColumn} < (${ctx.to}::timestamp AT TIME ZONE ${ctx.timezone})`
      : Prisma.sql`t.workspace_id = ${ctx.workspaceId}::uuid
          AND ${timeColumn} >= ${ctx.from}::timestamp::date AND ${timeColumn} < ${ctx.to}::timestamp::date`;
  const bucket = bucketOf(
    ctx,
    table.time.kind === "hour"
      ? Prisma.sql`(${timeColumn} AT TIME ZONE ${ctx.timezone})`
      : Prisma.sql`${timeColumn}::timestamp`,
  );
  const filterSql = (Object.entries(ctx.filters) as [FilterKey, string | undefined][])
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => {
      const [before, after] = (table.filters[key] ?? "false").split("{}");
      return Prisma.sql`AND ${Prisma.raw(before)}${value}${Prisma.raw(after ?? "")}`;
    });
  const dimension = ctx.groupBy ? table.dimensions[ctx.groupBy] : undefined;
  const key = dimension ? Prisma.raw(dimension.key) : Prisma.raw("NULL::text");
  const label = dimension ? Prisma.raw(`max(${dimension.label ?? dimension.key})`) : Prisma.raw("NULL::text");
  const rowLabel = dimension ? Prisma.raw(dimension.label ?? dimension.key) : Prisma.raw("NULL::text");
  const join = dimension?.join ? Prisma.raw(dimension.join) : Prisma.empty;
  const filters = filterSql.length ? Prisma.join(filterSql, " ") : Prisma.empty;
  return { t, where, bucket, filters, key, label, rowLabel, join };
}

function tableSource(table: RollupTable, metric: MetricName): Source | null {
  const measure = table.measures[metric];
  if (!measure) return null;
  const groupBys: (GroupBy | null)[] = [null, ...(Object.keys(table.dimensions) as GroupBy[])];
  // The stage table answers only "by stage": its ungrouped totals would count by run start, not call time.
  const onlyGrouped = table.table === "analytics.stage_daily";
  return {
    table: table.table,
    accelerates: table.accelerates,
    granularities: table.granularities,
    groupBys: onlyGrouped ? groupBys.filter((g) => g !== null) : groupBys,
    filters: Object.keys(table.filters) as FilterKey[],
    aggregate: measure.kind === "aggregate" ? { table, sql: measure.sql } : undefined,
    build: (ctx) => {
      const { t, where, bucket, filters, key, label, rowLabel, join } = tableQueryParts(table, ctx);
      if (measure.kind === "aggregate") {
        return Prisma.sql`
          SELECT ${bucket} AS bucket, ${key} AS key, ${label} AS label, (${Prisma.raw(measure.sql)})::float8 AS v
          FROM ${t} t ${join}
          WHERE ${where} ${filters}
          GROUP BY 1, 2`;
      }
      if (table.oneRowPerDay && ctx.granularity === "day" && !ctx.groupBy) {
        // Each day bucket is one row whose histogram is already merged (unique keys): read the
        // quantile row by row, sorting ~150 keys each, instead of unnesting every day into one
        // grouped, sorted set (same arithmetic; about half the database time for a 90-day series).
        return Prisma.sql`
          SELECT ${bucket} AS bucket, NULL::text AS key, NULL::text AS label, q.v
          FROM ${t} t
          CROSS JOIN LATERAL (
            SELECT ((1 - (pos - floor(pos))) * analytics.log_hist_value(max(k) FILTER (WHERE below <= floor(pos)))
                     + (pos - floor(pos)) * analytics.log_hist_value(max(k) FILTER (WHERE below <= ceil(pos))))
                     / ${measure.divisor}::float8 AS v
            FROM (
              SELECT h.k, sum(h.c::float8) OVER (ORDER BY h.k) - h.c AS below,
                     ${measure.fraction}::float8 * (sum(h.c::float8) OVER () - 1) AS pos
              FROM unnest(t.${Prisma.raw(measure.keys)}, t.${Prisma.raw(measure.counts)}) AS h(k, c)
              WHERE h.k IS NOT NULL AND h.c > 0
            ) ranked
            GROUP BY pos
          ) q
          WHERE ${where} ${filters}`;
      }
      // Merge the histograms of every row in the bucket (counts added per key), then read the
      // quantile (ms → unit) set-based for all buckets at once: the key holding 0-based rank r is the
      // largest key whose preceding count ("below") is ≤ r. Same arithmetic as
      // analytics.log_hist_quantiles (pos = f × (n − 1), linear between the keys of ⌊pos⌋ and ⌈pos⌉),
      // without one function call (and its merge query) per bucket and series.
      return Prisma.sql`
        WITH source_rows AS (
          SELECT ${bucket} AS bucket, ${key} AS key, ${rowLabel} AS label,
                 t.${Prisma.raw(measure.keys)} AS hist_keys, t.${Prisma.raw(measure.counts)} AS hist_counts
          FROM ${t} t ${join}
          WHERE ${where} ${filters}
        ), entries AS (
          -- Counts as float8: integers far below 2^53 add exactly, and float8 window sums are cheaper
          -- than the numeric ones bigint sums would produce.
          SELECT r.bucket, r.key, max(r.label) AS label, h.k, sum(h.c)::float8 AS c
          FROM source_rows r CROSS JOIN LATERAL unnest(r.hist_keys, r.hist_counts) AS h(k, c)
          WHERE h.k IS NOT NULL AND h.c > 0
          GROUP BY r.bucket, r.key, h.k
        ), ranked AS (
          SELECT bucket, key, label, k,
                 sum(c) OVER (PARTITION BY bucket, key ORDER BY k) - c AS below,
                 ${measure.fraction}::float8 * (sum(c) OVER (PARTITION BY bucket, key) - 1) AS pos
          FROM entries
        )
        SELECT bucket, key, max(label) AS label,
               ((1 - (pos - floor(pos))) * analytics.log_hist_value(max(k) FILTER (WHERE below <= floor(pos)))
                 + (pos - floor(pos)) * analytics.log_hist_value(max(k) FILTER (WHERE below <= ceil(pos))))
                 / ${measure.divisor}::float8 AS v
        FROM ranked
        GROUP BY bucket, key, pos`;
    },
  };
}

/** Active users: a distinct count over user-days (never a sum of daily counts). */
function activeUsersDaily(): Source {
  return {
    table: "analytics.user_daily_activity",
    granularities: DAILY,
    groupBys: [null],
    filters: ["userId"],
    build: (ctx) => Prisma.sql`
      SELECT ${bucketOf(ctx, Prisma.sql`d.activity_date::timestamp`)} AS bucket, NULL::text AS key, NULL::text AS label,
             ${
               // One row per (workspace, day, user) (the primary key): a day's distinct users are its
               // rows, so a day bucket counts without the per-group sort of count(DISTINCT).
               ctx.granularity === "day" ? Prisma.sql`count(*)` : Prisma.sql`count(DISTINCT d.user_id)`
             }::float8 AS v
      FROM analytics.user_daily_activity d
      WHERE d.workspace_id = ${ctx.workspaceId}::uuid
        AND d.activity_date >= ${ctx.from}::timestamp::date AND d.activity_date < ${ctx.to}::timestamp::date
        ${ctx.filters.userId ? Prisma.sql`AND d.user_id = ${ctx.filters.userId}::uuid` : Prisma.empty}
      GROUP BY 1`,
  };
}

/**
 * Active users per local day: analytics.daily_metrics, one row per workspace-local day whose
 * active_users is the day's distinct users by the same definition (an activity event, a run or an
 * LLM call; written with user_daily_activity in the same rollup transaction). ~30 rows for a month
 * instead of every user-day: weeks and months still need the distinct count over user-days.
 */
function activeUsersDailyMetrics(): Source {
  return {
    table: "analytics.daily_metrics",
    accelerates: true,
    granularities: ["day"],
    groupBys: [null],
    filters: [],
    build: (ctx) => Prisma.sql`
      SELECT ${bucketOf(ctx, Prisma.sql`m.metric_date::timestamp`)} AS bucket, NULL::text AS key, NULL::text AS label,
             sum(m.active_users)::float8 AS v
      FROM analytics.daily_metrics m
      WHERE m.workspace_id = ${ctx.workspaceId}::uuid
        AND m.metric_date >= ${ctx.from}::timestamp::date AND m.metric_date < ${ctx.to}::timestamp::date
      GROUP BY 1`,
  };
}

/** Active users per hour: hourly_metrics (UTC hours; equal to local hours in whole-hour zones). */
function activeUsersHourly(): Source {
  return {
    table: "analytics.hourly_metrics",
    granularities: ["hour"],
    groupBys: [null],
    filters: [],
    build: (ctx) => Prisma.sql`
      SELECT ${bucketOf(ctx, Prisma.sql`(h.metric_hour AT TIME ZONE ${ctx.timezone})`)} AS bucket,
             NULL::text AS key, NULL::text AS label, sum(h.active_users)::float8 AS v
      FROM analytics.hourly_metrics h
      WHERE h.workspace_id = ${ctx.workspaceId}::uuid
        AND h.metric_hour >= (${ctx.from}::timestamp AT TIME ZONE ${ctx.timezone})
        AND h.metric_hour < (${ctx.to}::timestamp AT TIME ZONE ${ctx.timezone})
      GROUP BY 1`,
  };
}

/**
 * New users: first active day (over the user's whole history) inside the bucket, from
 * analytics.user_first_active_days (0114: each user's min activity_date, kept by triggers on
 * user_daily_activity) — an index range count, not a min over every user-day of the workspace.
 */
function newUsers(): Source {
  return {
    table: "analytics.user_first_active_days",
    granularities: DAILY,
    groupBys: [null],
    filters: [],
    build: (ctx) => Prisma.sql`
      SELECT ${bucketOf(ctx, Prisma.sql`f.first_day::timestamp`)} AS bucket, NULL::text AS key, NULL::text AS label,
             count(*)::float8 AS v
      FROM analytics.user_first_active_days f
      WHERE f.workspace_id = ${ctx.workspaceId}::uuid
        AND f.first_day >= ${ctx.from}::timestamp::date AND f.first_day < ${ctx.to}::timestamp::date
      GROUP BY 1`,
  };
}

/** Every source of a metric, most general first (the planner picks the first that fits). */
export function metricSources(metric: MetricName): Source[] {
  if (metric === "active_users") return [activeUsersHourly(), activeUsersDailyMetrics(), activeUsersDaily()];
  if (metric === "new_users") return [newUsers()];
  return TABLES.map((table) => tableSource(table, metric)).filter((s): s is Source => s !== null);
}

/** The source that answers this query, or null (the caller explains what is supported). */
export function planMetric(metric: MetricName, ctx: SqlContext): Source | null {
  const filterKeys = (Object.keys(ctx.filters) as FilterKey[]).filter((k) => ctx.filters[k] !== undefined);
  return (
    metricSources(metric).find(
      (s) =>
        s.granularities.includes(ctx.granularity) &&
        s.groupBys.includes(ctx.groupBy) &&
        filterKeys.every((k) => s.filters.includes(k)),
    ) ?? null
  );
}

/** What a metric supports at all (union over its sources), for docs and error messages. */
export function metricSupport(metric: MetricName): { groupBys: GroupBy[]; filters: FilterKey[] } {
  const sources = metricSources(metric);
  return {
    groupBys: [...new Set(sources.flatMap((s) => s.groupBys.filter((g): g is GroupBy => g !== null)))],
    filters: [...new Set(sources.flatMap((s) => [...s.filters]))],
  };
}

/** The combinations a metric supports, for a 400 message. */
export function describeSupport(metric: MetricName): string {
  return metricSources(metric)
    .filter((s) => !s.accelerates)
    .map((s) => {
      const groups = s.groupBys.map((g) => g ?? "none").join("/");
      const filters = s.filters.length ? `filters ${s.filters.join("/")}` : "no filters";
      const grans = s.granularities.filter((g) => g !== "total").join("/");
      return `granularity ${grans} with groupBy ${groups} and ${filters}`;
    })
    .join("; or ");
}

/** The one query: the source's rows, limited to the top `limit` series by their total. */
export function metricSql(source: Source, ctx: SqlContext, limit: number, keys?: string[]): Prisma.Sql {
  // `keys`: exactly these series (another metric's top groups, see queryMetricColumns), no top-N.
  const kept = keys
    ? Prisma.sql`rows.key = ANY (${keys}::text[])`
    : Prisma.sql`rows.key IS NULL OR rows.key IN (SELECT key FROM top)`;
  return Prisma.sql`
    WITH rows AS (${source.build(ctx)}),
    top AS (
      SELECT key FROM rows WHERE key IS NOT NULL GROUP BY key ORDER BY sum(v) DESC NULLS LAST, key LIMIT ${limit}
    )
    SELECT to_char(rows.bucket, ${BUCKET_FORMAT}) AS bucket, rows.key, rows.label, rows.v
    FROM rows
    WHERE ${kept}
    ORDER BY rows.key NULLS FIRST, rows.bucket`;
}

/**
 * Several metrics side by side per group over the whole range, in one scan, when every metric's
 * source is the same rollup table read with a plain aggregate (the usage table's six LLM columns):
 * rows (key, label, v0 … vn) of the top `limit` groups by the first metric. Null when the sources
 * differ (queryMetricColumns then reads metric by metric).
 */
export function metricColumnsSql(sources: Source[], ctx: SqlContext, limit: number): Prisma.Sql | null {
  const table = sources[0]?.aggregate?.table;
  if (!table || ctx.granularity !== "total" || !ctx.groupBy) return null;
  if (!sources.every((source) => source.aggregate?.table === table)) return null;
  const { t, where, filters, key, label, join } = tableQueryParts(table, ctx);
  const values = Prisma.join(
    sources.map(
      (source, i) => Prisma.sql`(${Prisma.raw(source.aggregate?.sql ?? "NULL")})::float8 AS ${Prisma.raw(`v${i}`)}`,
    ),
    ", ",
  );
  return Prisma.sql`
    SELECT ${key} AS key, ${label} AS label, ${values}
    FROM ${t} t ${join}
    WHERE ${where} ${filters}
    GROUP BY 1
    ORDER BY v0 DESC NULLS LAST, 1
    LIMIT ${limit}`;
}
