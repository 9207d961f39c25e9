/**
 * What the evaluator asks of the metric catalogue: the value of a rule's metric over its window,
 * per series. Everything is computed by `lib/metrics` (queryMetric / queryMetricTotal); this file
 * only maps a rule onto those calls and never computes a metric itself.
 *
 * Rollups are hourly, so a window is widened to whole hours by the catalogue (a 5-minute window
 * reads the current hour). Per-series scopes (each user / each agent) are limited to additive
 * metrics (sums): their window value is the sum of the hourly points the catalogue returns, which
 * is exact for sums and would not be for rates or percentiles (the rule form refuses those).
 */
import type { Tx } from "@/lib/db/prisma";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { METRIC_DEFINITIONS, isMetricName } from "@/lib/metrics/definitions";
import { MAX_SERIES_LIMIT, queryMetric, queryMetricTotal } from "@/lib/metrics/query";
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
 * The rule's observations at `tick`. Per-series rules return one entry per series the catalogue
 * reports (the top 50 by value); a known series missing from the answer had no activity, i.e. 0
 * for a sum, which `observeMissing` turns into an observation.
 */
export async function observeRule(
  db: Tx | PrismaClient,
  rule: RuleRow,
  condition: Condition,
  tick: Date,
): Promise<{ series: SeriesObservation[]; observeMissing: (key: string) => Observation }> {
  const windowMs = rule.evaluation_window_minutes * 60_000;
  const from = new Date(tick.getTime() - windowMs);
  const workspace = { id: rule.workspace_id, timezone: rule.workspace_timezone };
  const { filters, groupBy } = scopeQuery(rule.scope_kind, rule.scope_value);
  if (groupBy === null) {
    const total = await queryMetricTotal(db, {
      workspace,
      metric: rule.metric_type,
      from: from.toISOString(),
      to: tick.toISOString(),
      filters,
    });
    return {
      series: [{ key: SINGLE_SERIES_KEY, label: scopeLabel(rule), observation: observe(condition, total.value, total.previous) }],
      observeMissing: () => ({ kind: "no_data" }),
    };
  }
  const percent = condition.kind === "percent_change";
  const queryFrom = percent ? new Date(from.getTime() - windowMs) : from;
  const result = await queryMetric(db, {
    workspace,
    metric: rule.metric_type,
    from: queryFrom.toISOString(),
    to: tick.toISOString(),
    granularity: "hour",
    groupBy,
    filters,
    limit: MAX_SERIES_LIMIT,
  });
  // The hour the window starts in (the catalogue widens to whole hours the same way).
  const currentFrom = Math.floor(from.getTime() / 3_600_000) * 3_600_000;
  const series = result.series.map((s) => {
    let current = 0;
    let previous = 0;
    for (const point of s.points) {
      const value = point.v ?? 0;
      if (new Date(point.t).getTime() >= currentFrom) current += value;
      else previous += value;
    }
    return {
      key: `${groupBy}:${s.key}`,
      label: s.label,
      observation: observe(condition, current, percent ? previous : null),
    };
  });
  return { series, observeMissing: () => observe(condition, 0, percent ? 0 : null) };
}
