import { z } from "zod";
import type { ReadTx } from "@/lib/db/read-tx";
import {
  FILTER_KEYS,
  GROUP_BYS,
  METRIC_DEFINITIONS,
  METRIC_NAMES,
  isMetricName,
  type FilterKey,
  type GroupBy,
  type MetricFilters,
  type MetricName,
  type MetricUnit,
} from "./definitions";
import { MetricQueryError } from "./errors";
import { GRANULARITIES, bucketLabel, previousRange, resolveRange, type Granularity, type LocalRange } from "./range";
import { describeSupport, metricColumnsSql, metricSql, planMetric, type SqlContext } from "./sql";

export const DEFAULT_SERIES_LIMIT = 10;
export const MAX_SERIES_LIMIT = 50;

/** The workspace a query runs for (from authorizeWorkspace / the API key). */
export type MetricWorkspace = { id: string; timezone: string };

export type MetricQueryInput = {
  workspace: MetricWorkspace;
  metric: string;
  from: string;
  to: string;
  granularity: string;
  groupBy?: string | null;
  filters?: Partial<Record<string, string | undefined>>;
  /** Most series returned when grouped (top by total); default 10, at most 50. */
  limit?: number;
};

export type MetricPoint = { t: string; v: number | null };
export type MetricSeries = { key: string; label: string; points: MetricPoint[] };
export type MetricResult = {
  metric: MetricName;
  label: string;
  unit: MetricUnit;
  granularity: Granularity;
  timezone: string;
  groupBy: GroupBy | null;
  from: string;
  to: string;
  series: MetricSeries[];
};

const rowSchema = z.object({
  bucket: z.string(),
  key: z.string().nullable(),
  label: z.string().nullable(),
  v: z.number().nullable(),
});

const UUID_FILTERS: readonly FilterKey[] = ["agentId", "userId"];

/**
 * Validates the metric, group-by and filters of a query against the catalogue (shared by
 * queryMetric and queryMetricWindow); every mistake is a MetricQueryError (400) saying what to fix.
 */
export function validateMetricShape(input: Pick<MetricQueryInput, "metric" | "groupBy" | "filters">): {
  metric: MetricName;
  groupBy: GroupBy | null;
  filters: MetricFilters;
} {
  if (!isMetricName(input.metric)) {
    throw new MetricQueryError(
      "unknown_metric",
      `Unknown metric "${input.metric}". Known metrics: ${METRIC_NAMES.join(", ")}.`,
    );
  }
  const metric = input.metric;
  const definition = METRIC_DEFINITIONS[metric];
  let groupBy: GroupBy | null = null;
  if (input.groupBy) {
    if (!(GROUP_BYS as readonly string[]).includes(input.groupBy)) {
      throw new MetricQueryError(
        "invalid_group_by",
        `Unknown groupBy "${input.groupBy}". Use one of: ${GROUP_BYS.join(", ")}.`,
      );
    }
    groupBy = input.groupBy as GroupBy;
    if (!(definition.groupBys as readonly GroupBy[]).includes(groupBy)) {
      const allowed = definition.groupBys.length ? definition.groupBys.join(", ") : "none";
      throw new MetricQueryError(
        "invalid_group_by",
        `Metric "${metric}" cannot be grouped by "${groupBy}". Allowed group-bys: ${allowed}.`,
      );
    }
  }
  const filters: MetricFilters = {};
  for (const [key, value] of Object.entries(input.filters ?? {})) {
    if (value === undefined || value === "") continue;
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      throw new MetricQueryError("invalid_filter", `Unknown filter "${key}". Use one of: ${FILTER_KEYS.join(", ")}.`);
    }
    const filterKey = key as FilterKey;
    if (!(definition.filters as readonly FilterKey[]).includes(filterKey)) {
      const allowed = definition.filters.length ? definition.filters.join(", ") : "none";
      throw new MetricQueryError(
        "invalid_filter",
        `Metric "${metric}" cannot be filtered by "${key}". Allowed filters: ${allowed}.`,
      );
    }
    if (UUID_FILTERS.includes(filterKey) && !z.uuid().safeParse(value).success) {
      throw new MetricQueryError("invalid_filter", `Filter "${key}" must be a UUID; got "${value}".`);
    }
    if (value.length > 200)
      throw new MetricQueryError("invalid_filter", `Filter "${key}" is longer than 200 characters.`);
    filters[filterKey] = value;
  }
  return { metric, groupBy, filters };
}

/** Validates a query against the catalogue; every mistake is a MetricQueryError (400) saying what to fix. */
export function validateMetricQuery(input: MetricQueryInput): {
  metric: MetricName;
  range: LocalRange;
  groupBy: GroupBy | null;
  filters: MetricFilters;
  limit: number;
} {
  const { metric, groupBy, filters } = validateMetricShape(input);
  if (!(GRANULARITIES as readonly string[]).includes(input.granularity)) {
    throw new MetricQueryError(
      "invalid_granularity",
      `Unknown granularity "${input.granularity}". Use one of: ${GRANULARITIES.join(", ")}.`,
    );
  }
  const granularity = input.granularity as Granularity;
  const limit = input.limit ?? DEFAULT_SERIES_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SERIES_LIMIT) {
    throw new MetricQueryError("invalid_parameter", `"limit" must be a whole number from 1 to ${MAX_SERIES_LIMIT}.`);
  }
  const range = resolveRange({ from: input.from, to: input.to, granularity, timezone: input.workspace.timezone });
  return { metric, range, groupBy, filters, limit };
}

async function runQuery(
  db: ReadTx,
  workspace: MetricWorkspace,
  metric: MetricName,
  range: LocalRange,
  groupBy: GroupBy | null,
  filters: MetricFilters,
  limit: number,
  wholeRange = false,
  keys?: string[],
): Promise<MetricSeries[]> {
  const ctx: SqlContext = {
    workspaceId: workspace.id,
    timezone: range.timezone,
    from: range.from,
    to: range.to,
    granularity: wholeRange ? "total" : range.granularity,
    groupBy,
    filters,
  };
  const buckets = wholeRange ? [range.from] : range.buckets;
  const source = planMetric(metric, ctx);
  if (!source) {
    const asked = `granularity ${ctx.granularity}${groupBy ? `, groupBy ${groupBy}` : ""}${
      Object.keys(filters).length ? `, filters ${Object.keys(filters).join("/")}` : ""
    }`;
    throw new MetricQueryError(
      "invalid_group_by",
      `Metric "${metric}" cannot be served with ${asked}. Supported: ${describeSupport(metric)}.`,
    );
  }
  const rows = z.array(rowSchema).parse(await db.$queryRaw(metricSql(source, ctx, limit, keys)));
  // Place the SQL's aggregated rows into one series per key; buckets with no row are 0 for
  // additive metrics and empty (null) for rates, means and percentiles (nothing to measure).
  const additive =
    METRIC_DEFINITIONS[metric].aggregation === "sum" || METRIC_DEFINITIONS[metric].aggregation === "distinct";
  const series = new Map<string, { label: string; values: Map<string, number | null> }>();
  if (!groupBy) series.set("total", { label: METRIC_DEFINITIONS[metric].label, values: new Map() });
  for (const row of rows) {
    const key = groupBy ? (row.key ?? "(none)") : "total";
    let entry = series.get(key);
    if (!entry) {
      entry = { label: row.label ?? row.key ?? "(none)", values: new Map() };
      series.set(key, entry);
    }
    entry.values.set(row.bucket, row.v);
  }
  return [...series.entries()].map(([key, { label, values }]) => ({
    key,
    label,
    points: buckets.map((bucket) => ({
      t: bucketLabel(bucket, range.timezone),
      v: values.get(bucket) ?? (additive ? 0 : null),
    })),
  }));
}

/**
 * The one entry point every chart, KPI card, CSV export, the metrics API and the alert evaluator
 * use. Runs in the caller's transaction (`withUserContext`), so row-level security applies.
 */
export async function queryMetric(db: ReadTx, input: MetricQueryInput): Promise<MetricResult> {
  const { metric, range, groupBy, filters, limit } = validateMetricQuery(input);
  const series = await runQuery(db, input.workspace, metric, range, groupBy, filters, limit);
  const definition = METRIC_DEFINITIONS[metric];
  return {
    metric,
    label: definition.label,
    unit: definition.unit,
    granularity: range.granularity,
    timezone: range.timezone,
    groupBy,
    from: bucketLabel(range.from, range.timezone),
    to: bucketLabel(range.to, range.timezone),
    series,
  };
}

/**
 * One number for a whole range (a KPI card), and the same number for the range just before it.
 * Computed as a single bucket spanning the range, so rates, percentiles and distinct counts are
 * exact over the period (never an average of daily values).
 */
export async function queryMetricTotal(
  db: ReadTx,
  input: Omit<MetricQueryInput, "granularity" | "groupBy" | "limit">,
): Promise<{ metric: MetricName; unit: MetricUnit; value: number | null; previous: number | null }> {
  const { metric, range, filters } = validateMetricQuery({ ...input, granularity: "day" });
  const total = await totalOver(db, input.workspace, metric, range, filters);
  const previous = await totalOver(db, input.workspace, metric, previousRange(range), filters);
  return { metric, unit: METRIC_DEFINITIONS[metric].unit, value: total, previous };
}

async function totalOver(
  db: ReadTx,
  workspace: MetricWorkspace,
  metric: MetricName,
  range: LocalRange,
  filters: MetricFilters,
): Promise<number | null> {
  const [series] = await runQuery(db, workspace, metric, range, null, filters, 1, true);
  return series.points[0]?.v ?? null;
}

export type BreakdownRow = { key: string; label: string; value: number | null };

/**
 * One value per group over the whole range (a "top agents" list, "cost by model", a table column):
 * the range is one bucket, so rates, percentiles and distinct counts are exact for the period.
 */
export async function queryMetricBreakdown(
  db: ReadTx,
  input: Omit<MetricQueryInput, "granularity"> & { groupBy: string },
): Promise<BreakdownRow[]> {
  const { metric, range, groupBy, filters, limit } = validateMetricQuery({ ...input, granularity: "day" });
  const series = await runQuery(db, input.workspace, metric, range, groupBy, filters, limit, true);
  return series
    .map((s) => ({ key: s.key, label: s.label, value: s.points[0]?.v ?? null }))
    .sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity) || a.key.localeCompare(b.key));
}

export type MetricColumnsRow = { key: string; label: string; values: Partial<Record<MetricName, number | null>> };

/**
 * Several metrics side by side per group over the whole range (a table's columns): the top `limit`
 * groups by the first metric, and every metric's value for exactly those groups — never a 0 for a
 * group that was merely outside another metric's own top list. One scan when the metrics share a
 * rollup table (metricColumnsSql), else the first metric's top groups and then each other metric
 * for those keys.
 */
export async function queryMetricColumns(
  db: ReadTx,
  input: Omit<MetricQueryInput, "granularity" | "metric" | "groupBy"> & { metrics: string[]; groupBy: string },
): Promise<MetricColumnsRow[]> {
  if (input.metrics.length === 0) throw new MetricQueryError("invalid_parameter", "Name at least one metric.");
  const queries = input.metrics.map((metric) => validateMetricQuery({ ...input, metric, granularity: "day" }));
  const [first] = queries;
  const groupBy = first.groupBy;
  if (!groupBy) throw new MetricQueryError("invalid_group_by", "Columns need a groupBy.");
  const ctx: SqlContext = {
    workspaceId: input.workspace.id,
    timezone: first.range.timezone,
    from: first.range.from,
    to: first.range.to,
    granularity: "total",
    groupBy,
    filters: first.filters,
  };
  const sources = queries.map((q) => planMetric(q.metric, { ...ctx, filters: q.filters }));
  const combined = sources.every((source) => source !== null)
    ? metricColumnsSql(
        sources.flatMap((source) => (source ? [source] : [])),
        ctx,
        first.limit,
      )
    : null;
  if (combined) {
    const columnSchema = z
      .object({ key: z.string().nullable(), label: z.string().nullable() })
      .catchall(z.number().nullable());
    const rows = z.array(columnSchema).parse(await db.$queryRaw(combined));
    return rows.map((row) => ({
      key: row.key ?? "(none)",
      label: row.label ?? row.key ?? "(none)",
      values: Object.fromEntries(queries.map((q, i) => [q.metric, row[`v${i}`] ?? null])),
    }));
  }
  const top = await runQuery(db, input.workspace, first.metric, first.range, groupBy, first.filters, first.limit, true);
  const ordered = top
    .map((series) => ({ key: series.key, label: series.label, value: series.points[0]?.v ?? null }))
    .sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity) || a.key.localeCompare(b.key));
  const keys = ordered.map((row) => row.key);
  // One after another: they share the caller's transaction (one connection).
  const others: Map<string, number | null>[] = [];
  for (const q of queries.slice(1)) {
    const series = await runQuery(db, input.workspace, q.metric, q.range, groupBy, q.filters, q.limit, true, keys);
    others.push(new Map(series.map((s) => [s.key, s.points[0]?.v ?? null])));
  }
  const additive = (metric: MetricName) =>
    METRIC_DEFINITIONS[metric].aggregation === "sum" || METRIC_DEFINITIONS[metric].aggregation === "distinct";
  return ordered.map((row) => ({
    key: row.key,
    label: row.label,
    values: Object.fromEntries([
      [first.metric, row.value],
      // A group without rows for another metric has 0 of an additive one, nothing to measure otherwise.
      ...queries.slice(1).map((q, i) => [q.metric, others[i].get(row.key) ?? (additive(q.metric) ? 0 : null)]),
    ]),
  }));
}
