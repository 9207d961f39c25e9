/**
 * What the evaluator asks of the metric catalogue: the value of a rule's metric over its window,
 * per series. Everything is computed by `lib/metrics` (queryMetric / queryMetricTotal); this file
 * only maps a rule onto those calls and never computes a metric itself.
 *
 * Rollups are hourly, so a window is widened to whole hours by the catalogue (a 5-minute window
 * reads the current hour); splits the catalogue keeps only daily (per user) use whole local days.
 * Per-series scopes (each user / each agent) are limited to additive metrics (sums): their window
 * value is the sum of the points the catalogue returns, exact for sums and not for rates or
 * percentiles (the rule form refuses those).
 */
import type { Tx } from "@/lib/db/prisma";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { METRIC_DEFINITIONS, isMetricName } from "@/lib/metrics/definitions";
import { MetricQueryError } from "@/lib/metrics/errors";
import { MAX_SERIES_LIMIT, queryMetric, type MetricResult } from "@/lib/metrics/query";
import { type Condition, observe } from "./condition";
import { scopeQuery, type RuleRow } from "./rule-shape";
import type { Observation } from "./state-machine";

export type SeriesObservation = { key: string; label: string; observation: Observation };

/** '' names the single series of a rule that is not per-series. */
export const SINGLE_SERIES_KEY = "";

export function isAdditiveMetric(metric: string): boolean {
  return isMetricName(metric) && METRIC_DEFINITIONS[metric].aggregation === "sum";
}

export function scopeLabel(rule: Pick<RuleRow, "scope_kind" | "scope_value">): string {
  switch (rule.scope_kind) {
    case "workspace":
      return "Workspace";
    case "agent":
      return `Agent ${rule.scope_value}`;
    case "model":
      return `Model ${rule.scope_value}`;
    case "user":
      return `User ${rule.scope_value}`;
    case "each_agent":
      return "Each agent";
    case "each_user":
      return "Each user";
  }
}

/**
 * How hourly catalogue values become one window value. Sums add up exactly; a rate, mean or
 * percentile cannot be recombined from hourly values, so it is read from the most recent hour
 * that has a value (the catalogue's own number for that hour, never a recomputation).
 */
function windowValue(values: Array<number | null>, additive: boolean): number | null {
  if (additive) return values.reduce<number>((sum, v) => sum + (v ?? 0), 0);
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/** How far back a rule needs data: its window, twice for a percent change. */
export function lookbackMs(rule: Pick<RuleRow, "evaluation_window_minutes" | "condition_kind">): number {
  return rule.evaluation_window_minutes * 60_000 * (rule.condition_kind === "percent_change" ? 2 : 1);
}

/** Rules asking the catalogue the same question (only window and threshold differ) share a query. */
export function metricQueryKey(
  rule: Pick<RuleRow, "workspace_id" | "metric_type" | "scope_kind" | "scope_value">,
): string {
  return [rule.workspace_id, rule.metric_type, rule.scope_kind, rule.scope_value ?? ""].join("|");
}

export type FetchedSeries = { granularity: "hour" | "day"; result: MetricResult };

/**
 * One catalogue query for a rule's metric and scope over [tick − lookback, tick): hourly, or
 * daily where the catalogue keeps a split (per user) only by day.
 */
export async function fetchRuleSeries(
  db: Tx | PrismaClient,
  rule: Pick<RuleRow, "workspace_id" | "workspace_timezone" | "metric_type" | "scope_kind" | "scope_value">,
  tick: Date,
  lookback: number,
): Promise<FetchedSeries> {
  const { filters, groupBy } = scopeQuery(rule.scope_kind, rule.scope_value);
  const query = (granularity: "hour" | "day") =>
    queryMetric(db, {
      workspace: { id: rule.workspace_id, timezone: rule.workspace_timezone },
      metric: rule.metric_type,
      from: new Date(tick.getTime() - lookback).toISOString(),
      to: tick.toISOString(),
      granularity,
      groupBy,
      filters,
      limit: MAX_SERIES_LIMIT,
    });
  try {
    return { granularity: "hour", result: await query("hour") };
  } catch (error) {
    if (!(error instanceof MetricQueryError) || error.code !== "invalid_group_by") throw error;
    return { granularity: "day", result: await query("day") };
  }
}

/**
 * The rule's observations at `tick`, from catalogue series covering at least its lookback.
 * Per-series rules return one entry per series the catalogue reports (the top 50); a known series
 * missing from the answer had no activity, i.e. 0 for a sum, which `observeMissing` turns into an
 * observation.
 */
export function observeFromSeries(
  rule: RuleRow,
  condition: Condition,
  tick: Date,
  fetched: FetchedSeries,
): { series: SeriesObservation[]; observeMissing: (key: string) => Observation } {
  const windowMs = rule.evaluation_window_minutes * 60_000;
  const from = tick.getTime() - windowMs;
  const previousFrom = from - windowMs;
  const percent = condition.kind === "percent_change";
  const { groupBy } = scopeQuery(rule.scope_kind, rule.scope_value);
  const additive = isAdditiveMetric(rule.metric_type);
  // A bucket belongs to the window when it ends after the window starts (the catalogue widens a
  // range to whole buckets the same way); the previous window likewise. Older buckets (fetched
  // for rules with longer windows) are ignored.
  const bucketMs = fetched.granularity === "hour" ? 3_600_000 : 86_400_000;
  const series = fetched.result.series.map((s) => {
    const current: Array<number | null> = [];
    const previous: Array<number | null> = [];
    for (const point of s.points) {
      const end = new Date(point.t).getTime() + bucketMs;
      if (end > from) current.push(point.v);
      else if (end > previousFrom) previous.push(point.v);
    }
    return {
      key: groupBy === null ? SINGLE_SERIES_KEY : `${groupBy}:${s.key}`,
      label: groupBy === null ? scopeLabel(rule) : s.label,
      observation: observe(condition, windowValue(current, additive), percent ? windowValue(previous, additive) : null),
    };
  });
  return {
    series,
    observeMissing: () => (additive ? observe(condition, 0, percent ? 0 : null) : { kind: "no_data" }),
  };
}
