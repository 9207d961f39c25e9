import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { WORLD_TZ, buildMetricWorld, type MetricWorld } from "@/lib/metrics/testkit";
import { agentStages, agentsTable } from "./agents";
import { cohortGrid, cohortOptions } from "./cohorts";
import { linkedTrackedUsers, myUsageScope } from "./me";
import { activeUsersRolling } from "./overview";
import { platformSummary } from "./platform";
import { dashboardRange } from "./range";
import type { DashboardScope } from "./scope";
import { kpi } from "./scope";

let db: TestDatabase;
let world: MetricWorld;
let memberId: string;
let outsiderId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  world = await buildMetricWorld(db.owner, "loaders-world");
  const member = await db.owner.query<{ id: string }>(
    `INSERT INTO public.accounts (email) VALUES ('member@example.com') RETURNING id`,
  );
  memberId = member.rows[0].id;
  await db.owner.query(
    `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'member')`,
    [world.workspaceId, memberId],
  );
  // An account that is no member but is linked to tracked user 1 ("My usage").
  const outsider = await db.owner.query<{ id: string }>(
    `INSERT INTO public.accounts (email) VALUES ('user1@example.com') RETURNING id`,
  );
  outsiderId = outsider.rows[0].id;
  await db.owner.query(`UPDATE public.users SET account_id = $1 WHERE id = $2`, [outsiderId, world.userIds[0]]);
  await db.owner.query(`SELECT analytics.rollup_cohorts($1, '2026-03-20'::date)`, [world.workspaceId]);
});
afterAll(async () => {
  await db?.drop();
});

function scope(
  params: Record<string, string> = { range: "custom", from: "2026-03-02", to: "2026-03-15" },
): DashboardScope {
  return {
    accountId: memberId,
    workspace: { id: world.workspaceId, slug: "loaders-world", name: "Metrics world", timezone: WORLD_TZ },
    range: dashboardRange(params, WORLD_TZ, new Date("2026-03-20T12:00:00Z")),
    filters: {},
    canSeeAllUsers: true,
    canExportUsers: true,
    searchParams: params,
    db: db.appPrisma,
  };
}

describe("dashboard loaders (app role, RLS) against raw rows", () => {
  it("agents table: runs, success rate, p50 runtime, credits, cost per successful run, users, rating", async () => {
    const rows = await agentsTable(scope());
    expect(rows).toHaveLength(2);
    const { rows: raw } = await db.owner.query<{
      agent_id: string;
      runs: number;
      rate: number;
      p50: number;
      credits: number;
      users: number;
      rating: number;
    }>(
      `SELECT agent_id::text, count(*)::float8 AS runs,
              (100.0 * count(*) FILTER (WHERE status = 'completed') / count(*) FILTER (WHERE status <> 'running'))::float8 AS rate,
              (percentile_cont(0.5) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::float8 AS p50,
              sum(credits_consumed)::float8 AS credits, count(DISTINCT user_id)::float8 AS users, avg(rating)::float8 AS rating
       FROM public.agent_runs WHERE workspace_id = $1 GROUP BY 1`,
      [world.workspaceId],
    );
    const { rows: cost } = await db.owner.query<{ agent_id: string; cost: number }>(
      `SELECT agent_id::text, coalesce(sum(total_cost_usd), 0)::float8 AS cost FROM public.llm_usage_logs
       WHERE workspace_id = $1 AND agent_id IS NOT NULL GROUP BY 1`,
      [world.workspaceId],
    );
    for (const r of raw) {
      const row = rows.find((x) => x.agent_id === r.agent_id);
      expect(row?.runs).toBe(r.runs);
      expect(row?.success_rate).toBeCloseTo(r.rate, 9);
      expect(Math.abs((row?.runtime_p50 ?? 0) - r.p50)).toBeLessThanOrEqual(r.p50 * 0.0101);
      expect(row?.credits).toBeCloseTo(r.credits, 9);
      expect(row?.unique_users).toBe(r.users);
      expect(row?.rating).toBeCloseTo(r.rating, 9);
      const completed = (
        await db.owner.query<{ n: number }>(
          `SELECT count(*)::float8 AS n FROM public.agent_runs WHERE workspace_id = $1 AND agent_id = $2 AND status = 'completed'`,
          [world.workspaceId, r.agent_id],
        )
      ).rows[0].n;
      expect(row?.cost_per_successful_run).toBeCloseTo(
        (cost.find((c) => c.agent_id === r.agent_id)?.cost ?? 0) / completed,
        9,
      );
    }
  });

  it("stage breakdown of one agent", async () => {
    const stages = await agentStages(scope(), world.agentIds[0]);
    expect(stages.map((s) => [s.stage, s.stages, s.prompt_tokens, s.completion_tokens])).toEqual(
      expect.arrayContaining([
        ["extract", 2, 600, 100],
        ["retrieve", 2, 200, 20],
      ]),
    );
    expect(stages.find((s) => s.stage === "extract")?.duration_avg_ms).toBe(1500);
  });

  it("DAU/WAU/MAU are rolling distinct counts", async () => {
    const days = await activeUsersRolling(scope());
    const { rows } = await db.owner.query<{ day: string; dau: number; wau: number; mau: number }>(
      `WITH a AS (
         SELECT user_id, (at AT TIME ZONE $2)::date AS day FROM (
           SELECT user_id, created_at AS at FROM analytics.user_activity WHERE workspace_id = $1
           UNION ALL SELECT user_id, started_at FROM public.agent_runs WHERE workspace_id = $1
           UNION ALL SELECT user_id, created_at FROM public.llm_usage_logs WHERE workspace_id = $1) x)
       SELECT to_char(d, 'YYYY-MM-DD') AS day,
              (SELECT count(DISTINCT user_id) FROM a WHERE a.day = d::date)::float8 AS dau,
              (SELECT count(DISTINCT user_id) FROM a WHERE a.day BETWEEN d::date - 6 AND d::date)::float8 AS wau,
              (SELECT count(DISTINCT user_id) FROM a WHERE a.day BETWEEN d::date - 29 AND d::date)::float8 AS mau
       FROM generate_series('2026-03-02'::date, '2026-03-15'::date, interval '1 day') d ORDER BY 1`,
      [world.workspaceId, WORLD_TZ],
    );
    expect(days).toEqual(rows);
    expect(days.at(-1)?.mau).toBe(3);
  });

  it("cohort grid equals analytics.user_cohorts, with a weighted average", async () => {
    const options = cohortOptions({ cohort: "weekly" });
    const grid = await cohortGrid(scope(), options);
    const { rows } = await db.owner.query<{
      cohort_date: string;
      initial_users: number;
      retention_data: { periods: { n: number; active: number | null; active_pct: number | null }[] };
    }>(
      `SELECT to_char(cohort_date, 'YYYY-MM-DD') AS cohort_date, initial_users, retention_data FROM analytics.user_cohorts
       WHERE workspace_id = $1 AND cohort_period = 'weekly' AND cohort_date BETWEEN '2026-03-02' AND '2026-03-15' ORDER BY 1`,
      [world.workspaceId],
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(grid.rows.map((r) => [r.cohortDate, r.initialUsers])).toEqual(
      rows.map((r) => [r.cohort_date, r.initial_users]),
    );
    for (const row of rows) {
      const gridRow = grid.rows.find((r) => r.cohortDate === row.cohort_date);
      for (const period of row.retention_data.periods.filter((p) => p.n < options.periods)) {
        expect(gridRow?.cells.find((c) => c.n === period.n)?.pct).toBe(period.active_pct);
      }
    }
    // All 3 users are first active in the week of March 2: period 0 is 100 %.
    expect(grid.average[0]).toMatchObject({ n: 0, pct: 100, count: 3 });
  });

  it("platform summary and My usage", async () => {
    const summary = await platformSummary(memberId, "2026-03-02", "2026-03-15", db.appPrisma);
    expect(summary).toHaveLength(1); // a member sees only their own workspace
    expect(summary[0]).toMatchObject({ runs: 12, members: 1, agents: 2, active_users: 3 });
    const linked = await linkedTrackedUsers(outsiderId, db.appPrisma);
    expect(linked).toHaveLength(1);
    const mine = myUsageScope(
      outsiderId,
      linked[0],
      { range: "custom", from: "2026-03-02", to: "2026-03-15" },
      db.appPrisma,
    );
    const runs = await kpi(mine, "runs");
    const { rows } = await db.owner.query<{ n: number }>(
      `SELECT count(*)::float8 AS n FROM public.agent_runs WHERE user_id = $1`,
      [world.userIds[0]],
    );
    expect(runs.value).toBe(rows[0].n);
  });
});
