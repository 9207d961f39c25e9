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
import { METRIC_DEFINITIONS, isMetricName, type GroupBy, type MetricFilters } from "@/lib/metrics/definitions";
import {
  MAX_WINDOW_SERIES,
  queryMetricWindows,
  type MetricWindowAnswer,
  type MetricWindowResult,
} from "@/lib/metrics/window";
import { type Condition, observe } from "./condition";
import { scopeQuery, type RuleRow, type ScopeKind } from "./rule-shape";
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
 * Single-value scopes that a per-series statement of the same workspace answers as one of its
 * series: "agent = X" is the series X of "each agent" (same rollup, same raw rows, same parts per
 * series — the catalogue's filter and group-by read the same sources, see lib/metrics/window.ts).
 */
const FOLDS: Partial<Record<ScopeKind, { each: ScopeKind; groupBy: GroupBy }>> = {
  agent: { each: "each_agent", groupBy: "agent" },
  user: { each: "each_user", groupBy: "user" },
};
// A series key is the id's text form (`agent_id::text`): only a canonical uuid can be looked up as
// one. Anything else keeps its filtered statement and whatever that answers (e.g. an error).
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Ask = { key: string; rule: WindowRule };
/**
 * One queryMetricWindows call: `asks` are answered as the call returns them; `picks` (single-value
 * scopes folded into a grouped call) get the series of their value.
 */
type Call = {
  workspace: { id: string; timezone: string };
  groupBy: GroupBy | null;
  filters: MetricFilters;
  asks: Ask[];
  picks: Ask[];
};

function askWindows(rule: WindowRule, tick: Date): Array<{ metric: string; from: Date; to: Date }> {
  const windowMs = rule.evaluation_window_minutes * 60_000;
  const before = new Date(tick.getTime() - windowMs);
  const current = { metric: rule.metric_type, from: before, to: tick };
  return rule.condition_kind === "percent_change"
    ? [current, { metric: rule.metric_type, from: new Date(before.getTime() - windowMs), to: before }]
    : [current];
}

/**
 * The answer of a folded single-value scope from its grouped answer: the series of its value, or —
 * when the value had no data in the window — what the filtered (ungrouped) call answers for nothing:
 * 0 for an additive metric, else null (MetricWindowResult's contract). A truncated answer without
 * the value proves nothing (the series may have been cut): null, and the caller asks the filtered way.
 */
function pickSeries(result: MetricWindowResult, value: string): MetricWindowResult | null {
  const found = result.series.find((s) => s.key === value);
  if (!found && result.truncated) return null;
  const label = METRIC_DEFINITIONS[result.metric].label;
  return {
    ...result,
    groupBy: null,
    series: [{ key: "total", label, value: found ? found.value : isAdditiveMetric(result.metric) ? 0 : null }],
    truncated: false,
  };
}

/**
 * Groups the distinct asks into catalogue calls: one per (workspace, scope) as before, except that
 * the single-value scopes of a dimension (agent = X, user = Y) join that dimension's grouped call
 * of their workspace when it answers at least two scopes (an each_agent/each_user scope or several
 * single values) — one statement per family then reads the workspace's raw rows once for all of
 * them instead of once per value (the raw scan cannot use the filter: the raw tables are indexed by
 * (workspace, time) only). A lone single-value scope keeps its filtered call.
 */
function planCalls(asks: Ask[]): Call[] {
  const calls: Call[] = [];
  const folded = new Map<string, { each: Ask[]; picks: Ask[]; scopes: number; groupBy: GroupBy; first: WindowRule }>();
  const plain: Ask[][] = [];
  for (const scopeAsks of scopeGroups(asks)) {
    const rule = scopeAsks[0].rule;
    const fold = Object.values(FOLDS).find(
      (f) =>
        f.each === rule.scope_kind ||
        (FOLDS[rule.scope_kind] === f && rule.scope_value !== null && CANONICAL_UUID.test(rule.scope_value)),
    );
    if (!fold) {
      plain.push(scopeAsks);
      continue;
    }
    const key = `${rule.workspace_id}|${fold.groupBy}`;
    const entry = folded.get(key) ?? { each: [], picks: [], scopes: 0, groupBy: fold.groupBy, first: rule };
    if (rule.scope_kind === fold.each) entry.each.push(...scopeAsks);
    else entry.picks.push(...scopeAsks);
    entry.scopes += 1;
    folded.set(key, entry);
  }
  for (const entry of folded.values()) {
    if (entry.scopes < 2) {
      plain.push([...entry.each, ...entry.picks]);
      continue;
    }
    calls.push({
      workspace: { id: entry.first.workspace_id, timezone: entry.first.workspace_timezone },
      groupBy: entry.groupBy,
      filters: {},
      asks: entry.each,
      picks: entry.picks,
    });
  }
  for (const scopeAsks of plain) calls.push(plainCall(scopeAsks));
  return calls;
}

/** The asks per (workspace, scope kind, scope value). */
function scopeGroups(asks: Ask[]): Ask[][] {
  const byScope = new Map<string, Ask[]>();
  for (const ask of asks) {
    const scopeKey = [ask.rule.workspace_id, ask.rule.scope_kind, ask.rule.scope_value ?? ""].join("|");
    byScope.set(scopeKey, [...(byScope.get(scopeKey) ?? []), ask]);
  }
  return [...byScope.values()];
}

/** The call of one (workspace, scope): its filters and group-by as the scope maps them. */
function plainCall(asks: Ask[]): Call {
  const first = asks[0].rule;
  const { filters, groupBy } = scopeQuery(first.scope_kind, first.scope_value);
  return {
    workspace: { id: first.workspace_id, timezone: first.workspace_timezone },
    groupBy,
    filters,
    asks,
    picks: [],
  };
}

/**
 * Every claimed rule's metric over [tick − window, tick) (and the window before it for a percent
 * change), keyed by metricQueryKey. Rules of one workspace and scope (same group-by and filters)
 * are asked in ONE queryMetricWindows call whatever their metrics and windows — at most one
 * statement per metric family — so the raw rows of the shared partial hour at the tick are read
 * once per scope, not once per rule; single-value agent/user scopes share their dimension's grouped
 * call (planCalls). Calls run `concurrency` at a time. A failed or refused window rejects only the
 * rules asking it; a folded scope whose grouped answer failed or was truncated without its value is
 * asked again on its own, filtered, so it gets exactly the answer it would have had alone.
 */
export async function fetchRuleWindows(
  db: Tx | PrismaClient,
  rules: WindowRule[],
  tick: Date,
  concurrency: number,
): Promise<Map<string, Promise<FetchedWindow>>> {
  const asks: Ask[] = [];
  const fetched = new Map<string, Promise<FetchedWindow>>();
  const settle = new Map<string, { resolve: (w: FetchedWindow) => void; reject: (e: Error) => void }>();
  for (const rule of rules) {
    const key = metricQueryKey(rule);
    if (fetched.has(key)) continue;
    asks.push({ key, rule });
    const promise = new Promise<FetchedWindow>((resolve, reject) => {
      settle.set(key, { resolve, reject });
    });
    // Rejections are observed by the rule that awaits them; never unhandled before that.
    promise.catch(() => {});
    fetched.set(key, promise);
  }
  const settleAsk = (key: string, current: MetricWindowAnswer, previous: MetricWindowAnswer | null) => {
    const handle = settle.get(key);
    if (!current.ok) handle?.reject(current.error);
    else if (previous && !previous.ok) handle?.reject(previous.error);
    else handle?.resolve({ current: current.result, previous: previous?.ok ? previous.result : null });
  };
  const retry: Ask[] = [];
  const run = async (call: Call) => {
    // Distinct (metric, from, to) of the call: folded scopes often ask the same windows.
    const windowAt = new Map<string, number>();
    const windows: Array<{ metric: string; from: Date; to: Date }> = [];
    const indexOf = (w: { metric: string; from: Date; to: Date }) => {
      const id = `${w.metric}|${w.from.toISOString()}|${w.to.toISOString()}`;
      let at = windowAt.get(id);
      if (at === undefined) {
        at = windows.push(w) - 1;
        windowAt.set(id, at);
      }
      return at;
    };
    const asked = [...call.asks, ...call.picks].map((ask) => ({ ask, at: askWindows(ask.rule, tick).map(indexOf) }));
    let answers: MetricWindowAnswer[];
    try {
      answers = await queryMetricWindows(db, {
        workspace: call.workspace,
        groupBy: call.groupBy,
        filters: call.filters,
        maxSeries: MAX_WINDOW_SERIES,
        windows,
      });
    } catch (error) {
      const failed = error instanceof Error ? error : new Error(String(error));
      answers = windows.map(() => ({ ok: false, error: failed }));
    }
    const picked = new Set(call.picks);
    for (const { ask, at } of asked) {
      const [current, previous = null] = at.map((i) => answers[i]);
      if (!picked.has(ask)) {
        settleAsk(ask.key, current, previous);
        continue;
      }
      const value = ask.rule.scope_value ?? "";
      const pick = (answer: MetricWindowAnswer) => (answer.ok ? pickSeries(answer.result, value) : null);
      const [pickedCurrent, pickedPrevious] = [pick(current), previous ? pick(previous) : null];
      if (pickedCurrent === null || (previous !== null && pickedPrevious === null)) retry.push(ask);
      else
        settleAsk(
          ask.key,
          { ok: true, result: pickedCurrent },
          pickedPrevious ? { ok: true, result: pickedPrevious } : null,
        );
    }
  };
  const runAll = async (calls: Call[]) => {
    let next = 0;
    const worker = async () => {
      while (next < calls.length) await run(calls[next++]);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, calls.length)) }, worker));
  };
  await runAll(planCalls(asks));
  if (retry.length > 0) await runAll(scopeGroups(retry).map(plainCall));
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
