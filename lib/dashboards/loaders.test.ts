import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { WORLD_TZ, buildMetricWorld, refreshWorldRollups, type MetricWorld } from "@/lib/metrics/testkit";
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
      runtime_avg: number;
      p95: number;
      last_run_hour: string;
    }>(
      `SELECT agent_id::text, count(*)::float8 AS runs,
              (100.0 * count(*) FILTER (WHERE status = 'completed') / count(*) FILTER (WHERE status <> 'running'))::float8 AS rate,
              (percentile_cont(0.5) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::float8 AS p50,
              sum(credits_consumed)::float8 AS credits, count(DISTINCT user_id)::float8 AS users, avg(rating)::float8 AS rating,
              (avg(runtime_seconds) FILTER (WHERE status <> 'running'))::float8 AS runtime_avg,
              (percentile_cont(0.95) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::float8 AS p95,
              to_char(date_trunc('hour', max(started_at) AT TIME ZONE $2), 'YYYY-MM-DD HH24:00') AS last_run_hour
       FROM public.agent_runs WHERE workspace_id = $1 GROUP BY 1`,
      [world.workspaceId, WORLD_TZ],
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
      expect(row?.runtime_avg).toBeCloseTo(r.runtime_avg, 9);
      expect(Math.abs((row?.runtime_p95 ?? 0) - r.p95)).toBeLessThanOrEqual(r.p95 * 0.0101);
      expect(row?.last_run_hour).toBe(r.last_run_hour);
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

  it("platform summary: each workspace's own local days (a :30 zone too), equal to SQL over raw rows", async () => {
    // Kolkata (UTC+5:30): its day starts at 18:30 UTC, inside a UTC hour.
    const ws = await db.owner.query<{ id: string }>(
      `INSERT INTO public.workspaces (slug, name, timezone) VALUES ('kolkata', 'Kolkata', 'Asia/Kolkata') RETURNING id`,
    );
    const kolkata = ws.rows[0].id;
    const user = await db.owner.query<{ id: string }>(
      `INSERT INTO public.users (workspace_id, external_id, created_at) VALUES ($1, 'k1', '2026-03-01') RETURNING id`,
      [kolkata],
    );
    const agent = await db.owner.query<{ id: string }>(
      `INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'ka', 'K agent') RETURNING id`,
      [kolkata],
    );
    // 18:10 UTC = 23:40 on March 4 locally; 18:40 UTC = 00:10 on March 5; 18:55 UTC = 00:25 March 5.
    await db.owner.query(
      `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
                                      runtime_seconds, credits_consumed, model)
       VALUES ($1, 'k-r1', $2, $3, 'completed', '2026-03-04 18:10+00', '2026-03-04 18:11+00', 60, 1.5, 'gpt-4o'),
              ($1, 'k-r2', $2, $3, 'completed', '2026-03-04 18:40+00', '2026-03-04 18:41+00', 60, 2.25, 'gpt-4o'),
              ($1, 'k-r3', $2, $3, 'failed',    '2026-03-04 18:55+00', '2026-03-04 18:56+00', 60, 4, 'gpt-4o')`,
      [kolkata, agent.rows[0].id, user.rows[0].id],
    );
    await db.owner.query(
      `INSERT INTO public.llm_usage_logs (workspace_id, user_id, provider, model, prompt_tokens, completion_tokens,
                                          total_cost_usd, cost_source, latency_ms, created_at)
       VALUES ($1, $2, 'openai', 'gpt-4o', 10, 5, 0.5, 'reported', 900, '2026-03-04 18:20+00'),
              ($1, $2, 'openai', 'gpt-4o', 10, 5, 0.25, 'reported', 900, '2026-03-04 18:45+00')`,
      [kolkata, user.rows[0].id],
    );
    await refreshWorldRollups(db.owner, kolkata);
    const admin = await db.owner.query<{ id: string }>(
      `INSERT INTO public.accounts (email, is_platform_admin) VALUES ('platform@example.com', true) RETURNING id`,
    );
    for (const [from, to] of [
      ["2026-03-05", "2026-03-05"],
      ["2026-03-02", "2026-03-15"],
    ]) {
      const summary = await platformSummary(admin.rows[0].id, from, to, db.appPrisma);
      const { rows: expected } = await db.owner.query<{ id: string; runs: number; credits: number; cost: number }>(
        `SELECT w.id::text AS id,
                (SELECT count(*) FROM public.agent_runs r WHERE r.workspace_id = w.id
                   AND (r.started_at AT TIME ZONE w.timezone)::date BETWEEN $1 AND $2)::float8 AS runs,
                (SELECT coalesce(sum(credits_consumed), 0) FROM public.agent_runs r WHERE r.workspace_id = w.id
                   AND (r.started_at AT TIME ZONE w.timezone)::date BETWEEN $1 AND $2)::float8 AS credits,
                (SELECT coalesce(sum(total_cost_usd), 0) FROM public.llm_usage_logs l WHERE l.workspace_id = w.id
                   AND (l.created_at AT TIME ZONE w.timezone)::date BETWEEN $1 AND $2)::float8 AS cost
         FROM public.workspaces w ORDER BY 1`,
        [from, to],
      );
      expect(
        summary
          .map((r) => ({ id: r.workspace_id, runs: r.runs, credits: r.credits, cost: r.cost_usd }))
          .sort((a, b) => a.id.localeCompare(b.id)),
        `${from}..${to}`,
      ).toEqual(expected);
    }
    // March 5 in Kolkata: the two runs after local midnight only.
    const march5 = await platformSummary(admin.rows[0].id, "2026-03-05", "2026-03-05", db.appPrisma);
    expect(march5.find((r) => r.slug === "kolkata")).toMatchObject({ runs: 2, credits: 6.25, cost_usd: 0.25 });
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
