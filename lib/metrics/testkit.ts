import type pg from "pg";

/**
 * A small hand-made world for the metric tests (and the API test): one workspace in Europe/Berlin,
 * 3 tracked users, 2 agents, runs of every status over two weeks (some across local midnight),
 * LLM calls (priced and unpriced), run stages and activity events; then the rollup functions of
 * migrations 0020/0025 recompute every rollup the catalogue reads, exactly as the engine would.
 */
export const WORLD_TZ = "Europe/Berlin";
export const WORLD_FROM_DAY = "2026-03-02"; // a Monday
export const WORLD_TO_DAY = "2026-03-15"; // a Sunday

export type MetricWorld = { workspaceId: string; agentIds: string[]; userIds: string[] };

export async function buildMetricWorld(owner: pg.Pool, slug = "metrics-world"): Promise<MetricWorld> {
  const ws = await owner.query<{ id: string }>(
    `INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, 'Metrics world', $2) RETURNING id`,
    [slug, WORLD_TZ],
  );
  const workspaceId = ws.rows[0].id;
  await owner.query(
    `INSERT INTO public.users (workspace_id, external_id, name, created_at)
     SELECT $1, 'u' || i, 'User ' || i, timestamptz '2026-03-01 00:00+00' FROM generate_series(1, 3) i`,
    [workspaceId],
  );
  await owner.query(
    `INSERT INTO public.agents (workspace_id, external_id, name)
     SELECT $1, 'a' || i, 'Agent ' || i FROM generate_series(1, 2) i`,
    [workspaceId],
  );
  // Index i is "User i+1" / "Agent i+1".
  const ids = async (table: string) =>
    (
      await owner.query<{ id: string }>(`SELECT id FROM public.${table} WHERE workspace_id = $1 ORDER BY external_id`, [
        workspaceId,
      ])
    ).rows.map((r) => r.id);
  const userIds = await ids("users");
  const agentIds = await ids("agents");
  // Runs: (day offset, hour UTC, user#, agent#, status, runtime s, credits, model, error_type)
  const runs: [number, number, number, number, string, number | null, number, string | null, string | null][] = [
    [0, 8, 0, 0, "completed", 12, 1.5, "gpt-4o", null],
    [0, 9, 1, 0, "completed", 30, 2.25, "gpt-4o", null],
    [0, 10, 1, 1, "failed", 5, 0.5, "claude-3", "timeout"],
    [0, 23, 2, 1, "completed", 60, 3, "claude-3", null], // 00:xx local on day 1
    [1, 7, 0, 0, "cancelled", 2, 0, "gpt-4o", null],
    [1, 12, 2, 0, "running", null, 0, "gpt-4o", null],
    [2, 14, 0, 1, "failed", 8, 1, null, "rate_limit"],
    [3, 6, 1, 0, "completed", 45.5, 4, "gpt-4o", null],
    [7, 10, 0, 0, "completed", 20, 2, "gpt-4o", null],
    [7, 11, 2, 1, "failed", 3, 0.25, "claude-3", "timeout"],
    [8, 15, 1, 1, "completed", 90, 5, "claude-3", null],
    [12, 16, 2, 0, "completed", 15, 1, "gpt-4o", null],
  ];
  for (const [i, [day, hour, u, a, status, runtime, credits, model, errorType]] of runs.entries()) {
    await owner.query(
      `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
         runtime_seconds, credits_consumed, model, error_type, rating)
       VALUES ($1, $2, $3, $4, $5,
         ($6::date + make_interval(days => $7::int, hours => $8::int)) AT TIME ZONE 'UTC',
         CASE WHEN $9::numeric IS NULL THEN NULL
              ELSE ($6::date + make_interval(days => $7::int, hours => $8::int)) AT TIME ZONE 'UTC' + make_interval(secs => $9::numeric::float8) END,
         $9, $10, $11, $12, $13)`,
      [
        workspaceId,
        `r${i}`,
        agentIds[a],
        userIds[u],
        status,
        WORLD_FROM_DAY,
        day,
        hour,
        runtime,
        credits,
        model,
        errorType,
        (i % 5) + 1,
      ],
    );
  }
  // Stages for the first two runs.
  await owner.query(
    `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, model, prompt_tokens, completion_tokens, cost_usd, duration_ms, status, started_at)
     SELECT r.workspace_id, r.id, s.idx, s.name, r.model, s.p, s.c, s.cost, s.ms, 'completed', r.started_at
     FROM public.agent_runs r
     CROSS JOIN (VALUES (0, 'retrieve', 100, 10, 0.001::numeric, 500), (1, 'extract', 300, 50, 0.004::numeric, 1500)) AS s(idx, name, p, c, cost, ms)
     WHERE r.workspace_id = $1 AND r.external_id IN ('r0', 'r1')`,
    [workspaceId],
  );
  // LLM calls: (day, hour UTC, user#, agent#|null, provider, model, prompt, completion, cost|null, latency)
  const calls: [number, number, number, number | null, string, string, number, number, number | null, number][] = [
    [0, 8, 0, 0, "openai", "gpt-4o", 1000, 200, 0.012, 800],
    [0, 9, 1, 0, "openai", "gpt-4o", 500, 100, 0.006, 1200],
    [0, 10, 1, 1, "anthropic", "claude-3", 2000, 400, null, 2500],
    [0, 23, 2, 1, "anthropic", "claude-3", 1500, 300, 0.03, 1800],
    [2, 14, 0, null, "openai", "gpt-4o-mini", 300, 30, 0.0003, 300],
    [7, 10, 0, 0, "openai", "gpt-4o", 800, 150, 0.009, 950],
    [8, 15, 1, 1, "anthropic", "claude-3", 2500, 600, 0.05, 4000],
    [12, 16, 2, 0, "openai", "gpt-4o", 400, 80, 0.005, 700],
  ];
  for (const [day, hour, u, a, provider, model, p, c, cost, latency] of calls) {
    await owner.query(
      `INSERT INTO public.llm_usage_logs (workspace_id, agent_id, user_id, provider, model, prompt_tokens, completion_tokens,
         total_cost_usd, cost_source, latency_ms, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::numeric IS NULL THEN 'unpriced' ELSE 'reported' END, $9,
         ($10::date + make_interval(days => $11::int, hours => $12::int, mins => 30)) AT TIME ZONE 'UTC')`,
      [
        workspaceId,
        a === null ? null : agentIds[a],
        userIds[u],
        provider,
        model,
        p,
        c,
        cost,
        latency,
        WORLD_FROM_DAY,
        day,
        hour,
      ],
    );
  }
  // Activity events: user 3 only browses on day 10 (active without runs).
  await owner.query(
    `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, created_at)
     VALUES ($1, $2, 'page_view', timestamptz '2026-03-12 09:00+00'), ($1, $3, 'login', timestamptz '2026-03-03 20:00+00')`,
    [workspaceId, userIds[2], userIds[0]],
  );
  await refreshWorldRollups(owner, workspaceId);
  return { workspaceId, agentIds, userIds };
}

/** Recomputes every rollup of the world's days (owner: the rollup functions are the worker's). */
export async function refreshWorldRollups(owner: pg.Pool, workspaceId: string): Promise<void> {
  const from = "2026-02-25";
  const to = "2026-03-20";
  await owner.query(`SELECT analytics.rollup_run_dimensions($1, $2, $3)`, [workspaceId, from, to]);
  await owner.query(`SELECT analytics.rollup_llm_dimensions($1, $2, $3)`, [workspaceId, from, to]);
  await owner.query(`SELECT analytics.rollup_stage_dimensions($1, $2, $3)`, [workspaceId, from, to]);
  await owner.query(
    `SELECT analytics.rollup_user_daily_activity($1, ARRAY(SELECT d::date FROM generate_series($2::date, $3::date, interval '1 day') d))`,
    [workspaceId, from, to],
  );
  await owner.query(
    `SELECT analytics.rollup_hourly_metrics($1, ARRAY(SELECT h FROM generate_series($2::timestamptz, $3::timestamptz, interval '1 hour') h))`,
    [workspaceId, `${from}T00:00:00Z`, `${to}T00:00:00Z`],
  );
  await owner.query(
    `SELECT analytics.rollup_daily_metrics($1, ARRAY(SELECT d::date FROM generate_series($2::date, $3::date, interval '1 day') d))`,
    [workspaceId, from, to],
  );
}

/**
 * Traffic around 2026-03-09..11 for the window tests (lib/metrics/window.test.ts, the alert
 * evaluator's): 600 runs, one every 7 min 13 s from 00:04 UTC with varying statuses and runtimes,
 * and 500 LLM calls, one every 8 min 31 s (every 9th unpriced), spread round robin over the given
 * agents and users; then the run and LLM dimension rollups of those days.
 */
export async function insertWindowTraffic(
  owner: pg.Pool,
  workspaceId: string,
  agentIds: string[],
  userIds: string[],
): Promise<void> {
  await owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
       runtime_seconds, credits_consumed, model)
     SELECT $1, 'r' || i, ($2::uuid[])[1 + i % cardinality($2::uuid[])], ($3::uuid[])[1 + i % cardinality($3::uuid[])],
            s.status, st,
            CASE WHEN s.status = 'running' THEN NULL ELSE st + make_interval(secs => rt) END,
            CASE WHEN s.status = 'running' THEN NULL ELSE rt END,
            (i % 7) * 0.75, CASE WHEN i % 2 = 0 THEN 'gpt-4o' ELSE 'claude-3' END
     FROM generate_series(1, 600) i
     CROSS JOIN LATERAL (SELECT timestamptz '2026-03-09 00:04:00+00' + i * interval '433 seconds' AS st,
                                ((i * 37) % 600) / 10.0 + 1 AS rt,
                                (ARRAY['completed', 'completed', 'failed', 'cancelled', 'completed', 'running'])[1 + i % 6] AS status) s`,
    [workspaceId, agentIds, userIds],
  );
  await owner.query(
    `INSERT INTO public.llm_usage_logs (workspace_id, agent_id, user_id, provider, model, prompt_tokens, completion_tokens,
       total_cost_usd, cost_source, latency_ms, created_at)
     SELECT $1, ($2::uuid[])[1 + i % cardinality($2::uuid[])], ($3::uuid[])[1 + i % cardinality($3::uuid[])],
            'openai', 'gpt-4o', 100 + i, 10 + i % 50,
            CASE WHEN i % 9 = 0 THEN NULL ELSE (i % 13) * 0.0125 END,
            CASE WHEN i % 9 = 0 THEN 'unpriced' ELSE 'reported' END,
            200 + (i * 53) % 3000, timestamptz '2026-03-09 00:02:00+00' + i * interval '511 seconds'
     FROM generate_series(1, 500) i`,
    [workspaceId, agentIds, userIds],
  );
  await owner.query(`SELECT analytics.rollup_run_dimensions($1, '2026-03-07', '2026-03-14')`, [workspaceId]);
  await owner.query(`SELECT analytics.rollup_llm_dimensions($1, '2026-03-07', '2026-03-14')`, [workspaceId]);
}
