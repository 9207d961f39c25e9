/**
 * A rule as the evaluator and the UI read it: the alert_rules row (0003 + 0050 columns) with its
 * workspace, parsed once by zod so every consumer gets the same typed shape.
 */
import { z } from "zod";
import type { GroupBy, MetricFilters } from "@/lib/metrics/definitions";
import { comparatorSchema, conditionKindSchema, type Condition } from "./condition";
import { errorPolicySchema, noDataPolicySchema, type RulePolicy } from "./state-machine";

export const SCOPE_KINDS = ["workspace", "agent", "model", "user", "each_agent", "each_user"] as const;
export const scopeKindSchema = z.enum(SCOPE_KINDS);
export type ScopeKind = z.infer<typeof scopeKindSchema>;

const numeric = z.union([z.number(), z.string()]).transform((v) => Number(v));

export const ruleRowSchema = z.object({
  id: z.string(),
  workspace_id: z.string(),
  workspace_slug: z.string(),
  workspace_timezone: z.string(),
  name: z.string(),
  metric_type: z.string(),
  condition: comparatorSchema,
  condition_kind: conditionKindSchema,
  threshold_value: numeric,
  evaluation_window_minutes: z.number().int(),
  scope_kind: scopeKindSchema,
  scope_value: z.string().nullable(),
  pending_seconds: z.number().int(),
  repeat_interval_seconds: z.number().int().nullable(),
  no_data_policy: noDataPolicySchema,
  error_policy: errorPolicySchema,
  snoozed_until: z.date().nullable(),
});
export type RuleRow = z.infer<typeof ruleRowSchema>;

/** The SELECT list that produces a RuleRow from `analytics.alert_rules r JOIN public.workspaces w`. */
export const RULE_COLUMNS = `r.id::text, r.workspace_id::text, w.slug AS workspace_slug, w.timezone AS workspace_timezone,
  r.name, r.metric_type, r.condition, r.condition_kind, r.threshold_value::float8 AS threshold_value,
  r.evaluation_window_minutes, r.scope_kind, r.scope_value, r.pending_seconds, r.repeat_interval_seconds,
  r.no_data_policy, r.error_policy, r.snoozed_until`;

export function ruleCondition(rule: RuleRow): Condition {
  return { comparator: rule.condition, kind: rule.condition_kind, threshold: rule.threshold_value };
}

export function rulePolicy(rule: RuleRow): RulePolicy {
  return {
    pendingSeconds: rule.pending_seconds,
    repeatIntervalSeconds: rule.repeat_interval_seconds,
    noDataPolicy: rule.no_data_policy,
    errorPolicy: rule.error_policy,
    snoozedUntil: rule.snoozed_until,
  };
}

/** How a scope maps onto the metric catalogue's filters and group-bys. */
export function scopeQuery(
  scopeKind: ScopeKind,
  scopeValue: string | null,
): { filters: MetricFilters; groupBy: GroupBy | null } {
  switch (scopeKind) {
    case "workspace":
      return { filters: {}, groupBy: null };
    case "agent":
      return { filters: { agentId: scopeValue ?? "" }, groupBy: null };
    case "model":
      return { filters: { model: scopeValue ?? "" }, groupBy: null };
    case "user":
      return { filters: { userId: scopeValue ?? "" }, groupBy: null };
    case "each_agent":
      return { filters: {}, groupBy: "agent" };
    case "each_user":
      return { filters: {}, groupBy: "user" };
  }
}
