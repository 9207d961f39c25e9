import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertWindowTraffic } from "@/lib/metrics/testkit";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { MetricQueryError } from "./errors";
import { queryMetricWindow } from "./window";

/**
 * queryMetricWindow over windows that do not start or end on an hour (or a local day), against SQL
 * over the raw rows. The world is in Asia/Kolkata (+05:30), so local hours start at :30 UTC and a
 * UTC-hour rounding would also be caught. Runs and calls are spread every few minutes, so any
 * widening or narrowing of the window changes the numbers.
 */
const TZ = "Asia/Kolkata";
let db: TestDatabase;
let workspaceId: string;
let userIds: string[];
let agentIds: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  const owner = db.owner;
  workspaceId = (
    await owner.query<{ id: string }>(
      `INSERT INTO public.workspaces (slug, name, timezone) VALUES ('window', 'Window', $1) RETURNING id`,
      [TZ],
    )
  ).rows[0].id;
  await owner.query(
    `INSERT INTO public.users (workspace_id, external_id, name) SELECT $1, 'u' || i, 'User ' || i FROM generate_series(1, 5) i`,
    [workspaceId],
  );
  await owner.query(
    `INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'a' || i, 'Agent ' || i FROM generate_series(1, 3) i`,
    [workspaceId],
  );
  const ids = async (table: string) =>
    (
      await owner.query<{ id: string }>(`SELECT id FROM public.${table} WHERE workspace_id = $1 ORDER BY external_id`, [
        workspaceId,
      ])
    ).rows.map((r) => r.id);
  userIds = await ids("users");
  agentIds = await ids("agents");
  await insertWindowTraffic(owner, workspaceId, agentIds, userIds);
});
afterAll(async () => {
  await db?.drop();
});

const workspace = () => ({ id: workspaceId, timezone: TZ });
// The last 90 minutes at 2026-03-10 13:47:20 UTC: from 12:17:20 (inside the local hour 11:30–12:30
// UTC), one whole local hour 12:30–13:30, to 13:47:20 (inside 13:30–14:30).
const TO = new Date("2026-03-10T13:47:20Z");
const FROM = new Date(TO.getTime() - 90 * 60_000);

async function rawNumber(sql: string, params: unknown[]): Promise<number | null> {
  const { rows } = await db.owner.query<{ v: number | null }>(sql, params);
  return rows[0]?.v ?? null;
}

describe("queryMetricWindow: exact over a window that is not hour-aligned", () => {
  it("sums: runs, credits and cost over the last 90 minutes equal SQL over raw rows", async () => {
    for (const [metric, sql] of [
      [
        "runs",
        `SELECT count(*)::float8 AS v FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3`,
      ],
      [
        "credits",
        `SELECT sum(credits_consumed)::float8 AS v FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3`,
      ],
      [
        "cost_usd",
        `SELECT sum(total_cost_usd)::float8 AS v FROM public.llm_usage_logs WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3`,
      ],
      [
        "unpriced_llm_calls",
        `SELECT count(*) FILTER (WHERE total_cost_usd IS NULL)::float8 AS v FROM public.llm_usage_logs WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3`,
      ],
    ] as const) {
      const expected = await rawNumber(sql, [workspaceId, FROM, TO]);
      const result = await queryMetricWindow(db.ownerPrisma, { workspace: workspace(), metric, from: FROM, to: TO });
      expect(result.resolution).toBe("exact");
      expect(result.series).toHaveLength(1);
      expect(result.series[0].value, metric).toBeCloseTo(expected ?? 0, 9);
    }
    // The numbers themselves, so a broken oracle cannot pass: 90 min / 433 s → 12 or 13 runs.
    const runs = await queryMetricWindow(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runs",
      from: FROM,
      to: TO,
    });
    expect(runs.series[0].value).toBe(12);
  });

  it("a rate: error rate over the last 90 minutes is failed ÷ finished of exactly those runs", async () => {
    const expected = await rawNumber(
      `SELECT (100.0 * count(*) FILTER (WHERE status = 'failed') / count(*) FILTER (WHERE status <> 'running'))::float8 AS v
       FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3`,
      [workspaceId, FROM, TO],
    );
    const result = await queryMetricWindow(db.ownerPrisma, {
      workspace: workspace(),
      metric: "error_rate",
      from: FROM,
      to: TO,
    });
    expect(expected).not.toBeNull();
    expect(result.series[0].value).toBeCloseTo(expected ?? -1, 9);
    // And it differs from the same rate over the whole local hours the window touches (the old rounding).
    const widened = await rawNumber(
      `SELECT (100.0 * count(*) FILTER (WHERE status = 'failed') / count(*) FILTER (WHERE status <> 'running'))::float8 AS v
       FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3`,
      [workspaceId, new Date("2026-03-10T11:30:00Z"), new Date("2026-03-10T14:30:00Z")],
    );
    expect(widened).not.toBeCloseTo(expected ?? -1, 3);
  });

  it("a percentile: runtime p95 equals the histogram quantile of exactly those runs and is within 1 % of percentile_cont", async () => {
    const result = await queryMetricWindow(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runtime_p95",
      from: FROM,
      to: TO,
    });
    const sameHistogram = await rawNumber(
      `SELECT ((analytics.log_hist_quantiles(array_agg(analytics.log_hist_key((runtime_seconds * 1000)::float8)),
                 array_agg(1), ARRAY[0.95::float8]))[1] / 1000)::float8 AS v
       FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3
         AND status <> 'running' AND runtime_seconds IS NOT NULL`,
      [workspaceId, FROM, TO],
    );
    const exact = await rawNumber(
      `SELECT (percentile_cont(0.95) WITHIN GROUP (ORDER BY runtime_seconds))::float8 AS v
       FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3
         AND status <> 'running' AND runtime_seconds IS NOT NULL`,
      [workspaceId, FROM, TO],
    );
    expect(result.series[0].value).toBeCloseTo(sameHistogram ?? -1, 9);
    expect(Math.abs((result.series[0].value ?? 0) - (exact ?? 0))).toBeLessThanOrEqual((exact ?? 0) * 0.0101);
  });

  it("a window inside one local hour, and one spanning many hours, are exact too", async () => {
    for (const [from, to] of [
      [new Date("2026-03-10T12:35:00Z"), new Date("2026-03-10T13:05:00Z")],
      [new Date("2026-03-09T03:11:00Z"), new Date("2026-03-11T17:59:00Z")],
    ] as const) {
      const expected = await rawNumber(
        `SELECT (sum(runtime_seconds) / count(runtime_seconds))::float8 AS v FROM public.agent_runs
         WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3 AND status <> 'running'`,
        [workspaceId, from, to],
      );
      const result = await queryMetricWindow(db.ownerPrisma, {
        workspace: workspace(),
        metric: "runtime_avg",
        from,
        to,
      });
      expect(result.series[0].value).toBeCloseTo(expected ?? -1, 6);
    }
  });
});

describe("queryMetricWindow per series", () => {
  // 42 hours ending mid-afternoon local: two partial local days at the edges, one whole day inside.
  const to = new Date("2026-03-11T09:13:00Z");
  const from = new Date(to.getTime() - 42 * 3_600_000);

  it("cost per user (daily rollup + raw edges) equals SQL over raw rows, every user", async () => {
    const { rows } = await db.owner.query<{ k: string; v: number }>(
      `SELECT user_id::text AS k, coalesce(sum(total_cost_usd), 0)::float8 AS v FROM public.llm_usage_logs
       WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1`,
      [workspaceId, from, to],
    );
    const result = await queryMetricWindow(db.ownerPrisma, {
      workspace: workspace(),
      metric: "cost_usd",
      from,
      to,
      groupBy: "user",
    });
    expect(result.series).toHaveLength(5);
    expect(result.truncated).toBe(false);
    for (const row of rows) {
      const series = result.series.find((s) => s.key === row.k);
      expect(series?.value, row.k).toBeCloseTo(row.v, 9);
      expect(series?.label).toMatch(/^User \d$/);
    }
  });

  it("success rate and runtime p95 per user and per agent equal SQL over raw rows", async () => {
    for (const [groupBy, column] of [
      ["user", "user_id"],
      ["agent", "agent_id"],
    ] as const) {
      const { rows } = await db.owner.query<{ k: string; rate: number; p95: number }>(
        `SELECT ${column}::text AS k,
                (100.0 * count(*) FILTER (WHERE status = 'completed') / nullif(count(*) FILTER (WHERE status <> 'running'), 0))::float8 AS rate,
                ((analytics.log_hist_quantiles(array_agg(analytics.log_hist_key((runtime_seconds * 1000)::float8))
                   FILTER (WHERE status <> 'running'), array_agg(1) FILTER (WHERE status <> 'running'), ARRAY[0.95::float8]))[1] / 1000)::float8 AS p95
         FROM public.agent_runs WHERE workspace_id = $1 AND started_at >= $2 AND started_at < $3 GROUP BY 1`,
        [workspaceId, from, to],
      );
      const rate = await queryMetricWindow(db.ownerPrisma, {
        workspace: workspace(),
        metric: "success_rate",
        from,
        to,
        groupBy,
      });
      const p95 = await queryMetricWindow(db.ownerPrisma, {
        workspace: workspace(),
        metric: "runtime_p95",
        from,
        to,
        groupBy,
      });
      expect(rate.series).toHaveLength(rows.length);
      for (const row of rows) {
        expect(rate.series.find((s) => s.key === row.k)?.value, `${groupBy} ${row.k}`).toBeCloseTo(row.rate, 9);
        expect(p95.series.find((s) => s.key === row.k)?.value, `${groupBy} ${row.k}`).toBeCloseTo(row.p95, 9);
      }
    }
  });

  it("caps the series and says so", async () => {
    const result = await queryMetricWindow(db.ownerPrisma, {
      workspace: workspace(),
      metric: "runs",
      from,
      to,
      groupBy: "user",
      maxSeries: 2,
    });
    expect(result.series).toHaveLength(2);
    expect(result.truncated).toBe(true);
    expect(result.series[0].value ?? 0).toBeGreaterThanOrEqual(result.series[1].value ?? 0);
  });

  it("active users are answered at day resolution and say so", async () => {
    await db.owner.query(
      `SELECT analytics.rollup_user_daily_activity($1, ARRAY(SELECT d::date FROM generate_series('2026-03-08'::date, '2026-03-12'::date, interval '1 day') d))`,
      [workspaceId],
    );
    const result = await queryMetricWindow(db.ownerPrisma, {
      workspace: workspace(),
      metric: "active_users",
      from,
      to,
    });
    expect(result.resolution).toBe("day");
    // 2026-03-09 15:13 UTC = 20:43 local on the 9th → the local days 9th, 10th and 11th.
    expect(result.from.toISOString()).toBe("2026-03-08T18:30:00.000Z");
    expect(result.to.toISOString()).toBe("2026-03-11T18:30:00.000Z");
    expect(result.series[0].value).toBe(5);
  });

  it("refuses what no rollup keeps, and empty windows", async () => {
    await expect(
      queryMetricWindow(db.ownerPrisma, { workspace: workspace(), metric: "runs", from: to, to: from }),
    ).rejects.toBeInstanceOf(MetricQueryError);
    await expect(
      queryMetricWindow(db.ownerPrisma, {
        workspace: workspace(),
        metric: "runs",
        from,
        to,
        groupBy: "user",
        filters: { model: "gpt-4o" },
      }),
    ).rejects.toThrow(/no rollup keeps/);
  });
});
