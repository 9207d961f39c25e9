import { describe, expect, it } from "vitest";
import { compare, observe } from "./condition";
import {
  ALERT_STATES,
  type AlertState,
  ERROR_POLICIES,
  initialSeriesState,
  leavesInitialUnchanged,
  NO_DATA_POLICIES,
  type Observation,
  type RulePolicy,
  type SeriesState,
  step,
} from "./state-machine";

const T0 = new Date("2026-01-01T00:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const policy = (overrides: Partial<RulePolicy> = {}): RulePolicy => ({
  pendingSeconds: 0,
  repeatIntervalSeconds: null,
  noDataPolicy: "no_data",
  errorPolicy: "error",
  snoozedUntil: null,
  ...overrides,
});

const breach: Observation = { kind: "value", value: 10, breached: true };
const clear: Observation = { kind: "value", value: 1, breached: false };
const noData: Observation = { kind: "no_data" };
const failure: Observation = { kind: "error", message: "metric query failed" };

/** Runs observations one minute apart from T0; returns every step's result. */
function run(observations: Observation[], rule: RulePolicy, start: SeriesState = initialSeriesState(T0)) {
  let state = start;
  return observations.map((observation, index) => {
    const result = step(state, observation, rule, at(index + 1));
    state = result.next;
    return result;
  });
}

function stateIn(state: AlertState, overrides: Partial<SeriesState> = {}): SeriesState {
  const alerting = state === "firing" || state === "no_data" || state === "error";
  return {
    state,
    stateSince: T0,
    lastNotifiedAt: alerting ? T0 : null,
    incidentSeq: alerting ? 1 : 0,
    eventSeq: 0,
    ...overrides,
  };
}

describe("transitions from every state on every input", () => {
  // [from, observation, rule, expected to, expected notification event or null]
  const cases: Array<[AlertState, Observation, Partial<RulePolicy>, AlertState, string | null]> = [
    ["ok", clear, {}, "ok", null],
    ["ok", breach, {}, "firing", "firing"],
    ["ok", breach, { pendingSeconds: 300 }, "pending", null],
    ["ok", noData, {}, "no_data", "no_data"],
    ["ok", failure, {}, "error", "error"],
    ["pending", clear, { pendingSeconds: 300 }, "ok", null],
    ["pending", breach, { pendingSeconds: 30 }, "firing", "firing"],
    ["pending", breach, { pendingSeconds: 600 }, "pending", null],
    ["pending", noData, { pendingSeconds: 300 }, "no_data", "no_data"],
    ["pending", failure, { pendingSeconds: 300 }, "error", "error"],
    ["firing", clear, {}, "ok", "resolved"],
    ["firing", breach, {}, "firing", null],
    ["firing", noData, {}, "no_data", "no_data"],
    ["firing", failure, {}, "error", "error"],
    ["no_data", clear, {}, "ok", "resolved"],
    ["no_data", breach, {}, "firing", "firing"],
    ["no_data", breach, { pendingSeconds: 300 }, "pending", "resolved"],
    ["no_data", noData, {}, "no_data", null],
    ["no_data", failure, {}, "error", "error"],
    ["error", clear, {}, "ok", "resolved"],
    ["error", breach, {}, "firing", "firing"],
    ["error", noData, {}, "no_data", "no_data"],
    ["error", failure, {}, "error", null],
  ];
  it("covers every state as a source", () => {
    expect(new Set(cases.map(([from]) => from))).toEqual(new Set(ALERT_STATES));
  });
  it.each(cases)("%s + %j (%j) → %s, notifies %s", (from, observation, rule, to, event) => {
    const result = step(stateIn(from), observation, policy(rule), at(1));
    expect(result.next.state).toBe(to);
    expect(result.transition).toEqual(from === to ? null : { from, to });
    expect(result.notification?.event ?? null).toBe(event);
    expect(result.enteredFiring).toBe(from !== "firing" && to === "firing");
    if (to !== from) expect(result.next.stateSince).toEqual(at(1));
    else expect(result.next.stateSince).toEqual(T0);
  });
});

describe("pending period", () => {
  it("fires exactly when the breach has lasted the pending period", () => {
    const results = run([breach, breach, breach, breach], policy({ pendingSeconds: 180 }));
    expect(results.map((r) => r.next.state)).toEqual(["pending", "pending", "pending", "firing"]);
    expect(results.map((r) => r.notification?.event ?? null)).toEqual([null, null, null, "firing"]);
    expect(results.filter((r) => r.enteredFiring)).toHaveLength(1);
  });

  it("a pending that never completes never notifies", () => {
    const input = Array.from({ length: 30 }, (_, i) => (i % 4 === 3 ? clear : breach));
    const results = run(input, policy({ pendingSeconds: 300 }));
    expect(results.some((r) => r.next.state === "firing")).toBe(false);
    expect(results.filter((r) => r.notification !== null)).toHaveLength(0);
    // Every clear resets the pending timer: ok→pending and pending→ok transitions, 8 clears.
    expect(results.filter((r) => r.transition?.to === "ok")).toHaveLength(7);
    expect(results.filter((r) => r.transition?.to === "pending")).toHaveLength(8);
  });
});

describe("flapping", () => {
  it("without a pending period, each flap is one firing and one resolved", () => {
    const results = run([breach, clear, breach, clear, breach, clear], policy());
    const events = results.map((r) => r.notification?.event ?? null);
    expect(events).toEqual(["firing", "resolved", "firing", "resolved", "firing", "resolved"]);
    expect(results.map((r) => r.next.incidentSeq)).toEqual([1, 1, 2, 2, 3, 3]);
    // Each notification has a distinct (incident, event seq) key.
    const keys = results.map((r) => `${r.notification?.incidentSeq}:${r.notification?.eventSeq}`);
    expect(new Set(keys).size).toBe(6);
  });

  it("a pending period absorbs flapping shorter than itself", () => {
    const results = run([breach, clear, breach, clear, breach, clear], policy({ pendingSeconds: 120 }));
    expect(results.filter((r) => r.notification)).toHaveLength(0);
    expect(results.map((r) => r.next.state)).toEqual(["pending", "ok", "pending", "ok", "pending", "ok"]);
  });
});

describe("repeat interval", () => {
  it("repeats only after the interval, then resolves once", () => {
    const results = run([breach, breach, breach, breach, breach, clear, clear], policy({ repeatIntervalSeconds: 120 }));
    expect(results.map((r) => r.notification?.event ?? null)).toEqual([
      "firing",
      null,
      "repeat",
      null,
      "repeat",
      "resolved",
      null,
    ]);
    expect(results.map((r) => r.notification?.eventSeq ?? null)).toEqual([0, null, 1, null, 2, 3, null]);
    expect(results.filter((r) => r.enteredFiring)).toHaveLength(1);
  });

  it("never repeats without an interval", () => {
    const results = run(
      Array.from({ length: 20 }, () => breach),
      policy(),
    );
    expect(results.filter((r) => r.notification)).toHaveLength(1);
  });

  it("no-data and error states notify once on entry, never repeat", () => {
    const results = run([noData, noData, noData, failure, failure, failure], policy({ repeatIntervalSeconds: 60 }));
    expect(results.map((r) => r.notification?.event ?? null)).toEqual(["no_data", null, null, "error", null, null]);
  });
});

describe("no-data policy", () => {
  it("no_data: its own state, notified on entry, resolved when data clears", () => {
    const results = run([noData, noData, clear], policy({ noDataPolicy: "no_data" }));
    expect(results.map((r) => r.next.state)).toEqual(["no_data", "no_data", "ok"]);
    expect(results.map((r) => r.notification?.event ?? null)).toEqual(["no_data", null, "resolved"]);
  });
  it("alerting: treated as a breach, honouring the pending period", () => {
    const results = run([noData, noData, noData], policy({ noDataPolicy: "alerting", pendingSeconds: 120 }));
    expect(results.map((r) => r.next.state)).toEqual(["pending", "pending", "firing"]);
    expect(results[2].enteredFiring).toBe(true);
  });
  it("ok: treated as clear, resolving a firing series", () => {
    const results = run([breach, noData], policy({ noDataPolicy: "ok" }));
    expect(results.map((r) => r.next.state)).toEqual(["firing", "ok"]);
    expect(results[1].notification?.event).toBe("resolved");
  });
  it("keep_last: the state stays as it was", () => {
    const firing = run([breach, noData, noData], policy({ noDataPolicy: "keep_last" }));
    expect(firing.map((r) => r.next.state)).toEqual(["firing", "firing", "firing"]);
    expect(firing.filter((r) => r.transition)).toHaveLength(1);
    const pending = run([breach, noData, noData, noData], policy({ noDataPolicy: "keep_last", pendingSeconds: 60 }));
    // keep_last keeps pending without completing it: only real breaches complete a pending period.
    expect(pending.map((r) => r.next.state)).toEqual(["pending", "pending", "pending", "pending"]);
  });
});

describe("error policy", () => {
  it("error: its own state, notified once", () => {
    const results = run([failure, failure, clear], policy({ errorPolicy: "error" }));
    expect(results.map((r) => r.notification?.event ?? null)).toEqual(["error", null, "resolved"]);
  });
  it("alerting: fires", () => {
    const results = run([failure], policy({ errorPolicy: "alerting" }));
    expect(results[0].next.state).toBe("firing");
    expect(results[0].enteredFiring).toBe(true);
  });
  it("ok: stays ok", () => {
    const results = run([failure, failure], policy({ errorPolicy: "ok" }));
    expect(results.map((r) => r.next.state)).toEqual(["ok", "ok"]);
    expect(results.filter((r) => r.transition || r.notification)).toHaveLength(0);
  });
  it("keep_last: a firing series stays firing", () => {
    const results = run([breach, failure], policy({ errorPolicy: "keep_last" }));
    expect(results[1].next.state).toBe("firing");
    expect(results[1].transition).toBeNull();
  });
});

describe("snooze", () => {
  it("evaluation and transitions go on, notifications are suppressed", () => {
    const snoozedUntil = at(3);
    const results = run([breach, clear, breach], policy({ snoozedUntil }));
    expect(results.map((r) => r.next.state)).toEqual(["firing", "ok", "firing"]);
    // The snooze ends at minute 3 (exclusive): the third firing is delivered.
    expect(results.map((r) => r.notification?.suppressed)).toEqual(["snoozed", "snoozed", null]);
    expect(results.filter((r) => r.enteredFiring)).toHaveLength(2);
  });

  it("a firing entered while snoozed is notified (as repeat) once the snooze ends", () => {
    // Snoozed until minute 3 (exclusive); no repeat interval, so the catch-up is the only repeat.
    const results = run([breach, breach, breach, breach], policy({ snoozedUntil: at(3) }));
    expect(results.map((r) => r.notification?.event ?? null)).toEqual(["firing", null, "repeat", null]);
    expect(results.map((r) => r.notification?.suppressed ?? null)).toEqual(["snoozed", null, null, null]);
  });

  it("resolving an incident whose notifications were all suppressed sends nothing", () => {
    const results = run([breach, clear], policy({ snoozedUntil: new Date(at(1).getTime() + 1) }));
    expect(results[0].notification?.suppressed).toBe("snoozed");
    expect(results[1].notification?.event).toBe("resolved");
    expect(results[1].notification?.suppressed).toBe("nothing_to_resolve");
  });
});

describe("conditions", () => {
  it("compares with every comparator", () => {
    expect(compare(5, "greater_than", 4)).toBe(true);
    expect(compare(4, "greater_than", 4)).toBe(false);
    expect(compare(4, "greater_than_or_equal", 4)).toBe(true);
    expect(compare(3, "less_than", 4)).toBe(true);
    expect(compare(4, "less_than_or_equal", 4)).toBe(true);
    expect(compare(0.1 + 0.2, "equals", 0.3)).toBe(true);
    expect(compare(0.31, "equals", 0.3)).toBe(false);
  });
  it("percent change compares against the previous window", () => {
    expect(observe({ kind: "percent_change", comparator: "greater_than", threshold: 50 }, 160, 100)).toEqual({
      kind: "value",
      value: 60,
      breached: true,
    });
    expect(observe({ kind: "percent_change", comparator: "less_than", threshold: -20 }, 70, 100)).toEqual({
      kind: "value",
      value: -30,
      breached: true,
    });
    expect(observe({ kind: "percent_change", comparator: "greater_than", threshold: 50 }, 5, 0)).toEqual({
      kind: "no_data",
    });
    expect(observe({ kind: "value", comparator: "greater_than", threshold: 50 }, null, 10)).toEqual({
      kind: "no_data",
    });
  });
});

describe("leavesInitialUnchanged (the evaluator's skip of new series)", () => {
  it("is true exactly when a step from the initial state has no transition and no notification", () => {
    const observations: Observation[] = [breach, clear, noData, failure, { kind: "missing" }];
    let quiet = 0;
    for (const observation of observations) {
      for (const noDataPolicy of NO_DATA_POLICIES) {
        for (const errorPolicy of ERROR_POLICIES) {
          for (const pendingSeconds of [0, 300]) {
            for (const snoozedUntil of [null, at(60)]) {
              const p = policy({ noDataPolicy, errorPolicy, pendingSeconds, snoozedUntil });
              const result = step(initialSeriesState(T0), observation, p, T0);
              const unchanged = result.transition === null && result.notification === null;
              expect(leavesInitialUnchanged(observation, p), JSON.stringify({ observation, p })).toBe(unchanged);
              if (unchanged) quiet += 1;
            }
          }
        }
      }
    }
    // clear and missing always; no data under ok/keep_last; errors under ok/keep_last.
    expect(quiet).toBe(2 * 64 + 2 * 4 * 4 + 2 * 4 * 4);
  });
});
