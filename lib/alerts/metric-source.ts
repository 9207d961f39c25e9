/**
 * What the evaluator asks of the metric catalogue: the value of a rule's metric over its window,
 * per series. Everything is computed by `lib/metrics` (queryMetricWindow); this file only maps a
 * rule onto that call and never computes a metric itself.
 *
 * The window is exact: [tick − window, tick) to the minute, for every metric (sums summed, rates
 * and means from summed parts, percentiles from merged histograms), except the distinct-user
 * metrics, which the catalogue answers over the local days the window touches. Per-series scopes
 * (each user / each agent) get every series with data, up to MAX_WINDOW_SERIES (10,000); beyond
 * that the largest values are kept and the evaluator records a warning in the history.
 */
import type { Tx } from "@/lib/db/prisma";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { METRIC_DEFINITIONS, isMetricName } from "@/lib/metrics/definitions";
import { MAX_WINDOW_SERIES, queryMetricWindow, type MetricWindowResult } from "@/lib/metrics/window";
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

/** How far back a rule needs data: its window, twice for a percent change. */
export function lookbackMs(rule: Pick<RuleRow, "evaluation_window_minutes" | "condition_kind">): number {
  return rule.evaluation_window_minutes * 60_000 * (rule.condition_kind === "percent_change" ? 2 : 1);
}

/**
 * Rules asking the catalogue the same question share a query: same workspace, metric, scope,
 * window and condition kind (only thresholds, comparators and policies differ).
 */
export function metricQueryKey(
  rule: Pick<
    RuleRow,
    "workspace_id" | "metric_type" | "scope_kind" | "scope_value" | "evaluation_window_minutes" | "condition_kind"
  >,
): string {
  return [
    rule.workspace_id,
    rule.metric_type,
    rule.scope_kind,
    rule.scope_value ?? "",
    rule.evaluation_window_minutes,
    rule.condition_kind,
  ].join("|");
}

/** The window's answer, and for a percent change the previous window's. */
export type FetchedWindow = { current: MetricWindowResult; previous: MetricWindowResult | null };

/** The rule's metric over [tick − window, tick) (and the window before it for a percent change). */
export async function fetchRuleWindow(
  db: Tx | PrismaClient,
  rule: Pick<
    RuleRow,
    | "workspace_id"
    | "workspace_timezone"
    | "metric_type"
    | "scope_kind"
    | "scope_value"
    | "evaluation_window_minutes"
    | "condition_kind"
  >,
  tick: Date,
): Promise<FetchedWindow> {
  const { filters, groupBy } = scopeQuery(rule.scope_kind, rule.scope_value);
  const windowMs = rule.evaluation_window_minutes * 60_000;
  const query = (to: Date) =>
    queryMetricWindow(db, {
      workspace: { id: rule.workspace_id, timezone: rule.workspace_timezone },
      metric: rule.metric_type,
      from: new Date(to.getTime() - windowMs),
      to,
      groupBy,
      filters,
      maxSeries: MAX_WINDOW_SERIES,
    });
  const current = await query(tick);
  const previous = rule.condition_kind === "percent_change" ? await query(new Date(tick.getTime() - windowMs)) : null;
  return { current, previous };
}

/**
 * The rule's observations at `tick`. Per-series rules get one entry per series with data. A known
 * series absent from the answer is "missing" (Grafana's MissingSeries): it resolves to ok — a
 * user/agent with no activity is never evaluated as a breach (the form refuses conditions that
 * would need that, e.g. "each user spends less than $1").
 */
export function observeFromWindow(
  rule: RuleRow,
  condition: Condition,
  fetched: FetchedWindow,
): { series: SeriesObservation[]; observeMissing: (key: string) => Observation; truncated: boolean } {
  const { groupBy } = scopeQuery(rule.scope_kind, rule.scope_value);
  const previousByKey = new Map((fetched.previous?.series ?? []).map((s) => [s.key, s.value]));
  const series = fetched.current.series.map((s) => ({
    key: groupBy === null ? SINGLE_SERIES_KEY : `${groupBy}:${s.key}`,
    label: groupBy === null ? scopeLabel(rule) : s.label,
    observation: observe(
      condition,
      s.value,
      condition.kind === "percent_change" ? (previousByKey.get(s.key) ?? null) : null,
    ),
  }));
  return {
    series,
    observeMissing: () => ({ kind: "missing" }),
    truncated: fetched.current.truncated,
  };
}
