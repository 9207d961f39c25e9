/**
 * Reads for the alert pages, inside the caller's RLS transaction. Summaries are SQL aggregates.
 */
import { z } from "zod";
import type { Tx } from "@/lib/db/prisma";
import { alertStateSchema } from "./state-machine";

const ruleListRowSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  is_active: z.boolean(),
  metric_type: z.string(),
  condition: z.string(),
  condition_kind: z.string(),
  threshold_value: z.number(),
  evaluation_window_minutes: z.number(),
  scope_kind: z.string(),
  scope_value: z.string().nullable(),
  snoozed_until: z.date().nullable(),
  is_snoozed: z.boolean(),
  trigger_count: z.number(),
  last_triggered_at: z.date().nullable(),
  channel_kinds: z.array(z.string()),
  firing: z.number(),
  pending: z.number(),
  no_data: z.number(),
  errors: z.number(),
});
export type RuleListRow = z.infer<typeof ruleListRowSchema>;

export async function listRules(tx: Tx, workspaceId: string): Promise<RuleListRow[]> {
  const rows = await tx.$queryRaw`
    SELECT r.id::text, r.name, r.description, r.is_active, r.metric_type, r.condition, r.condition_kind,
      r.threshold_value::float8 AS threshold_value, r.evaluation_window_minutes, r.scope_kind, r.scope_value,
      r.snoozed_until, coalesce(r.snoozed_until > now(), false) AS is_snoozed, r.trigger_count, r.last_triggered_at,
      coalesce((SELECT array_agg(DISTINCT c.kind ORDER BY c.kind) FROM analytics.alert_channels c
                WHERE c.workspace_id = r.workspace_id AND c.alert_rule_id = r.id AND c.is_enabled), '{}') AS channel_kinds,
      coalesce(s.firing, 0)::int AS firing, coalesce(s.pending, 0)::int AS pending,
      coalesce(s.no_data, 0)::int AS no_data, coalesce(s.errors, 0)::int AS errors
    FROM analytics.alert_rules r
    LEFT JOIN (
      SELECT alert_rule_id,
        count(*) FILTER (WHERE state = 'firing') AS firing, count(*) FILTER (WHERE state = 'pending') AS pending,
        count(*) FILTER (WHERE state = 'no_data') AS no_data, count(*) FILTER (WHERE state = 'error') AS errors
      FROM analytics.alert_series_state WHERE workspace_id = ${workspaceId}::uuid GROUP BY alert_rule_id
    ) s ON s.alert_rule_id = r.id
    WHERE r.workspace_id = ${workspaceId}::uuid
    ORDER BY r.name, r.id`;
  return z.array(ruleListRowSchema).parse(rows);
}

export async function getRuleForEdit(tx: Tx, workspaceId: string, ruleId: string) {
  const rule = await tx.alertRule.findUnique({ where: { workspaceId_id: { workspaceId, id: ruleId } } });
  if (!rule) return null;
  const [{ snoozed }] = await tx.$queryRaw<Array<{ snoozed: boolean }>>`
    SELECT coalesce(snoozed_until > now(), false) AS snoozed FROM analytics.alert_rules
    WHERE workspace_id = ${workspaceId}::uuid AND id = ${ruleId}::uuid`;
  const channels = await tx.alertChannel.findMany({
    where: { workspaceId, alertRuleId: ruleId },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
  return { rule, channels, snoozed };
}

export const HISTORY_PAGE_SIZE = 100;

export const historyFilterSchema = z.object({
  rule: z.uuid().optional().catch(undefined),
  state: alertStateSchema.optional().catch(undefined),
  from: z.iso.date().optional().catch(undefined),
  to: z.iso.date().optional().catch(undefined),
});
export type HistoryFilter = z.infer<typeof historyFilterSchema>;

const historyRowSchema = z.object({
  id: z.string(),
  alert_rule_id: z.string(),
  rule_name: z.string(),
  metric_type: z.string(),
  triggered_at: z.date(),
  metric_value: z.number().nullable(),
  threshold_value: z.number().nullable(),
  series_key: z.string().nullable(),
  series_label: z.string().nullable(),
  previous_state: z.string().nullable(),
  state: z.string().nullable(),
  notification_status: z.string(),
  notifications_sent: z.array(
    z.object({ kind: z.string(), status: z.string(), error: z.string().nullable().optional() }),
  ),
  error_message: z.string().nullable(),
  acknowledged_at: z.date().nullable(),
  acknowledged_by_email: z.string().nullable(),
  notes: z.string().nullable(),
});
export type HistoryRow = z.infer<typeof historyRowSchema>;

/** Newest first; `from`/`to` are whole days in the workspace's timezone. */
export async function listHistory(
  tx: Tx,
  workspace: { id: string; timezone: string },
  filter: HistoryFilter,
): Promise<HistoryRow[]> {
  const rows = await tx.$queryRaw`
    SELECT h.id::text, h.alert_rule_id::text, r.name AS rule_name, r.metric_type, h.triggered_at,
      h.metric_value::float8 AS metric_value, h.threshold_value::float8 AS threshold_value, h.series_key, h.series_label,
      h.previous_state, h.state, h.notification_status, h.notifications_sent, h.error_message,
      h.acknowledged_at, a.email AS acknowledged_by_email, h.notes
    FROM analytics.alert_history h
    JOIN analytics.alert_rules r ON r.workspace_id = h.workspace_id AND r.id = h.alert_rule_id
    LEFT JOIN public.accounts a ON a.id = h.acknowledged_by
    WHERE h.workspace_id = ${workspace.id}::uuid
      AND (${filter.rule ?? null}::uuid IS NULL OR h.alert_rule_id = ${filter.rule ?? null}::uuid)
      AND (${filter.state ?? null}::text IS NULL OR h.state = ${filter.state ?? null}::text)
      AND (${filter.from ?? null}::date IS NULL OR h.triggered_at >= (${filter.from ?? null}::date::timestamp AT TIME ZONE ${workspace.timezone}))
      AND (${filter.to ?? null}::date IS NULL OR h.triggered_at < ((${filter.to ?? null}::date + 1)::timestamp AT TIME ZONE ${workspace.timezone}))
    ORDER BY h.triggered_at DESC, h.id
    LIMIT ${HISTORY_PAGE_SIZE}`;
  return z.array(historyRowSchema).parse(rows);
}

const attemptRowSchema = z.object({
  attempted_at: z.date(),
  kind: z.string(),
  target: z.string(),
  is_test: z.boolean(),
  attempt: z.number(),
  http_status: z.number().nullable(),
  outcome: z.string(),
  error: z.string().nullable(),
  duration_ms: z.number(),
});
export type AttemptRow = z.infer<typeof attemptRowSchema>;

export async function recentAttempts(tx: Tx, workspaceId: string, ruleId: string): Promise<AttemptRow[]> {
  const rows = await tx.$queryRaw`
    SELECT d.attempted_at, c.kind, coalesce(c.url, array_to_string(c.email_recipients, ', ')) AS target, d.is_test,
      d.attempt, d.http_status, d.outcome, d.error, d.duration_ms
    FROM analytics.alert_delivery_attempts d
    JOIN analytics.alert_channels c ON c.workspace_id = d.workspace_id AND c.id = d.alert_channel_id
    WHERE d.workspace_id = ${workspaceId}::uuid AND d.alert_rule_id = ${ruleId}::uuid
    ORDER BY d.attempted_at DESC
    LIMIT 20`;
  return z.array(attemptRowSchema).parse(rows);
}

const optionSchema = z.object({ id: z.string(), label: z.string() });

/** Agents, tracked users and models to scope a rule to (first 500 of each, by name). */
export async function scopeOptions(tx: Tx, workspaceId: string) {
  // One transaction, one connection: sequential on purpose.
  const agents = await tx.$queryRaw`SELECT id::text, name AS label FROM public.agents
    WHERE workspace_id = ${workspaceId}::uuid ORDER BY name, id LIMIT 500`;
  const users = await tx.$queryRaw`SELECT id::text, coalesce(name, email, external_id) AS label FROM public.users
    WHERE workspace_id = ${workspaceId}::uuid ORDER BY 2, id LIMIT 500`;
  const models = await tx.$queryRaw`SELECT DISTINCT model AS id, model AS label FROM analytics.llm_usage_hourly
    WHERE workspace_id = ${workspaceId}::uuid AND model IS NOT NULL ORDER BY model LIMIT 500`;
  return {
    agents: z.array(optionSchema).parse(agents),
    users: z.array(optionSchema).parse(users),
    models: z
      .array(optionSchema)
      .parse(models)
      .map((m) => m.id),
  };
}
