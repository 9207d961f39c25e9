/**
 * The evaluator: every minute, every active rule, every series. Runs on the owner connection (the
 * worker), in three steps per rule:
 *   1. claim — one UPDATE stamps `last_evaluated_at = tick` on a batch of due rules taken with
 *      FOR UPDATE SKIP LOCKED, so concurrent evaluators of the same minute split the rules between
 *      them and never evaluate one twice;
 *   2. observe — the metric catalogue computes the values (no lock held meanwhile);
 *   3. apply — in one transaction that first locks the rule row (serialising any evaluator that
 *      still reaches the same rule, e.g. a slow previous minute), re-read the series states, run the
 *      pure state machine, and write states, history, incidents and notifications. Notifications
 *      are inserted ON CONFLICT DO NOTHING on (incident, event_seq, channel): even two evaluators
 *      that computed the same transition from the same state produce one notification.
 * Delivery happens afterwards (deliver.ts), from the notifications table.
 */
import { z } from "zod";
import { Prisma, type PrismaClient } from "@/lib/generated/prisma/client";
import { describeCondition, type Condition } from "./condition";
import {
  fetchRuleSeries,
  lookbackMs,
  metricQueryKey,
  observeFromSeries,
  scopeLabel,
  SINGLE_SERIES_KEY,
  type FetchedSeries,
  type SeriesObservation,
} from "./metric-source";
import { alertLink, buildPayload } from "./payload";
import { RULE_COLUMNS, ruleCondition, rulePolicy, ruleRowSchema, type RuleRow } from "./rule-shape";
import {
  alertStateSchema,
  initialSeriesState,
  isAlertingState,
  type Observation,
  type RulePolicy,
  type SeriesState,
  step,
  type StepResult,
} from "./state-machine";

export type EvaluateOptions = {
  /** Evaluation time; truncated to the minute (the tick). */
  now?: Date;
  /** Rules claimed per round trip. */
  batchSize?: number;
  /** Rules observed and applied at once (each needs a connection). */
  concurrency?: number;
};

export type EvaluationSummary = {
  tick: Date;
  rulesEvaluated: number;
  transitions: number;
  notificationsCreated: number;
  errors: number;
};

export function tickOf(now: Date): Date {
  return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
}

async function claimRules(db: PrismaClient, tick: Date, batchSize: number): Promise<RuleRow[]> {
  const rows = await db.$queryRaw`
    WITH due AS (
      SELECT workspace_id, id FROM analytics.alert_rules
      WHERE is_active AND (last_evaluated_at IS NULL OR last_evaluated_at < ${tick})
      ORDER BY workspace_id, id
      LIMIT ${batchSize}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE analytics.alert_rules r SET last_evaluated_at = ${tick}
      FROM due WHERE r.workspace_id = due.workspace_id AND r.id = due.id
      RETURNING r.*
    )
    SELECT ${Prisma.raw(RULE_COLUMNS)}
    FROM claimed r JOIN public.workspaces w ON w.id = r.workspace_id`;
  return z.array(ruleRowSchema).parse(rows);
}

const stateRowSchema = z.object({
  series_key: z.string(),
  series_label: z.string(),
  state: alertStateSchema,
  state_since: z.date(),
  last_notified_at: z.date().nullable(),
  incident_seq: z.number().int(),
  event_seq: z.number().int(),
});

const channelRowSchema = z.object({ id: z.string(), kind: z.string() });

type SeriesStep = { key: string; label: string; observation: Observation; result: StepResult };

function observationValue(observation: Observation): number | null {
  return observation.kind === "value" ? observation.value : null;
}

type StateRow = z.infer<typeof stateRowSchema>;
type Observed = { series: SeriesObservation[]; observeMissing: (key: string) => Observation };

/** Runs the state machine for every series: the observed ones and the known ones not observed. */
function planSteps(states: StateRow[], observed: Observed, policy: RulePolicy, tick: Date): SeriesStep[] {
  const known = new Map(states.map((s) => [s.series_key, s]));
  const inputs = new Map(observed.series.map((s) => [s.key, s]));
  for (const state of states) {
    if (!inputs.has(state.series_key)) {
      inputs.set(state.series_key, {
        key: state.series_key,
        label: state.series_label,
        observation: observed.observeMissing(state.series_key),
      });
    }
  }
  const steps: SeriesStep[] = [];
  for (const input of inputs.values()) {
    const row = known.get(input.key);
    const current: SeriesState = row
      ? {
          state: row.state,
          stateSince: row.state_since,
          lastNotifiedAt: row.last_notified_at,
          incidentSeq: row.incident_seq,
          eventSeq: row.event_seq,
        }
      : initialSeriesState(tick);
    steps.push({ ...input, result: step(current, input.observation, policy, tick) });
  }
  return steps;
}

/** Reads the states of many rules at once (no lock): the cheap first look of every tick. */
async function snapshotStates(db: PrismaClient, rules: RuleRow[]): Promise<Map<string, StateRow[]>> {
  const rows = z.array(stateRowSchema.extend({ alert_rule_id: z.string() })).parse(
    await db.$queryRaw`
      SELECT alert_rule_id::text, series_key, series_label, state, state_since, last_notified_at, incident_seq, event_seq
      FROM analytics.alert_series_state
      WHERE (workspace_id, alert_rule_id) IN (
        SELECT * FROM unnest(${rules.map((r) => r.workspace_id)}::uuid[], ${rules.map((r) => r.id)}::uuid[]))`,
  );
  const byRule = new Map<string, StateRow[]>();
  for (const row of rows) {
    const list = byRule.get(row.alert_rule_id) ?? [];
    list.push(row);
    byRule.set(row.alert_rule_id, list);
  }
  return byRule;
}

/** Applies one rule's observations. Returns what it wrote. Exported for the concurrency tests. */
export async function applyObservations(
  db: PrismaClient,
  rule: RuleRow,
  condition: Condition,
  observed: Observed,
  tick: Date,
): Promise<{ transitions: number; notificationsCreated: number }> {
  return db.$transaction(async (tx) => {
    // The rule row lock serialises every writer of this rule's states.
    const locked = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id::text FROM analytics.alert_rules
      WHERE workspace_id = ${rule.workspace_id}::uuid AND id = ${rule.id}::uuid AND is_active
      FOR UPDATE`;
    if (locked.length === 0) return { transitions: 0, notificationsCreated: 0 };
    const states = z.array(stateRowSchema).parse(
      await tx.$queryRaw`
        SELECT series_key, series_label, state, state_since, last_notified_at, incident_seq, event_seq
        FROM analytics.alert_series_state
        WHERE workspace_id = ${rule.workspace_id}::uuid AND alert_rule_id = ${rule.id}::uuid`,
    );
    const known = new Map(states.map((s) => [s.series_key, s]));
    const steps = planSteps(states, observed, rulePolicy(rule), tick);

    const channels = z.array(channelRowSchema).parse(
      await tx.$queryRaw`
          SELECT id::text, kind FROM analytics.alert_channels
          WHERE workspace_id = ${rule.workspace_id}::uuid AND alert_rule_id = ${rule.id}::uuid AND is_enabled
          ORDER BY created_at, id`,
    );

    let transitions = 0;
    let notificationsCreated = 0;
    for (const s of steps) {
      const { result } = s;
      const value = observationValue(s.observation);
      const errorMessage = s.observation.kind === "error" ? s.observation.message : null;
      // A series seen for the first time and ok needs no row until something happens to it.
      const changed = result.transition !== null || result.notification !== null || known.has(s.key);
      if (changed) {
        await tx.$executeRaw`
          INSERT INTO analytics.alert_series_state AS st (workspace_id, alert_rule_id, series_key, series_label, state,
            state_since, last_notified_at, incident_seq, event_seq, last_value, last_error, last_evaluated_at)
          VALUES (${rule.workspace_id}::uuid, ${rule.id}::uuid, ${s.key}, ${s.label}, ${result.next.state},
            ${result.next.stateSince}, ${result.next.lastNotifiedAt}, ${result.next.incidentSeq}, ${result.next.eventSeq},
            ${value}, ${errorMessage}, ${tick})
          ON CONFLICT (workspace_id, alert_rule_id, series_key) DO UPDATE SET
            series_label = EXCLUDED.series_label, state = EXCLUDED.state, state_since = EXCLUDED.state_since,
            last_notified_at = EXCLUDED.last_notified_at, incident_seq = EXCLUDED.incident_seq,
            event_seq = EXCLUDED.event_seq, last_value = EXCLUDED.last_value, last_error = EXCLUDED.last_error,
            last_evaluated_at = EXCLUDED.last_evaluated_at`;
      }
      if (!result.transition && !result.notification) continue;

      // The incident this step belongs to: opened now (entry into an alerting state) or the one
      // being repeated / resolved.
      let incidentId: string | null = null;
      const incidentSeq = result.notification?.incidentSeq ?? null;
      if (result.transition && isAlertingState(result.transition.to)) {
        const opened = await tx.$queryRaw<Array<{ id: string }>>`
          INSERT INTO analytics.alert_incidents (workspace_id, alert_rule_id, series_key, incident_seq, state, opened_at)
          VALUES (${rule.workspace_id}::uuid, ${rule.id}::uuid, ${s.key}, ${result.next.incidentSeq}, ${result.next.state}, ${tick})
          ON CONFLICT (workspace_id, alert_rule_id, series_key, incident_seq) DO NOTHING
          RETURNING id::text`;
        incidentId = opened[0]?.id ?? null;
      }
      if (incidentId === null && incidentSeq !== null) {
        const existing = await tx.$queryRaw<Array<{ id: string }>>`
          SELECT id::text FROM analytics.alert_incidents
          WHERE workspace_id = ${rule.workspace_id}::uuid AND alert_rule_id = ${rule.id}::uuid
            AND series_key = ${s.key} AND incident_seq = ${incidentSeq}`;
        incidentId = existing[0]?.id ?? null;
      }
      // Leaving an alerting state closes its incident.
      if (result.transition && isAlertingState(result.transition.from)) {
        const closingSeq = known.get(s.key)?.incident_seq ?? -1;
        await tx.$executeRaw`
          UPDATE analytics.alert_incidents SET resolved_at = ${tick}
          WHERE workspace_id = ${rule.workspace_id}::uuid AND alert_rule_id = ${rule.id}::uuid
            AND series_key = ${s.key} AND incident_seq = ${closingSeq} AND resolved_at IS NULL`;
      }

      const notification = result.notification;
      const deliverable = notification !== null && notification.suppressed === null && channels.length > 0;
      const historyStatus =
        notification === null ? "none" : notification.suppressed ? "suppressed" : channels.length ? "pending" : "none";
      let historyId: string | null = null;
      if (result.transition) {
        transitions += 1;
        const history = await tx.$queryRaw<Array<{ id: string }>>`
          INSERT INTO analytics.alert_history (workspace_id, alert_rule_id, triggered_at, metric_value, threshold_value,
            notification_status, series_key, series_label, previous_state, state, incident_id, error_message)
          VALUES (${rule.workspace_id}::uuid, ${rule.id}::uuid, ${tick}, ${value === null ? null : roundForHistory(value)},
            ${condition.threshold}, ${historyStatus}, ${s.key}, ${s.label}, ${result.transition.from}, ${result.transition.to},
            ${incidentId}::uuid, ${errorMessage})
          RETURNING id::text`;
        historyId = history[0].id;
      }
      if (notification && incidentId && channels.length > 0) {
        for (const channel of channels) {
          const payload = buildPayload({
            rule,
            conditionText: describeCondition(condition, rule.metric_type),
            event: notification.event,
            series: { key: s.key, label: s.label },
            state: result.next.state,
            previousState: result.transition?.from ?? null,
            value,
            incidentId,
            at: tick,
            link: alertLink(rule.workspace_slug, rule.id, tick),
          });
          const inserted = await tx.$executeRaw`
            INSERT INTO analytics.alert_notifications (workspace_id, alert_rule_id, incident_id, alert_history_id,
              alert_channel_id, event, event_seq, status, suppressed_reason, payload, next_attempt_at)
            VALUES (${rule.workspace_id}::uuid, ${rule.id}::uuid, ${incidentId}::uuid, ${historyId}::uuid,
              ${channel.id}::uuid, ${notification.event}, ${notification.eventSeq},
              ${deliverable ? "pending" : "suppressed"}, ${deliverable ? null : notification.suppressed},
              ${JSON.stringify(payload)}::jsonb, ${tick})
            ON CONFLICT (workspace_id, incident_id, event_seq, alert_channel_id) DO NOTHING`;
          if (deliverable) notificationsCreated += inserted;
        }
      }
    }

    const entered = steps.filter((s) => s.result.enteredFiring).length;
    if (entered > 0) {
      // trigger_count / last_triggered_at move on entry to firing only (never on repeats).
      await tx.$executeRaw`
        UPDATE analytics.alert_rules SET trigger_count = trigger_count + ${entered}, last_triggered_at = ${tick}
        WHERE workspace_id = ${rule.workspace_id}::uuid AND id = ${rule.id}::uuid`;
    }
    return { transitions, notificationsCreated };
  });
}

// alert_history keeps 004's numeric(16,4): percent changes and costs are rounded to 4 places.
function roundForHistory(value: number): number {
  const clamped = Math.max(Math.min(value, 999_999_999_999), -999_999_999_999);
  return Math.round(clamped * 10_000) / 10_000;
}

type SeriesFetcher = (rule: RuleRow) => Promise<FetchedSeries>;

/**
 * Per claimed batch: one catalogue query per (workspace, metric, scope), covering the longest
 * lookback any rule of the batch needs for it. Rules that differ only in window, threshold or
 * policies (warning/critical pairs, per-team copies) then cost one query between them.
 */
function batchFetcher(db: PrismaClient, rules: RuleRow[], tick: Date): SeriesFetcher {
  const lookbacks = new Map<string, number>();
  for (const rule of rules) {
    const key = metricQueryKey(rule);
    lookbacks.set(key, Math.max(lookbacks.get(key) ?? 0, lookbackMs(rule)));
  }
  const pending = new Map<string, Promise<FetchedSeries>>();
  return (rule) => {
    const key = metricQueryKey(rule);
    let fetched = pending.get(key);
    if (!fetched) {
      fetched = fetchRuleSeries(db, rule, tick, lookbacks.get(key) ?? lookbackMs(rule));
      pending.set(key, fetched);
    }
    return fetched;
  };
}

async function evaluateClaimedRule(
  db: PrismaClient,
  rule: RuleRow,
  snapshot: StateRow[],
  tick: Date,
  fetch: SeriesFetcher,
) {
  const condition = ruleCondition(rule);
  let observed: Observed;
  let failed = false;
  try {
    observed = observeFromSeries(rule, condition, tick, await fetch(rule));
  } catch (error) {
    failed = true;
    const message = error instanceof Error ? error.message : String(error);
    const observation: Observation = { kind: "error", message: message.slice(0, 1000) };
    // An error applies to every series the rule has; a rule with none yet records it on its
    // rule-wide series.
    observed = {
      series: snapshot.length === 0 ? [{ key: SINGLE_SERIES_KEY, label: scopeLabel(rule), observation }] : [],
      observeMissing: () => observation,
    };
  }
  // Most ticks change nothing: only a rule whose first look (unlocked snapshot) shows a transition
  // or a notification takes the locked write path, which decides again on fresh state.
  const planned = planSteps(snapshot, observed, rulePolicy(rule), tick);
  if (!planned.some((s) => s.result.transition !== null || s.result.notification !== null)) {
    return { transitions: 0, notificationsCreated: 0, failed };
  }
  const applied = await applyObservations(db, rule, condition, observed, tick);
  return { ...applied, failed };
}

/** Evaluates every due rule once for the current minute. Safe to run in several processes at once. */
export async function evaluateAlerts(db: PrismaClient, options: EvaluateOptions = {}): Promise<EvaluationSummary> {
  const tick = tickOf(options.now ?? new Date());
  const batchSize = options.batchSize ?? 250;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const summary: EvaluationSummary = { tick, rulesEvaluated: 0, transitions: 0, notificationsCreated: 0, errors: 0 };
  for (;;) {
    const rules = await claimRules(db, tick, batchSize);
    if (rules.length === 0) break;
    const snapshots = await snapshotStates(db, rules);
    const fetch = batchFetcher(db, rules, tick);
    let next = 0;
    const worker = async () => {
      while (next < rules.length) {
        const rule = rules[next++];
        const result = await evaluateClaimedRule(db, rule, snapshots.get(rule.id) ?? [], tick, fetch);
        summary.rulesEvaluated += 1;
        summary.transitions += result.transitions;
        summary.notificationsCreated += result.notificationsCreated;
        if (result.failed) summary.errors += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, rules.length) }, worker));
  }
  return summary;
}
