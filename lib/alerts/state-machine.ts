/**
 * The per-(rule, series) alert state machine, as a pure function: given the series' current state,
 * what the evaluator observed this tick, the rule's policies and the time, it returns the next
 * state, the transition (if any) and the notification to send (if any). No I/O, no clock: the
 * evaluator persists what this returns, and the tests drive it through every path.
 *
 * Semantics follow Grafana's alerting:
 *   - a breach moves ok → pending, and pending → firing once it has lasted the pending period
 *     (a zero pending period fires on the first breach);
 *   - firing notifies once on entry, again only after the repeat interval, and once "resolved"
 *     when the condition clears;
 *   - no data and evaluation errors follow the rule's policy; their own states notify once on entry;
 *   - a snoozed rule still evaluates and records transitions, but its notifications are suppressed.
 */
import { z } from "zod";

export const ALERT_STATES = ["ok", "pending", "firing", "no_data", "error"] as const;
export const alertStateSchema = z.enum(ALERT_STATES);
export type AlertState = z.infer<typeof alertStateSchema>;

/** What a series without data becomes: its own state, treated as a breach, as clear, or unchanged. */
export const NO_DATA_POLICIES = ["no_data", "alerting", "ok", "keep_last"] as const;
export const noDataPolicySchema = z.enum(NO_DATA_POLICIES);
export type NoDataPolicy = z.infer<typeof noDataPolicySchema>;

export const ERROR_POLICIES = ["error", "alerting", "ok", "keep_last"] as const;
export const errorPolicySchema = z.enum(ERROR_POLICIES);
export type ErrorPolicy = z.infer<typeof errorPolicySchema>;

export const NOTIFICATION_EVENTS = ["firing", "repeat", "resolved", "no_data", "error"] as const;
export const notificationEventSchema = z.enum(NOTIFICATION_EVENTS);
export type NotificationEvent = z.infer<typeof notificationEventSchema>;

/** States that open an incident and notify on entry. */
export type AlertingState = Extract<AlertState, "firing" | "no_data" | "error">;
const ALERTING_STATES: ReadonlySet<AlertState> = new Set<AlertingState>(["firing", "no_data", "error"]);
export function isAlertingState(state: AlertState): state is AlertingState {
  return ALERTING_STATES.has(state);
}

export type SeriesState = {
  state: AlertState;
  /** When the series entered `state` (the pending period is measured from here). */
  stateSince: Date;
  /** When a notification of the current incident was last actually sent (not suppressed). */
  lastNotifiedAt: Date | null;
  /** Number of incidents this series has opened; part of the exactly-once notification key. */
  incidentSeq: number;
  /** Notifications emitted (sent or suppressed) within the current incident; the other key part. */
  eventSeq: number;
};

/**
 * What one evaluation saw for a series. "missing": a per-series rule's series that no longer has
 * data in the window (Grafana's MissingSeries) — it clears, whatever the no-data policy.
 */
export type Observation =
  | { kind: "value"; value: number; breached: boolean }
  | { kind: "no_data" }
  | { kind: "missing" }
  | { kind: "error"; message: string };

export type RulePolicy = {
  pendingSeconds: number;
  /** null: never repeat while firing. */
  repeatIntervalSeconds: number | null;
  noDataPolicy: NoDataPolicy;
  errorPolicy: ErrorPolicy;
  snoozedUntil: Date | null;
};

export type SuppressedReason = "snoozed" | "nothing_to_resolve";

export type PlannedNotification = {
  event: NotificationEvent;
  incidentSeq: number;
  eventSeq: number;
  /** Recorded but not delivered. */
  suppressed: SuppressedReason | null;
};

export type StepResult = {
  next: SeriesState;
  transition: { from: AlertState; to: AlertState } | null;
  notification: PlannedNotification | null;
  /** True only on entry to firing: the evaluator bumps trigger_count / last_triggered_at on this. */
  enteredFiring: boolean;
};

export function initialSeriesState(now: Date): SeriesState {
  return { state: "ok", stateSince: now, lastNotifiedAt: null, incidentSeq: 0, eventSeq: 0 };
}

type Input = "breach" | "clear" | "no_data" | "error" | "keep";

const NO_DATA_INPUT: Record<NoDataPolicy, Input> = {
  no_data: "no_data",
  alerting: "breach",
  ok: "clear",
  keep_last: "keep",
};
const ERROR_INPUT: Record<ErrorPolicy, Input> = { error: "error", alerting: "breach", ok: "clear", keep_last: "keep" };

function classify(observation: Observation, policy: RulePolicy): Input {
  switch (observation.kind) {
    case "value":
      return observation.breached ? "breach" : "clear";
    case "no_data":
      return NO_DATA_INPUT[policy.noDataPolicy];
    case "missing":
      return "clear";
    case "error":
      return ERROR_INPUT[policy.errorPolicy];
  }
}

/**
 * True when `step(initialSeriesState(now), observation, policy, now)` changes nothing (no
 * transition, no notification): the input clears or keeps, and ok stays ok. The evaluator skips
 * such series when they have no state row yet — most series of an each-user/each-agent rule, most
 * minutes — instead of running a step for each (state-machine.test.ts checks it equals the step).
 */
export function leavesInitialUnchanged(observation: Observation, policy: RulePolicy): boolean {
  const input = classify(observation, policy);
  return input === "clear" || input === "keep";
}

function targetState(current: SeriesState, input: Input, policy: RulePolicy, now: Date): AlertState {
  switch (input) {
    case "keep":
      return current.state;
    case "clear":
      return "ok";
    case "no_data":
      return "no_data";
    case "error":
      return "error";
    case "breach":
      if (current.state === "firing") return "firing";
      if (current.state === "pending") {
        const pendingFor = (now.getTime() - current.stateSince.getTime()) / 1000;
        return pendingFor >= policy.pendingSeconds ? "firing" : "pending";
      }
      return policy.pendingSeconds <= 0 ? "firing" : "pending";
  }
}

function isSnoozed(policy: RulePolicy, now: Date): boolean {
  return policy.snoozedUntil !== null && policy.snoozedUntil.getTime() > now.getTime();
}

export function step(current: SeriesState, observation: Observation, policy: RulePolicy, now: Date): StepResult {
  const input = classify(observation, policy);
  const to = targetState(current, input, policy, now);
  const from = current.state;
  const snoozed = isSnoozed(policy, now);

  const plan = (event: NotificationEvent, incidentSeq: number, eventSeq: number, nothingToResolve = false) => {
    const suppressed: SuppressedReason | null = snoozed ? "snoozed" : nothingToResolve ? "nothing_to_resolve" : null;
    return { event, incidentSeq, eventSeq, suppressed } satisfies PlannedNotification;
  };

  if (to === from) {
    // No transition; the only possible notification is a repeat of a still-firing incident.
    // A firing whose entry notification was snoozed is sent once the snooze ends.
    if (from === "firing" && !snoozed) {
      const due =
        current.lastNotifiedAt === null ||
        (policy.repeatIntervalSeconds !== null &&
          (now.getTime() - current.lastNotifiedAt.getTime()) / 1000 >= policy.repeatIntervalSeconds);
      if (due) {
        const notification = plan("repeat", current.incidentSeq, current.eventSeq + 1);
        return {
          next: { ...current, lastNotifiedAt: now, eventSeq: current.eventSeq + 1 },
          transition: null,
          notification,
          enteredFiring: false,
        };
      }
    }
    return { next: current, transition: null, notification: null, enteredFiring: false };
  }

  const transition = { from, to };
  if (isAlertingState(to)) {
    // Entry into an alerting state opens a new incident and notifies once.
    const incidentSeq = current.incidentSeq + 1;
    const notification = plan(to, incidentSeq, 0);
    return {
      next: {
        state: to,
        stateSince: now,
        lastNotifiedAt: notification.suppressed ? null : now,
        incidentSeq,
        eventSeq: 0,
      },
      transition,
      notification,
      enteredFiring: to === "firing",
    };
  }

  // to is ok or pending.
  if (isAlertingState(from)) {
    // Leaving an alerting state resolves its incident. Nothing to resolve if nothing was ever sent.
    const notification = plan("resolved", current.incidentSeq, current.eventSeq + 1, current.lastNotifiedAt === null);
    return {
      next: {
        state: to,
        stateSince: now,
        lastNotifiedAt: null,
        incidentSeq: current.incidentSeq,
        eventSeq: current.eventSeq + 1,
      },
      transition,
      notification,
      enteredFiring: false,
    };
  }
  return {
    next: { ...current, state: to, stateSince: now },
    transition,
    notification: null,
    enteredFiring: false,
  };
}
