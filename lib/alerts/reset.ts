/**
 * Editing what a rule evaluates (metric, scope, condition, threshold, window) makes its series
 * states meaningless. Like Grafana, which on a rule update stops the rule's alert instances and
 * sends them to the Alertmanager as resolved, every alerting series is resolved here — history row
 * and a "resolved" notification per enabled channel (suppressed while snoozed, skipped when nothing
 * was ever sent for the incident) — by running the same state machine with a "missing" observation.
 * States are kept (as ok) rather than deleted, so incident and event sequence numbers go on
 * increasing and the next incident of a series cannot collide with a closed one's unique key.
 */
import { z } from "zod";
import type { Tx } from "@/lib/db/prisma";
import { Prisma } from "@/lib/generated/prisma/client";
import { describeCondition } from "./condition";
import { alertLink, buildPayload } from "./payload";
import { RULE_COLUMNS, ruleCondition, rulePolicy, ruleRowSchema } from "./rule-shape";
import { alertStateSchema, step } from "./state-machine";

const stateSchema = z.object({
  series_key: z.string(),
  series_label: z.string(),
  state: alertStateSchema,
  state_since: z.date(),
  last_notified_at: z.date().nullable(),
  incident_seq: z.number().int(),
  event_seq: z.number().int(),
  last_value: z.number().nullable(),
});

/** Resolves the rule's series as of `now` (call BEFORE writing the edited columns: payloads describe the old rule). */
export async function resolveRuleForEdit(tx: Tx, workspaceId: string, ruleId: string, now: Date): Promise<void> {
  const [rule] = z.array(ruleRowSchema).parse(
    await tx.$queryRaw`
      SELECT ${Prisma.raw(RULE_COLUMNS)} FROM analytics.alert_rules r JOIN public.workspaces w ON w.id = r.workspace_id
      WHERE r.workspace_id = ${workspaceId}::uuid AND r.id = ${ruleId}::uuid
      FOR UPDATE OF r`,
  );
  if (!rule) return;
  const states = z.array(stateSchema).parse(
    await tx.$queryRaw`
      SELECT series_key, series_label, state, state_since, last_notified_at, incident_seq, event_seq, last_value::float8
      FROM analytics.alert_series_state
      WHERE workspace_id = ${workspaceId}::uuid AND alert_rule_id = ${ruleId}::uuid AND state <> 'ok'`,
  );
  const channels = z.array(z.object({ id: z.string() })).parse(
    await tx.$queryRaw`
      SELECT id::text FROM analytics.alert_channels
      WHERE workspace_id = ${workspaceId}::uuid AND alert_rule_id = ${ruleId}::uuid AND is_enabled ORDER BY created_at, id`,
  );
  const condition = ruleCondition(rule);
  for (const s of states) {
    const result = step(
      {
        state: s.state,
        stateSince: s.state_since,
        lastNotifiedAt: s.last_notified_at,
        incidentSeq: s.incident_seq,
        eventSeq: s.event_seq,
      },
      { kind: "missing" },
      rulePolicy(rule),
      now,
    );
    await tx.$executeRaw`
      UPDATE analytics.alert_series_state SET state = ${result.next.state}, state_since = ${result.next.stateSince},
        last_notified_at = ${result.next.lastNotifiedAt}, incident_seq = ${result.next.incidentSeq},
        event_seq = ${result.next.eventSeq}, last_value = NULL, last_error = NULL
      WHERE workspace_id = ${workspaceId}::uuid AND alert_rule_id = ${ruleId}::uuid AND series_key = ${s.series_key}`;
    if (!result.transition) continue;
    const notification = result.notification;
    const [incident] = notification
      ? await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id::text FROM analytics.alert_incidents
          WHERE workspace_id = ${workspaceId}::uuid AND alert_rule_id = ${ruleId}::uuid
            AND series_key = ${s.series_key} AND incident_seq = ${notification.incidentSeq}`
      : [];
    const send = notification !== null && notification.suppressed === null && channels.length > 0;
    const historyId = crypto.randomUUID();
    await tx.$executeRaw`
      INSERT INTO analytics.alert_history (id, workspace_id, alert_rule_id, metric_value, threshold_value, notification_status,
        series_key, series_label, previous_state, state, incident_id, error_message, triggered_at)
      VALUES (${historyId}::uuid, ${workspaceId}::uuid, ${ruleId}::uuid, NULL, ${condition.threshold},
        ${send ? "pending" : notification && channels.length > 0 ? "suppressed" : "none"}, ${s.series_key}, ${s.series_label},
        ${result.transition.from}, ${result.transition.to}, ${incident?.id ?? null}::uuid,
        'Resolved because the rule''s condition was edited', ${now})`;
    if (!notification || !incident) continue;
    for (const channel of channels) {
      const payload = buildPayload({
        rule,
        conditionText: describeCondition(condition, rule.metric_type),
        event: notification.event,
        series: { key: s.series_key, label: s.series_label },
        state: result.next.state,
        previousState: result.transition.from,
        value: s.last_value,
        incidentId: incident.id,
        at: now,
        link: alertLink(rule.workspace_slug, rule.id, now),
      });
      await tx.$executeRaw`
        INSERT INTO analytics.alert_notifications (workspace_id, alert_rule_id, incident_id, alert_history_id,
          alert_channel_id, event, event_seq, status, suppressed_reason, payload, next_attempt_at)
        VALUES (${workspaceId}::uuid, ${ruleId}::uuid, ${incident.id}::uuid, ${historyId}::uuid, ${channel.id}::uuid,
          ${notification.event}, ${notification.eventSeq}, ${notification.suppressed === null ? "pending" : "suppressed"},
          ${notification.suppressed}, ${JSON.stringify(payload)}::jsonb, ${now})
        ON CONFLICT (workspace_id, incident_id, event_seq, alert_channel_id) DO NOTHING`;
    }
  }
}
