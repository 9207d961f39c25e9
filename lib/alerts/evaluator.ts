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
import { MAX_WINDOW_SERIES } from "@/lib/metrics/window";
import {
  fetchRuleWindows,
  metricQueryKey,
  observeFromWindow,
  scopeLabel,
  SINGLE_SERIES_KEY,
  type FetchedWindow,
  type SeriesObservation,
} from "./metric-source";
import { alertLink, buildPayload } from "./payload";
import { RULE_COLUMNS, ruleCondition, rulePolicy, ruleRowSchema, type RuleRow } from "./rule-shape";
import {
  alertStateSchema,
  initialSeriesState,
  isAlertingState,
  leavesInitialUnchanged,
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
type Observed = { series: SeriesObservation[]; observeMissing: (key: string) => Observation; truncated?: boolean };

/**
 * Runs the state machine for every series that can change: the known ones (observed or not) and the
 * new ones whose observation moves them out of the initial ok. A new series that stays ok would get
 * no row, history or notification (see applyObservations), so it is skipped without a step — an
 * each-user rule observes every user with data each minute (2,000 per workspace at medium scale).
 */
function planSteps(states: StateRow[], observed: Observed, policy: RulePolicy, tick: Date): SeriesStep[] {
  const known = new Map(states.map((s) => [s.series_key, s]));
  const seen = new Set<string>();
  const steps: SeriesStep[] = [];
  const plan = (input: SeriesObservation, row: StateRow | undefined) => {
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
  };
  // Series keys are unique within an answer (the catalogue groups by them).
  for (const input of observed.series) {
    const row = known.get(input.key);
    if (row) seen.add(input.key);
    if (row || !leavesInitialUnchanged(input.observation, policy)) plan(input, row);
  }
  for (const state of states) {
    if (seen.has(state.series_key)) continue;
    const input = {
      key: state.series_key,
      label: state.series_label,
      observation: observed.observeMissing(state.series_key),
    };
    plan(input, state);
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

export type PendingApply = { rule: RuleRow; condition: Condition; observed: Observed };

/**
 * Applies the observations of the rules whose first look showed a change, all in one transaction:
 * lock the rule rows (in id order, so concurrent evaluators cannot deadlock), re-read their states,
 * re-run the state machine on them, then write states, incidents, history, notifications and
 * trigger counts with one set-based statement each. Exported for the tests.
 */
export async function applyObservations(
  db: PrismaClient,
  items: PendingApply[],
  tick: Date,
): Promise<{ transitions: number; notificationsCreated: number }> {
  if (items.length === 0) return { transitions: 0, notificationsCreated: 0 };
  return db.$transaction(
    async (tx) => {
      const workspaceIds = items.map((i) => i.rule.workspace_id);
      const ruleIds = items.map((i) => i.rule.id);
      const locked = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id::text FROM analytics.alert_rules
        WHERE (workspace_id, id) IN (SELECT * FROM unnest(${workspaceIds}::uuid[], ${ruleIds}::uuid[])) AND is_active
        ORDER BY id
        FOR UPDATE`;
      const active = new Set(locked.map((r) => r.id));
      const live = items.filter((i) => active.has(i.rule.id));
      if (live.length === 0) return { transitions: 0, notificationsCreated: 0 };

      const stateRows = z.array(stateRowSchema.extend({ alert_rule_id: z.string() })).parse(
        await tx.$queryRaw`
          SELECT alert_rule_id::text, series_key, series_label, state, state_since, last_notified_at, incident_seq, event_seq
          FROM analytics.alert_series_state
          WHERE (workspace_id, alert_rule_id) IN (SELECT * FROM unnest(${workspaceIds}::uuid[], ${ruleIds}::uuid[]))`,
      );
      const channelRows = z.array(channelRowSchema.extend({ alert_rule_id: z.string() })).parse(
        await tx.$queryRaw`
          SELECT alert_rule_id::text, id::text, kind FROM analytics.alert_channels
          WHERE (workspace_id, alert_rule_id) IN (SELECT * FROM unnest(${workspaceIds}::uuid[], ${ruleIds}::uuid[])) AND is_enabled
          ORDER BY created_at, id`,
      );
      const group = <T extends { alert_rule_id: string }>(rows: T[]) => {
        const map = new Map<string, T[]>();
        for (const row of rows) map.set(row.alert_rule_id, [...(map.get(row.alert_rule_id) ?? []), row]);
        return map;
      };
      const statesByRule = group(stateRows);
      const channelsByRule = group(channelRows);

      // Columns of the set-based writes below.
      const st = {
        ws: [] as string[],
        rule: [] as string[],
        key: [] as string[],
        label: [] as string[],
        state: [] as string[],
        since: [] as Date[],
        notified: [] as Array<Date | null>,
        inc: [] as number[],
        ev: [] as number[],
        value: [] as Array<number | null>,
        error: [] as Array<string | null>,
      };
      const opened = {
        ws: [] as string[],
        rule: [] as string[],
        key: [] as string[],
        seq: [] as number[],
        state: [] as string[],
      };
      const closed = { ws: [] as string[], rule: [] as string[], key: [] as string[], seq: [] as number[] };
      type Planned = {
        item: PendingApply;
        s: SeriesStep;
        value: number | null;
        error: string | null;
        historyId: string | null;
      };
      const planned: Planned[] = [];
      const triggered = new Map<string, { ws: string; count: number }>();

      for (const item of live) {
        const states = statesByRule.get(item.rule.id) ?? [];
        const known = new Set(states.map((x) => x.series_key));
        for (const s of planSteps(states, item.observed, rulePolicy(item.rule), tick)) {
          const { result } = s;
          const value = observationValue(s.observation);
          const error = s.observation.kind === "error" ? s.observation.message : null;
          // A series seen for the first time and ok needs no row until something happens to it.
          if (result.transition !== null || result.notification !== null || known.has(s.key)) {
            st.ws.push(item.rule.workspace_id);
            st.rule.push(item.rule.id);
            st.key.push(s.key);
            st.label.push(s.label);
            st.state.push(result.next.state);
            st.since.push(result.next.stateSince);
            st.notified.push(result.next.lastNotifiedAt);
            st.inc.push(result.next.incidentSeq);
            st.ev.push(result.next.eventSeq);
            st.value.push(value);
            st.error.push(error);
          }
          if (!result.transition && !result.notification) continue;
          if (result.transition && isAlertingState(result.transition.to)) {
            opened.ws.push(item.rule.workspace_id);
            opened.rule.push(item.rule.id);
            opened.key.push(s.key);
            opened.seq.push(result.next.incidentSeq);
            opened.state.push(result.next.state);
          }
          if (result.transition && isAlertingState(result.transition.from)) {
            closed.ws.push(item.rule.workspace_id);
            closed.rule.push(item.rule.id);
            closed.key.push(s.key);
            closed.seq.push(states.find((x) => x.series_key === s.key)?.incident_seq ?? -1);
          }
          if (result.enteredFiring) {
            const t = triggered.get(item.rule.id) ?? { ws: item.rule.workspace_id, count: 0 };
            t.count += 1;
            triggered.set(item.rule.id, t);
          }
          planned.push({ item, s, value, error, historyId: result.transition ? crypto.randomUUID() : null });
        }
      }

      if (st.ws.length > 0) {
        await tx.$executeRaw`
          INSERT INTO analytics.alert_series_state (workspace_id, alert_rule_id, series_key, series_label, state,
            state_since, last_notified_at, incident_seq, event_seq, last_value, last_error, last_evaluated_at)
          SELECT u.*, ${tick}::timestamptz FROM unnest(${st.ws}::uuid[], ${st.rule}::uuid[], ${st.key}::text[], ${st.label}::text[],
            ${st.state}::text[], ${st.since}::timestamptz[], ${st.notified}::timestamptz[], ${st.inc}::int[], ${st.ev}::int[],
            ${st.value}::numeric[], ${st.error}::text[]) AS u
          ON CONFLICT (workspace_id, alert_rule_id, series_key) DO UPDATE SET
            series_label = EXCLUDED.series_label, state = EXCLUDED.state, state_since = EXCLUDED.state_since,
            last_notified_at = EXCLUDED.last_notified_at, incident_seq = EXCLUDED.incident_seq,
            event_seq = EXCLUDED.event_seq, last_value = EXCLUDED.last_value, last_error = EXCLUDED.last_error,
            last_evaluated_at = EXCLUDED.last_evaluated_at`;
      }
      if (closed.ws.length > 0) {
        await tx.$executeRaw`
          UPDATE analytics.alert_incidents i SET resolved_at = ${tick}
          FROM unnest(${closed.ws}::uuid[], ${closed.rule}::uuid[], ${closed.key}::text[], ${closed.seq}::int[]) AS c(ws, rule, key, seq)
          WHERE i.workspace_id = c.ws AND i.alert_rule_id = c.rule AND i.series_key = c.key AND i.incident_seq = c.seq
            AND i.resolved_at IS NULL`;
      }
      if (opened.ws.length > 0) {
        // ON CONFLICT: an evaluator that computed the same transition already opened it.
        await tx.$executeRaw`
          INSERT INTO analytics.alert_incidents (workspace_id, alert_rule_id, series_key, incident_seq, state, opened_at)
          SELECT u.*, ${tick}::timestamptz
          FROM unnest(${opened.ws}::uuid[], ${opened.rule}::uuid[], ${opened.key}::text[], ${opened.seq}::int[], ${opened.state}::text[]) AS u
          ON CONFLICT (workspace_id, alert_rule_id, series_key, incident_seq) DO NOTHING`;
      }
      // The incident of every planned notification/transition (opened now or earlier), by key.
      const wanted = planned.filter(
        (p) => p.s.result.notification !== null || (p.s.result.transition && isAlertingState(p.s.result.transition.to)),
      );
      const incidentIds = new Map<string, string>();
      if (wanted.length > 0) {
        const incidentKey = (rule: string, key: string, seq: number) => `${rule}|${key}|${seq}`;
        const seqOf = (p: Planned) => p.s.result.notification?.incidentSeq ?? p.s.result.next.incidentSeq;
        const rows = await tx.$queryRaw<
          Array<{ id: string; alert_rule_id: string; series_key: string; incident_seq: number }>
        >`
          SELECT i.id::text, i.alert_rule_id::text, i.series_key, i.incident_seq
          FROM analytics.alert_incidents i
          JOIN unnest(${wanted.map((p) => p.item.rule.workspace_id)}::uuid[], ${wanted.map((p) => p.item.rule.id)}::uuid[],
                      ${wanted.map((p) => p.s.key)}::text[], ${wanted.map(seqOf)}::int[]) AS w(ws, rule, key, seq)
            ON i.workspace_id = w.ws AND i.alert_rule_id = w.rule AND i.series_key = w.key AND i.incident_seq = w.seq`;
        for (const row of rows)
          incidentIds.set(incidentKey(row.alert_rule_id, row.series_key, row.incident_seq), row.id);
        for (const p of wanted) {
          const id = incidentIds.get(incidentKey(p.item.rule.id, p.s.key, seqOf(p)));
          if (id) incidentIds.set(`${p.item.rule.id}|${p.s.key}`, id);
        }
      }

      const h = {
        id: [] as string[],
        ws: [] as string[],
        rule: [] as string[],
        value: [] as Array<number | null>,
        threshold: [] as number[],
        status: [] as string[],
        key: [] as string[],
        label: [] as string[],
        prev: [] as string[],
        state: [] as string[],
        incident: [] as Array<string | null>,
        error: [] as Array<string | null>,
      };
      const n = {
        ws: [] as string[],
        rule: [] as string[],
        incident: [] as string[],
        history: [] as Array<string | null>,
        channel: [] as string[],
        event: [] as string[],
        seq: [] as number[],
        status: [] as string[],
        reason: [] as Array<string | null>,
        payload: [] as string[],
      };
      let transitions = 0;
      for (const p of planned) {
        const { rule, condition } = p.item;
        const { result } = p.s;
        const channels = channelsByRule.get(rule.id) ?? [];
        const notification = result.notification;
        const incidentId = incidentIds.get(`${rule.id}|${p.s.key}`) ?? null;
        if (result.transition && p.historyId) {
          transitions += 1;
          h.id.push(p.historyId);
          h.ws.push(rule.workspace_id);
          h.rule.push(rule.id);
          h.value.push(p.value === null ? null : roundForHistory(p.value));
          h.threshold.push(condition.threshold);
          h.status.push(
            notification === null || channels.length === 0
              ? "none"
              : notification.suppressed
                ? "suppressed"
                : "pending",
          );
          h.key.push(p.s.key);
          h.label.push(p.s.label);
          h.prev.push(result.transition.from);
          h.state.push(result.transition.to);
          h.incident.push(incidentId);
          h.error.push(p.error);
        }
        if (!notification || !incidentId) continue;
        const send = notification.suppressed === null;
        for (const channel of channels) {
          const payload = buildPayload({
            rule,
            conditionText: describeCondition(condition, rule.metric_type),
            event: notification.event,
            series: { key: p.s.key, label: p.s.label },
            state: result.next.state,
            previousState: result.transition?.from ?? null,
            value: p.value,
            incidentId,
            at: tick,
            link: alertLink(rule.workspace_slug, rule.id, tick),
          });
          n.ws.push(rule.workspace_id);
          n.rule.push(rule.id);
          n.incident.push(incidentId);
          n.history.push(p.historyId);
          n.channel.push(channel.id);
          n.event.push(notification.event);
          n.seq.push(notification.eventSeq);
          n.status.push(send ? "pending" : "suppressed");
          n.reason.push(send ? null : notification.suppressed);
          n.payload.push(JSON.stringify(payload));
        }
      }
      if (h.id.length > 0) {
        await tx.$executeRaw`
          INSERT INTO analytics.alert_history (id, workspace_id, alert_rule_id, metric_value, threshold_value,
            notification_status, series_key, series_label, previous_state, state, incident_id, error_message, triggered_at)
          SELECT u.*, ${tick}::timestamptz FROM unnest(${h.id}::uuid[], ${h.ws}::uuid[], ${h.rule}::uuid[], ${h.value}::numeric[],
            ${h.threshold}::numeric[], ${h.status}::text[], ${h.key}::text[], ${h.label}::text[], ${h.prev}::text[],
            ${h.state}::text[], ${h.incident}::uuid[], ${h.error}::text[]) AS u`;
      }
      let notificationsCreated = 0;
      if (n.ws.length > 0) {
        const inserted = await tx.$queryRaw<Array<{ status: string }>>`
          INSERT INTO analytics.alert_notifications (workspace_id, alert_rule_id, incident_id, alert_history_id,
            alert_channel_id, event, event_seq, status, suppressed_reason, payload, next_attempt_at)
          SELECT u.ws, u.rule, u.incident, u.history, u.channel, u.event, u.seq, u.status, u.reason, u.payload::jsonb, ${tick}::timestamptz
          FROM unnest(${n.ws}::uuid[], ${n.rule}::uuid[], ${n.incident}::uuid[], ${n.history}::uuid[], ${n.channel}::uuid[],
            ${n.event}::text[], ${n.seq}::int[], ${n.status}::text[], ${n.reason}::text[], ${n.payload}::text[])
            AS u(ws, rule, incident, history, channel, event, seq, status, reason, payload)
          ON CONFLICT (workspace_id, incident_id, event_seq, alert_channel_id) DO NOTHING
          RETURNING status`;
        notificationsCreated = inserted.filter((r) => r.status === "pending").length;
      }
      if (triggered.size > 0) {
        // trigger_count / last_triggered_at move on entry to firing only (never on repeats).
        const entries = [...triggered.entries()];
        await tx.$executeRaw`
          UPDATE analytics.alert_rules r SET trigger_count = r.trigger_count + t.n, last_triggered_at = ${tick}
          FROM unnest(${entries.map(([, t]) => t.ws)}::uuid[], ${entries.map(([id]) => id)}::uuid[], ${entries.map(([, t]) => t.count)}::int[])
            AS t(ws, id, n)
          WHERE r.workspace_id = t.ws AND r.id = t.id`;
      }
      return { transitions, notificationsCreated };
    },
    { timeout: 60_000 },
  );
}

function roundForHistory(value: number): number {
  const clamped = Math.max(Math.min(value, 999_999_999_999), -999_999_999_999);
  return Math.round(clamped * 10_000) / 10_000;
}

type WindowFetcher = (rule: RuleRow) => Promise<FetchedWindow>;

/**
 * Per claimed batch: the windows of all its rules, one catalogue call per (workspace, scope) with
 * every (metric, window) its rules ask (fetchRuleWindows). Rules that differ only in threshold,
 * comparator or policies share one window; rules that differ in metric or window share the scans.
 */
async function batchFetcher(
  db: PrismaClient,
  rules: RuleRow[],
  tick: Date,
  concurrency: number,
): Promise<WindowFetcher> {
  const fetched = await fetchRuleWindows(db, rules, tick, concurrency);
  return (rule) => fetched.get(metricQueryKey(rule)) ?? Promise.reject(new Error("The rule's window was not fetched."));
}

/**
 * A per-series rule with more than MAX_WINDOW_SERIES series follows only the largest ones: say so
 * in its history (a row without a state), at most once an hour so it does not flood the page.
 */
async function recordTruncation(db: PrismaClient, rule: RuleRow, tick: Date): Promise<void> {
  const message = `More than ${MAX_WINDOW_SERIES.toLocaleString("en-US")} series had data: only the ${MAX_WINDOW_SERIES.toLocaleString("en-US")} with the largest values were evaluated.`;
  await db.$executeRaw`
    INSERT INTO analytics.alert_history (workspace_id, alert_rule_id, threshold_value, notification_status, series_key,
      series_label, error_message, triggered_at)
    SELECT ${rule.workspace_id}::uuid, ${rule.id}::uuid, ${roundForHistory(rule.threshold_value)}, 'none', ${SINGLE_SERIES_KEY},
      ${scopeLabel(rule)}, ${message}, ${tick}::timestamptz
    WHERE NOT EXISTS (
      SELECT 1 FROM analytics.alert_history h
      WHERE h.workspace_id = ${rule.workspace_id}::uuid AND h.alert_rule_id = ${rule.id}::uuid AND h.state IS NULL
        AND h.error_message = ${message} AND h.triggered_at > ${tick}::timestamptz - interval '1 hour')`;
}

async function evaluateClaimedRule(
  db: PrismaClient,
  rule: RuleRow,
  snapshot: StateRow[],
  tick: Date,
  fetch: WindowFetcher,
) {
  const condition = ruleCondition(rule);
  let observed: Observed;
  let failed = false;
  try {
    observed = observeFromWindow(rule, condition, await fetch(rule));
    if (observed.truncated) await recordTruncation(db, rule, tick);
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
  const changed = planned.some((s) => s.result.transition !== null || s.result.notification !== null);
  return { pending: changed ? { rule, condition, observed } : null, failed };
}

/** Evaluates every due rule once for the current minute. Safe to run in several processes at once. */
export async function evaluateAlerts(db: PrismaClient, options: EvaluateOptions = {}): Promise<EvaluationSummary> {
  const tick = tickOf(options.now ?? new Date());
  const batchSize = options.batchSize ?? 1000;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const summary: EvaluationSummary = { tick, rulesEvaluated: 0, transitions: 0, notificationsCreated: 0, errors: 0 };
  for (;;) {
    const rules = await claimRules(db, tick, batchSize);
    if (rules.length === 0) break;
    const snapshots = await snapshotStates(db, rules);
    const fetch = await batchFetcher(db, rules, tick, concurrency);
    let next = 0;
    const changed: PendingApply[] = [];
    const worker = async () => {
      while (next < rules.length) {
        const rule = rules[next++];
        const result = await evaluateClaimedRule(db, rule, snapshots.get(rule.id) ?? [], tick, fetch);
        summary.rulesEvaluated += 1;
        if (result.pending) changed.push(result.pending);
        if (result.failed) summary.errors += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, rules.length) }, worker));
    const applied = await applyObservations(db, changed, tick);
    summary.transitions += applied.transitions;
    summary.notificationsCreated += applied.notificationsCreated;
  }
  return summary;
}
