import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertWindowTraffic } from "@/lib/metrics/testkit";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { METRIC_DEFINITIONS } from "@/lib/metrics/definitions";
import { MAX_WINDOW_SERIES, queryMetricWindow } from "@/lib/metrics/window";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { evaluateAlerts } from "./evaluator";
import { fetchRuleWindows, metricQueryKey } from "./metric-source";
import { scopeQuery } from "./rule-shape";

/**
 * Single-value scopes (agent = X, user = Y) folded into their dimension's grouped call must answer
 * exactly what their own filtered call answers — for every metric the evaluator can ask, for a value
 * with data and one without, for a window inside one local day and one across days, for a percent
 * change's previous window — and the fold must actually save statements. Asia/Kolkata (+05:30), so
 * local hours start at :30 UTC; runs and calls every few minutes, so any shift changes the numbers.
 */
const TZ = "Asia/Kolkata";
const TICK = new Date("2026-03-10T13:47:00Z");
const WINDOW_METRICS = [
  "runs",
  "runs_completed",
  "runs_failed",
  "runs_cancelled",
  "success_rate",
  "error_rate",
  "credits",
  "runtime_avg",
  "runtime_p50",
  "runtime_p95",
  "runtime_p99",
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
  "cost_usd",
  "llm_calls",
  "unpriced_llm_calls",
  "llm_latency_p95",
] as const;

let db: TestDatabase;
let workspaceId: string;
let agentIds: string[]; // the last one has no runs or calls
let userIds: string[]; // the last one has no runs or calls

/** Counts the statements a client runs (each queryMetricWindows family statement is one $queryRaw). */
function counting(client: PrismaClient): { db: PrismaClient; statements: () => number } {
  let n = 0;
  const db = new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop === "$queryRaw" && typeof value === "function") {
        return (...args: unknown[]) => {
          n += 1;

          return Reflect.apply(value, target, args) as unknown;
        };
      }
      return value;
    },
  });
  return { db, statements: () => n };
}

type WindowRule = Parameters<typeof fetchRuleWindows>[1][number];

function rule(
  overrides: Partial<WindowRule> & Pick<WindowRule, "metric_type" | "scope_kind">,
  ws = workspaceId,
): WindowRule {
  return {
    workspace_id: ws,
    workspace_timezone: TZ,
    scope_value: null,
    evaluation_window_minutes: 90,
    condition_kind: "value",
    ...overrides,
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  const owner = db.owner;
  workspaceId = (
    await owner.query<{ id: string }>(
      `INSERT INTO public.workspaces (slug, name, timezone) VALUES ('fold', 'Fold', $1) RETURNING id::text`,
      [TZ],
    )
  ).rows[0].id;
  await owner.query(
    `INSERT INTO public.users (workspace_id, external_id, name) SELECT $1, 'u' || i, 'User ' || i FROM generate_series(1, 5) i`,
    [workspaceId],
  );
  await owner.query(
    `INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'a' || i, 'Agent ' || i FROM generate_series(1, 4) i`,
    [workspaceId],
  );
  const ids = async (table: string) =>
    (
      await owner.query<{ id: string }>(
        `SELECT id::text FROM public.${table} WHERE workspace_id = $1 ORDER BY external_id`,
        [workspaceId],
      )
    ).rows.map((r) => r.id);
  userIds = await ids("users");
  agentIds = await ids("agents");
  await insertWindowTraffic(owner, workspaceId, agentIds.slice(0, 3), userIds.slice(0, 4));
});
afterAll(async () => {
  await db?.drop();
});

/** What the catalogue answers for the rule's scope on its own (filtered, ungrouped): the reference. */
async function alone(r: WindowRule, from: Date, to: Date): Promise<number | null> {
  const { filters, groupBy } = scopeQuery(r.scope_kind, r.scope_value);
  const result = await queryMetricWindow(db.ownerPrisma, {
    workspace: { id: r.workspace_id, timezone: r.workspace_timezone },
    metric: r.metric_type,
    from,
    to,
    filters,
    groupBy,
  });
  return result.series[0].value;
}

describe("single-value scopes folded into their dimension's grouped call", () => {
  it("answer exactly what their own filtered call answers, for every window metric, with and without data", async () => {
    const singles = [
      ...agentIds.slice(0, 1).map((id) => ({ scope_kind: "agent" as const, scope_value: id })),
      { scope_kind: "agent" as const, scope_value: agentIds[3] },
      { scope_kind: "user" as const, scope_value: userIds[0] },
      { scope_kind: "user" as const, scope_value: userIds[4] },
    ];
    const rules: WindowRule[] = [];
    for (const metric of WINDOW_METRICS) {
      for (const scope of singles) {
        // 90 minutes: inside one local day (the per-user statement reads it all raw); 1,500 minutes:
        // whole hours and a whole local day from the rollups; percent change: two windows each.
        rules.push(rule({ metric_type: metric, ...scope }));
        rules.push(rule({ metric_type: metric, ...scope, evaluation_window_minutes: 1500 }));
        rules.push(rule({ metric_type: metric, ...scope, condition_kind: "percent_change" }));
      }
      rules.push(rule({ metric_type: metric, scope_kind: "each_agent" }));
      rules.push(rule({ metric_type: metric, scope_kind: "each_user" }));
    }
    const { db: client, statements } = counting(db.ownerPrisma);
    const fetched = await fetchRuleWindows(client, rules, TICK, 4);
    // Two grouped calls (agent, user), one statement per metric family each; alone, the four
    // single-value scopes would have added four calls of two statements.
    expect(statements()).toBe(4);

    let compared = 0;
    let withData = 0;
    for (const r of rules.filter((x) => x.scope_value !== null)) {
      const answer = await fetched.get(metricQueryKey(r));
      const windowMs = r.evaluation_window_minutes * 60_000;
      const from = new Date(TICK.getTime() - windowMs);
      expect(answer?.current.groupBy, metricQueryKey(r)).toBeNull();
      expect(
        answer?.current.series.map((s) => s.value),
        metricQueryKey(r),
      ).toEqual([await alone(r, from, TICK)]);
      if (r.condition_kind === "percent_change") {
        const previous = await alone(r, new Date(from.getTime() - windowMs), from);
        expect(
          answer?.previous?.series.map((s) => s.value),
          metricQueryKey(r),
        ).toEqual([previous]);
      } else expect(answer?.previous).toBeNull();
      compared += 1;
      if ((answer?.current.series[0].value ?? 0) !== 0) withData += 1;
    }
    expect(compared).toBe(WINDOW_METRICS.length * 12);
    // The comparison is not vacuous: the scopes with data have values (the idle ones 0 or null).
    expect(withData).toBeGreaterThan(WINDOW_METRICS.length * 4);
  });

  it("agent = X reads the agent's own rows: cost and p95 latency against SQL over the raw calls", async () => {
    const agent = agentIds[1];
    const rules = [
      rule({ metric_type: "cost_usd", scope_kind: "agent", scope_value: agent }),
      rule({ metric_type: "llm_calls", scope_kind: "agent", scope_value: agent }),
      rule({ metric_type: "cost_usd", scope_kind: "each_agent" }),
    ];
    const fetched = await fetchRuleWindows(db.ownerPrisma, rules, TICK, 2);
    const { rows } = await db.owner.query<{ cost: number; calls: number }>(
      `SELECT coalesce(sum(total_cost_usd), 0)::float8 AS cost, count(*)::int AS calls FROM public.llm_usage_logs
       WHERE workspace_id = $1 AND agent_id = $2 AND created_at >= $3 AND created_at < $4`,
      [workspaceId, agent, new Date(TICK.getTime() - 90 * 60_000), TICK],
    );
    expect(rows[0].calls).toBeGreaterThan(2);
    const cost = (await fetched.get(metricQueryKey(rules[0])))?.current.series[0].value;
    expect(cost).toBeCloseTo(rows[0].cost, 9);
    expect((await fetched.get(metricQueryKey(rules[1])))?.current.series[0].value).toBe(rows[0].calls);
    expect((await fetched.get(metricQueryKey(rules[0])))?.current.series[0].label).toBe(
      METRIC_DEFINITIONS.cost_usd.label,
    );
  });

  it("a lone single-value scope keeps its filtered call, and a value that is not a canonical uuid is never folded", async () => {
    const lone = counting(db.ownerPrisma);
    await fetchRuleWindows(
      lone.db,
      [rule({ metric_type: "cost_usd", scope_kind: "agent", scope_value: agentIds[0] })],
      TICK,
      2,
    );
    expect(lone.statements()).toBe(1);
    // Upper case is the same uuid to the filter but not the same series key: asked alone, it gets
    // the filtered answer (the agent's cost), not "no data".
    const upper = rule({ metric_type: "cost_usd", scope_kind: "agent", scope_value: agentIds[0].toUpperCase() });
    const rules = [upper, rule({ metric_type: "cost_usd", scope_kind: "each_agent" })];
    const counted = counting(db.ownerPrisma);
    const fetched = await fetchRuleWindows(counted.db, rules, TICK, 2);
    expect(counted.statements()).toBe(2);
    const value = (await fetched.get(metricQueryKey(upper)))?.current.series[0].value;
    expect(value).toBe(await alone(upper, new Date(TICK.getTime() - 90 * 60_000), TICK));
    expect(value).toBeGreaterThan(0);
  });

  it(`a value cut from a truncated grouped answer (more than ${MAX_WINDOW_SERIES} series) is asked again on its own`, async () => {
    const ws = (
      await db.owner.query<{ id: string }>(
        `INSERT INTO public.workspaces (slug, name, timezone) VALUES ('fold-many', 'Many', 'UTC') RETURNING id::text`,
      )
    ).rows[0].id;
    const users = (
      await db.owner.query<{ id: string }>(
        `INSERT INTO public.users (workspace_id, external_id) SELECT $1, 'm' || i FROM generate_series(1, $2::int) i
         ORDER BY i RETURNING id::text`,
        [ws, MAX_WINDOW_SERIES + 1],
      )
    ).rows.map((r) => r.id);
    // Every user spends $1 + i/1000 at 13:40; the first user spends least, so the cap cuts it.
    await db.owner.query(
      `INSERT INTO public.llm_usage_logs (workspace_id, user_id, provider, model, prompt_tokens, completion_tokens,
         total_cost_usd, cost_source, latency_ms, created_at)
       SELECT $1, u, 'openai', 'gpt-4o', 10, 1, 1 + i / 1000.0, 'reported', 100, timestamptz '2026-03-10 13:40:00+00'
       FROM unnest($2::uuid[]) WITH ORDINALITY AS x(u, i)`,
      [ws, users],
    );
    // Planner statistics, as autovacuum would have them: without them the catalogue's label join
    // is planned for one series and loops 10,000 × 10,000.
    await db.owner.query("ANALYZE public.users, public.llm_usage_logs");
    const cut = rule({ metric_type: "cost_usd", scope_kind: "user", scope_value: users[0] }, ws);
    const kept = rule({ metric_type: "cost_usd", scope_kind: "user", scope_value: users[MAX_WINDOW_SERIES] }, ws);
    const each = rule({ metric_type: "cost_usd", scope_kind: "each_user" }, ws);
    const counted = counting(db.ownerPrisma);
    const fetched = await fetchRuleWindows(counted.db, [cut, kept, each], TICK, 2);
    expect((await fetched.get(metricQueryKey(each)))?.current.truncated).toBe(true);
    // The grouped statement, then the cut user's own filtered one.
    expect(counted.statements()).toBe(2);
    expect((await fetched.get(metricQueryKey(cut)))?.current.series[0].value).toBeCloseTo(1.001, 9);
    expect((await fetched.get(metricQueryKey(kept)))?.current.series[0].value).toBeCloseTo(11.001, 9);
  });
});

describe("the evaluator on folded scopes", () => {
  it("fires, stays ok and reports no data per single-value scope as their values say", async () => {
    const insertRule = async (name: string, metric: string, scopeKind: string, scopeValue: string | null, t: number) =>
      (
        await db.owner.query<{ id: string }>(
          `INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value,
             evaluation_window_minutes, scope_kind, scope_value)
           VALUES ($1, $2, $3, 'greater_than', $4, 90, $5, $6) RETURNING id::text`,
          [workspaceId, name, metric, t, scopeKind, scopeValue],
        )
      ).rows[0].id;
    const from = new Date(TICK.getTime() - 90 * 60_000);
    const busy = agentIds[0];
    const busyCalls = (
      await db.owner.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM public.llm_usage_logs
         WHERE workspace_id = $1 AND agent_id = $2 AND created_at >= $3 AND created_at < $4`,
        [workspaceId, busy, from, TICK],
      )
    ).rows[0].n;
    expect(busyCalls).toBeGreaterThan(0);
    const ids = {
      busyFires: await insertRule("busy fires", "llm_calls", "agent", busy, busyCalls - 1),
      busyOk: await insertRule("busy ok", "llm_calls", "agent", busy, busyCalls),
      idleCost: await insertRule("idle cost", "cost_usd", "agent", agentIds[3], 0),
      idleRate: await insertRule("idle rate", "error_rate", "agent", agentIds[3], 0),
      each: await insertRule("each agent", "llm_calls", "each_agent", null, 1_000_000),
    };
    const summary = await evaluateAlerts(db.ownerPrisma, { now: TICK });
    expect(summary).toMatchObject({ rulesEvaluated: 5, errors: 0 });
    const { rows } = await db.owner.query<{ id: string; series_key: string; state: string; last_value: string | null }>(
      `SELECT alert_rule_id::text AS id, series_key, state, last_value::text FROM analytics.alert_series_state
       WHERE workspace_id = $1 ORDER BY 1, 2`,
      [workspaceId],
    );
    const byRule = new Map(rows.map((r) => [r.id, r]));
    expect(byRule.get(ids.busyFires)).toMatchObject({ series_key: "", state: "firing" });
    expect(Number(byRule.get(ids.busyFires)?.last_value)).toBe(busyCalls);
    // Ok on a first evaluation writes no state row (nothing happened to the series).
    expect(byRule.has(ids.busyOk)).toBe(false);
    expect(byRule.has(ids.idleCost)).toBe(false); // $0 is not > $0
    // No finished runs: the rate is null, the rule's no-data policy (no_data) applies.
    expect(byRule.get(ids.idleRate)).toMatchObject({ series_key: "", state: "no_data", last_value: null });
    expect(byRule.has(ids.each)).toBe(false);
    await db.owner.query(`DELETE FROM analytics.alert_rules WHERE workspace_id = $1`, [workspaceId]);
  });
});
