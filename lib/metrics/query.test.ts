import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { METRIC_NAMES, type MetricName } from "./definitions";
import { MetricQueryError } from "./errors";
import { queryMetric, queryMetricTotal } from "./query";
import { rawMetricSql } from "./raw-oracle";
import {
  WORLD_FROM_DAY,
  WORLD_TO_DAY,
  WORLD_TZ,
  buildMetricWorld,
  refreshWorldRollups,
  type MetricWorld,
} from "./testkit";

let db: TestDatabase;
let world: MetricWorld;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await buildMetricWorld(db.owner);
});
afterAll(async () => {
  await db?.drop();
});

async function rawSeries(metric: MetricName, granularity: "day" | "week"): Promise<Map<string, number | null>> {
  const { rows } = await db.owner.query<{ bucket: string; v: number | null }>(rawMetricSql(metric), [
    world.workspaceId,
    WORLD_TZ,
    "2026-02-23T00:00:00",
    "2026-03-16T00:00:00",
    granularity,
  ]);
  return new Map(rows.map((r) => [r.bucket, r.v]));
}

function expectClose(actual: number | null, expected: number | null, metric: MetricName, where: string) {
  if (expected === null) {
    expect(actual, `${metric} ${where}`).toBeNull();
    return;
  }
  expect(actual, `${metric} ${where}`).not.toBeNull();
  // Percentiles come from ≤1 %-relative-error histograms (migration 0025); everything else is exact.
  const tolerance = metric.includes("_p") ? Math.abs(expected) * 0.0101 + 1e-9 : 1e-6;
  expect(Math.abs((actual ?? 0) - expected), `${metric} ${where}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    tolerance,
  );
}

const workspace = () => ({ id: world.workspaceId, timezone: WORLD_TZ });

describe("queryMetric against SQL over raw rows", () => {
  for (const metric of METRIC_NAMES) {
    for (const granularity of ["day", "week"] as const) {
      it(`${metric} by ${granularity}`, async () => {
        const result = await queryMetric(db.ownerPrisma, {
          workspace: workspace(),
          metric,
          from: WORLD_FROM_DAY,
          to: WORLD_TO_DAY,
          granularity,
        });
        const expected = await rawSeries(metric, granularity);
        expect(result.series).toHaveLength(1);
        const additive = ![
          "success_rate",
          "error_rate",
          "runtime_avg",
          "runtime_p50",
          "runtime_p95",
          "runtime_p99",
          "llm_latency_p95",
        ].includes(metric);
        for (const point of result.series[0].points) {
          const local = point.t.slice(0, 19);
          const want = expected.get(local) ?? (additive ? 0 : null);
          expectClose(point.v, want, metric, local);
        }
      });
    }
  }
});

describe("hand-computed numbers", () => {
  it("counts runs by start time in the workspace's day, grouped by status and agent", async () => {
    // Run r3 starts 2026-03-02 23:00 UTC = 2026-03-03 00:00 in Berlin: it belongs to March 3.
    const byDay = await queryMetric(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runs",
      from: "2026-03-02",
      to: "2026-03-04",
      granularity: "day",
    });
    expect(byDay.series[0].points).toEqual([
      { t: "2026-03-02T00:00:00+01:00", v: 3 },
      { t: "2026-03-03T00:00:00+01:00", v: 3 },
      { t: "2026-03-04T00:00:00+01:00", v: 1 },
    ]);
    const byStatus = await queryMetric(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runs",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      granularity: "month",
      groupBy: "status",
    });
    const totals = Object.fromEntries(byStatus.series.map((s) => [s.key, s.points[0].v]));
    expect(totals).toEqual({ completed: 7, failed: 3, cancelled: 1, running: 1 });
    // The 12th run (2026-03-14) is in the range too.
    expect(byStatus.series.reduce((n, s) => n + (s.points[0].v ?? 0), 0)).toBe(12);
  });

  it("KPI totals over a range with the previous period", async () => {
    const total = await queryMetricTotal(db.ownerPrisma, {
      workspace: workspace(),
      metric: "success_rate",
      from: "2026-03-09",
      to: "2026-03-15",
    });
    // Week of March 9: runs r8 completed, r9 failed, r10 completed, r11 completed → 3 of 4.
    expect(total.value).toBeCloseTo(75, 9);
    // Week of March 2: r0, r1, r3, r7 completed; r2, r6 failed; r4 cancelled → 4 of 7.
    expect(total.previous).toBeCloseTo(400 / 7, 9);
    const active = await queryMetricTotal(db.ownerPrisma, {
      workspace: workspace(),
      metric: "active_users",
      from: "2026-03-09",
      to: "2026-03-15",
    });
    expect(active.value).toBe(3);
    const cost = await queryMetricTotal(db.ownerPrisma, {
      workspace: workspace(),
      metric: "cost_usd",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
    });
    expect(cost.value).toBeCloseTo(0.012 + 0.006 + 0.03 + 0.0003 + 0.009 + 0.05 + 0.005, 9);
    const unpriced = await queryMetricTotal(db.ownerPrisma, {
      workspace: workspace(),
      metric: "unpriced_llm_calls",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
    });
    expect(unpriced.value).toBe(1);
  });

  it("groups credits by agent and tokens by user and stage", async () => {
    const credits = await queryMetric(db.ownerPrisma, {
      workspace: workspace(),
      metric: "credits",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      granularity: "month",
      groupBy: "agent",
    });
    const byKey = Object.fromEntries(credits.series.map((s) => [s.key, s.points[0].v]));
    expect(credits.series.map((s) => s.label).sort()).toEqual(["Agent 1", "Agent 2"]);
    const agentOf = async (external: string) =>
      (await db.owner.query<{ id: string }>(`SELECT id FROM public.agents WHERE external_id = $1`, [external])).rows[0]
        .id;
    expect(byKey).toEqual({
      [await agentOf("a1")]: 1.5 + 2.25 + 4 + 2 + 1,
      [await agentOf("a2")]: 0.5 + 3 + 1 + 0.25 + 5,
    });
    const tokens = await queryMetric(db.ownerPrisma, {
      workspace: workspace(),
      metric: "total_tokens",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      granularity: "month",
      groupBy: "user",
    });
    expect(Object.fromEntries(tokens.series.map((s) => [s.label, s.points[0].v]))).toEqual({
      "User 1": 1200 + 330 + 950,
      "User 2": 600 + 2400 + 3100,
      "User 3": 1800 + 480,
    });
    const stages = await queryMetric(db.ownerPrisma, {
      workspace: workspace(),
      metric: "prompt_tokens",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      granularity: "month",
      groupBy: "stage",
    });
    expect(Object.fromEntries(stages.series.map((s) => [s.key, s.points[0].v]))).toEqual({
      retrieve: 200,
      extract: 600,
    });
  });

  it("filters by agent and by user", async () => {
    const agentRuns = await queryMetricTotal(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runs",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      filters: { agentId: world.agentIds[0] },
    });
    const expected = await db.owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM public.agent_runs WHERE workspace_id = $1 AND agent_id = $2`,
      [world.workspaceId, world.agentIds[0]],
    );
    expect(agentRuns.value).toBe(expected.rows[0].n);
    const userRuns = await queryMetricTotal(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runs",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      filters: { userId: world.userIds[0] },
    });
    const expectedUser = await db.owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM public.agent_runs WHERE workspace_id = $1 AND user_id = $2`,
      [world.workspaceId, world.userIds[0]],
    );
    expect(userRuns.value).toBe(expectedUser.rows[0].n);
  });
});

describe("clear 400s", () => {
  const base = {
    workspace: { id: "00000000-0000-0000-0000-000000000000", timezone: "UTC" },
    from: "2026-01-01",
    to: "2026-01-31",
    granularity: "day",
  };
  it.each([
    [{ metric: "nope" }, "unknown_metric", /Unknown metric "nope"/],
    [{ metric: "runs", groupBy: "color" }, "invalid_group_by", /Unknown groupBy/],
    [{ metric: "active_users", groupBy: "model" }, "invalid_group_by", /cannot be grouped by "model"/],
    [{ metric: "runs", granularity: "minute" }, "invalid_granularity", /Use one of: hour, day, week, month/],
    [{ metric: "runs", from: "2026-02-01" }, "invalid_range", /must be before/],
    [{ metric: "runs", from: "yesterday" }, "invalid_range", /YYYY-MM-DD/],
    [{ metric: "runs", granularity: "hour", from: "2025-01-01" }, "too_many_buckets", /coarser granularity/],
    [{ metric: "runs", filters: { agentId: "x" } }, "invalid_filter", /must be a UUID/],
    [{ metric: "runs", filters: { provider: "openai" } }, "invalid_filter", /cannot be filtered by "provider"/],
  ])("%j → %s", async (override, code, message) => {
    const error = await queryMetric(db.ownerPrisma, { ...base, ...override }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricQueryError);
    expect((error as MetricQueryError).code).toBe(code);
    expect((error as MetricQueryError).message).toMatch(message);
  });

  it("refuses a combination no rollup serves, saying what is supported", async () => {
    const error = await queryMetric(db.ownerPrisma, {
      ...base,
      metric: "runs",
      granularity: "hour",
      to: "2026-01-02",
      groupBy: "user",
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetricQueryError);
    expect((error as MetricQueryError).message).toMatch(/Supported: granularity hour\/day/);
  });
});

describe("queryMetricBreakdown", () => {
  it("gives exact per-group values over the whole range", async () => {
    const { queryMetricBreakdown } = await import("./query");
    const rows = await queryMetricBreakdown(db.ownerPrisma, {
      workspace: workspace(),
      metric: "success_rate",
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      groupBy: "agent",
    });
    const { rows: raw } = await db.owner.query<{ agent_id: string; rate: number }>(
      `SELECT agent_id::text, (100.0 * count(*) FILTER (WHERE status = 'completed') / count(*) FILTER (WHERE status <> 'running'))::float8 AS rate
       FROM public.agent_runs WHERE workspace_id = $1 GROUP BY 1`,
      [world.workspaceId],
    );
    expect(rows).toHaveLength(2);
    for (const r of raw) expect(rows.find((x) => x.key === r.agent_id)?.value).toBeCloseTo(r.rate, 9);
    // Sorted by value, largest first.
    expect((rows[0].value ?? 0) >= (rows[1].value ?? 0)).toBe(true);
  });
});

describe("queryMetricColumns", () => {
  const LLM_COLUMNS = ["total_tokens", "prompt_tokens", "completion_tokens"] as const;

  it("gives every group's own value of every column, equal to SQL over raw rows (one scan)", async () => {
    const { queryMetricColumns } = await import("./query");
    const rows = await queryMetricColumns(db.ownerPrisma, {
      workspace: workspace(),
      metrics: [...LLM_COLUMNS, "cost_usd", "llm_calls", "unpriced_llm_calls"],
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      groupBy: "user",
    });
    const { rows: raw } = await db.owner.query<Record<string, number> & { user_id: string }>(
      `SELECT user_id::text, sum(prompt_tokens + completion_tokens)::float8 AS total_tokens,
              sum(prompt_tokens)::float8 AS prompt_tokens, sum(completion_tokens)::float8 AS completion_tokens,
              coalesce(sum(total_cost_usd), 0)::float8 AS cost_usd, count(*)::float8 AS llm_calls,
              (count(*) FILTER (WHERE total_cost_usd IS NULL))::float8 AS unpriced_llm_calls
       FROM public.llm_usage_logs WHERE workspace_id = $1
         AND (created_at AT TIME ZONE $2)::date BETWEEN $3::date AND $4::date
       GROUP BY 1 ORDER BY total_tokens DESC, 1`,
      [world.workspaceId, WORLD_TZ, WORLD_FROM_DAY, WORLD_TO_DAY],
    );
    expect(rows.map((r) => r.key)).toEqual(raw.map((r) => r.user_id));
    for (const r of raw) {
      const row = rows.find((x) => x.key === r.user_id);
      for (const metric of LLM_COLUMNS)
        expect(row?.values[metric], `${metric} of ${r.user_id}`).toBeCloseTo(r[metric], 6);
    }
  });

  it("a group in the top by the first column shows its real value in the others, not 0", async () => {
    const { queryMetricColumns, queryMetricBreakdown } = await import("./query");
    const ws = await db.owner.query<{ id: string }>(
      `INSERT INTO public.workspaces (slug, name, timezone) VALUES ('columns', 'Columns', 'UTC') RETURNING id`,
    );
    const id = ws.rows[0].id;
    const users = await db.owner.query<{ id: string; external_id: string }>(
      `INSERT INTO public.users (workspace_id, external_id, created_at)
       VALUES ($1, 'many-cheap-tokens', '2026-03-01'), ($1, 'few-dear-tokens', '2026-03-01') RETURNING id, external_id`,
      [id],
    );
    const [cheap, dear] = users.rows;
    await db.owner.query(
      `INSERT INTO public.llm_usage_logs (workspace_id, user_id, provider, model, prompt_tokens, completion_tokens,
                                          total_cost_usd, cost_source, latency_ms, created_at)
       VALUES ($1, $2, 'local', 'small', 90000, 10000, 0.01, 'reported', 100, '2026-03-05 10:00+00'),
              ($1, $3, 'openai', 'large', 900, 100, 5, 'reported', 100, '2026-03-05 11:00+00')`,
      [id, cheap.id, dear.id],
    );
    await refreshWorldRollups(db.owner, id);
    const input = {
      workspace: { id, timezone: "UTC" },
      from: "2026-03-01",
      to: "2026-03-10",
      groupBy: "user",
      limit: 1,
    };
    // The only top-1 row by tokens is the cheap user; by cost alone it would not be in the list.
    const byCost = await queryMetricBreakdown(db.ownerPrisma, { ...input, metric: "cost_usd" });
    expect(byCost.map((r) => r.key)).toEqual([dear.id]);
    const rows = await queryMetricColumns(db.ownerPrisma, { ...input, metrics: ["total_tokens", "cost_usd"] });
    expect(rows).toEqual([
      { key: cheap.id, label: "many-cheap-tokens", values: { total_tokens: 100000, cost_usd: 0.01 } },
    ]);
  });

  it("reads metric by metric, for the first metric's top groups, when the columns come from different rollups", async () => {
    const { queryMetricColumns } = await import("./query");
    const rows = await queryMetricColumns(db.ownerPrisma, {
      workspace: workspace(),
      metrics: ["runs", "total_tokens", "runtime_p95"],
      from: WORLD_FROM_DAY,
      to: WORLD_TO_DAY,
      groupBy: "agent",
    });
    const { rows: raw } = await db.owner.query<{ agent_id: string; runs: number; tokens: number }>(
      `SELECT a.id::text AS agent_id,
              (SELECT count(*) FROM public.agent_runs r WHERE r.agent_id = a.id
                 AND (r.started_at AT TIME ZONE $2)::date BETWEEN $3::date AND $4::date)::float8 AS runs,
              (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM public.llm_usage_logs l WHERE l.agent_id = a.id
                 AND (l.created_at AT TIME ZONE $2)::date BETWEEN $3::date AND $4::date)::float8 AS tokens
       FROM public.agents a WHERE a.workspace_id = $1 ORDER BY runs DESC, 1`,
      [world.workspaceId, WORLD_TZ, WORLD_FROM_DAY, WORLD_TO_DAY],
    );
    expect(rows.map((r) => [r.key, r.values.runs, r.values.total_tokens])).toEqual(
      raw.map((r) => [r.agent_id, r.runs, r.tokens]),
    );
    for (const row of rows) expect(row.values.runtime_p95).toBeGreaterThan(0);
  });
});
