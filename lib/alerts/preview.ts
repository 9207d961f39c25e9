/**
 * The rule form's preview: the metric over the last 24 h or 7 d (hourly, from the catalogue) with
 * the moments the rule would have fired, found by replaying the same pure state machine the
 * evaluator runs, one observation per hourly value.
 */
import type { Tx } from "@/lib/db/prisma";
import { MAX_SERIES_LIMIT, queryMetric } from "@/lib/metrics/query";
import { type Condition, observe } from "./condition";
import { scopeQuery, type ScopeKind } from "./rule-shape";
import { initialSeriesState, type RulePolicy, step } from "./state-machine";

export const PREVIEW_RANGES = { "24h": 24, "7d": 168 } as const;
export type PreviewRange = keyof typeof PREVIEW_RANGES;

export type PreviewPoint = { t: string; value: number | null };
export type PreviewSeries = { key: string; label: string; points: PreviewPoint[]; firedAt: string[] };

/** Replays hourly values through the state machine; returns when it would have entered firing. */
export function wouldHaveFired(points: PreviewPoint[], condition: Condition, policy: RulePolicy): string[] {
  if (points.length === 0) return [];
  let state = initialSeriesState(new Date(points[0].t));
  const fired: string[] = [];
  let previous: number | null = null;
  for (const point of points) {
    const at = new Date(point.t);
    const observation = observe(condition, point.value, condition.kind === "percent_change" ? previous : null);
    // The preview ignores snoozes: it shows when the condition would have fired.
    const result = step(state, observation, { ...policy, snoozedUntil: null }, at);
    if (result.enteredFiring) fired.push(point.t);
    state = result.next;
    previous = point.value;
  }
  return fired;
}

export async function previewRule(
  tx: Tx,
  args: {
    workspace: { id: string; timezone: string };
    metric: string;
    scopeKind: ScopeKind;
    scopeValue: string | null;
    condition: Condition;
    policy: RulePolicy;
    range: PreviewRange;
    now?: Date;
  },
): Promise<PreviewSeries[]> {
  const now = args.now ?? new Date();
  const from = new Date(now.getTime() - PREVIEW_RANGES[args.range] * 3_600_000);
  const { filters, groupBy } = scopeQuery(args.scopeKind, args.scopeValue);
  const query = (granularity: "hour" | "day") =>
    queryMetric(tx, {
      workspace: args.workspace,
      metric: args.metric,
      from: from.toISOString(),
      to: now.toISOString(),
      granularity,
      groupBy,
      filters,
      limit: Math.min(5, MAX_SERIES_LIMIT),
    });
  let result;
  try {
    result = await query("hour");
  } catch {
    // Per-user splits exist as daily rollups only.
    result = await query("day");
  }
  return result.series.map((s) => {
    const points = s.points.map((p) => ({ t: p.t, value: p.v }));
    return { key: s.key, label: s.label, points, firedAt: wouldHaveFired(points, args.condition, args.policy) };
  });
}
