/**
 * What the evaluator asks of the metric catalogue: the value of a rule's metric over its window,
 * per series. Everything is computed by `lib/metrics` (queryMetricWindows); this file only maps a
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
import { MAX_WINDOW_SERIES, queryMetricWindows, type MetricWindowResult } from "@/lib/metrics/window";
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

type WindowRule = Pick<
  RuleRow,
  | "workspace_id"
  | "workspace_timezone"
  | "metric_type"
  | "scope_kind"
  | "scope_value"
  | "evaluation_window_minutes"
  | "condition_kind"
>;

/**
 * Every claimed rule's metric over [tick − window, tick) (and the window before it for a percent
 * change), keyed by metricQueryKey. Rules of one workspace and scope (same group-by and filters)
 * are asked in ONE queryMetricWindows call whatever their metrics and windows — at most one
 * statement per metric family — so the raw rows of the shared partial hour at the tick are read
 * once per scope, not once per rule. Scopes run `concurrency` at a time. A failed or refused
 * window rejects only the rules asking it.
 */
export async function fetchRuleWindows(
  db: Tx | PrismaClient,
  rules: WindowRule[],
  tick: Date,
  concurrency: number,
): Promise<Map<string, Promise<FetchedWindow>>> {
  type Ask = { key: string; rule: WindowRule };
  const scopes = new Map<string, Ask[]>();
  const seen = new Set<string>();
  for (const rule of rules) {
    const key = metricQueryKey(rule);
    if (seen.has(key)) continue;
    seen.add(key);
    const scopeKey = [rule.workspace_id, rule.scope_kind, rule.scope_value ?? ""].join("|");
    scopes.set(scopeKey, [...(scopes.get(scopeKey) ?? []), { key, rule }]);
  }
  const fetched = new Map<string, Promise<FetchedWindow>>();
  const settle = new Map<string, { resolve: (w: FetchedWindow) => void; reject: (e: Error) => void }>();
  for (const key of seen) {
    fetched.set(
      key,
      new Promise<FetchedWindow>((resolve, reject) => {
        settle.set(key, { resolve, reject });
      }),
    );
    // Rejections are observed by the rule that awaits them; never unhandled before that.
    fetched.get(key)?.catch(() => {});
  }
  const groups = [...scopes.values()];
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const asks = groups[next++];
      const first = asks[0].rule;
      const { filters, groupBy } = scopeQuery(first.scope_kind, first.scope_value);
      const windows = asks.flatMap(({ rule }) => {
        const windowMs = rule.evaluation_window_minutes * 60_000;
        const current = { metric: rule.metric_type, from: new Date(tick.getTime() - windowMs), to: tick };
        const before = new Date(tick.getTime() - windowMs);
        return rule.condition_kind === "percent_change"
          ? [current, { metric: rule.metric_type, from: new Date(before.getTime() - windowMs), to: before }]
          : [current];
      });
      try {
        const answers = await queryMetricWindows(db, {
          workspace: { id: first.workspace_id, timezone: first.workspace_timezone },
          groupBy,
          filters,
          maxSeries: MAX_WINDOW_SERIES,
          windows,
        });
        let at = 0;
        for (const { key, rule } of asks) {
          const current = answers[at++];
          const previous = rule.condition_kind === "percent_change" ? answers[at++] : null;
          const handle = settle.get(key);
          if (!current.ok) handle?.reject(current.error);
          else if (previous && !previous.ok) handle?.reject(previous.error);
          else handle?.resolve({ current: current.result, previous: previous?.ok ? previous.result : null });
        }
      } catch (error) {
        for (const { key } of asks) settle.get(key)?.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, groups.length)) }, worker));
  return fetched;
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
