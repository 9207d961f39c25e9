import type pg from "pg";
import type { BenchScale } from "./types";

export type ScaleSpec = {
  workspaces: number;
  usersPerWorkspace: number;
  agentsPerWorkspace: number;
  runs: number;
  activityEvents: number;
  llmCalls: number;
  days: number;
};

export const SCALES: Record<BenchScale, ScaleSpec> = {
  small: {
    workspaces: 2,
    usersPerWorkspace: 300,
    agentsPerWorkspace: 10,
    runs: 100_000,
    activityEvents: 200_000,
    llmCalls: 100_000,
    days: 90,
  },
  medium: {
    workspaces: 20,
    usersPerWorkspace: 2_000,
    agentsPerWorkspace: 25,
    runs: 10_000_000,
    activityEvents: 20_000_000,
    llmCalls: 10_000_000,
    days: 90,
  },
  large: {
    workspaces: 40,
    usersPerWorkspace: 5_000,
    agentsPerWorkspace: 40,
    runs: 30_000_000,
    activityEvents: 60_000_000,
    llmCalls: 30_000_000,
    days: 90,
  },
};

/**
 * The benchmark's bulk loader: rows are generated inside PostgreSQL (generate_series), one
 * statement per workspace-day per table, so loading tens of millions of rows is bounded by the
 * server's write speed, not by a client round trip per row. Deterministic given setseed().
 */
export async function loadBenchWorld(
  pool: pg.Pool,
  scale: ScaleSpec,
  onProgress: (done: number, total: number) => void,
): Promise<{ workspaceIds: string[] }> {
  await pool.query("SELECT setseed(0.42)");
  const workspaceIds: string[] = [];
  const zones = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"];
  for (let w = 0; w < scale.workspaces; w++) {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, $2, $3)
       ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
      [`bench-${w + 1}`, `Bench workspace ${w + 1}`, zones[w % zones.length]],
    );
    const workspaceId = rows[0].id;
    workspaceIds.push(workspaceId);
    await pool.query(
      `INSERT INTO public.users (workspace_id, external_id, email, created_at)
       SELECT $1, 'u-' || g, 'user' || g || '@bench.example', now() - ($3::int * random()) * interval '1 day'
       FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING`,
      [workspaceId, scale.usersPerWorkspace, scale.days],
    );
    await pool.query(
      `INSERT INTO public.agents (workspace_id, external_id, name)
       SELECT $1, 'a-' || g, 'Agent ' || g FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING`,
      [workspaceId, scale.agentsPerWorkspace],
    );
  }

  const steps = scale.workspaces * scale.days;
  const perStep = (n: number) => Math.max(1, Math.round(n / steps));
  let done = 0;
  for (const workspaceId of workspaceIds) {
    for (let day = scale.days; day >= 1; day--) {
      const params = [workspaceId, day];
      await pool.query(
        `WITH u AS (SELECT array_agg(id) AS ids FROM public.users WHERE workspace_id = $1),
              a AS (SELECT array_agg(id) AS ids FROM public.agents WHERE workspace_id = $1),
              g AS (
                SELECT n, date_trunc('day', now()) - $2::int * interval '1 day' + random() * interval '1 day' AS started,
                       random() AS r, 1 + random() * 120 AS runtime
                FROM generate_series(1, $3::int) n)
         INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
                                        runtime_seconds, credits_consumed, model, error_type, rating)
         SELECT $1, 'r-' || $2 || '-' || n, a.ids[1 + floor(random() * cardinality(a.ids))::int],
                u.ids[1 + floor(random() * cardinality(u.ids))::int],
                CASE WHEN r < 0.85 THEN 'completed' WHEN r < 0.95 THEN 'failed' ELSE 'cancelled' END,
                started, started + runtime * interval '1 second', round(runtime::numeric, 3),
                round((random() * 10)::numeric, 4),
                (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'])[1 + floor(random() * 3)::int],
                CASE WHEN r >= 0.85 AND r < 0.95 THEN (ARRAY['timeout', 'rate_limit', 'tool_error'])[1 + floor(random() * 3)::int] END,
                CASE WHEN random() < 0.2 THEN 1 + floor(random() * 5)::int END
         FROM g, u, a`,
        [...params, perStep(scale.runs)],
      );
      await pool.query(
        `WITH u AS (SELECT array_agg(id) AS ids FROM public.users WHERE workspace_id = $1)
         INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, session_id, created_at)
         SELECT $1, u.ids[1 + floor(random() * cardinality(u.ids))::int],
                (ARRAY['page_view','agent_run','login','logout','workspace_switch','feature_use','error','api_call','export','report_view'])[1 + floor(random() * 10)::int],
                gen_random_uuid(), date_trunc('day', now()) - $2::int * interval '1 day' + random() * interval '1 day'
         FROM generate_series(1, $3::int) n, u`,
        [...params, perStep(scale.activityEvents)],
      );
      await pool.query(
        `WITH u AS (SELECT array_agg(id) AS ids FROM public.users WHERE workspace_id = $1),
              a AS (SELECT array_agg(id) AS ids FROM public.agents WHERE workspace_id = $1),
              g AS (SELECT n, floor(random() * 4)::int AS m, 100 + floor(random() * 4000)::int AS p,
                           20 + floor(random() * 800)::int AS c FROM generate_series(1, $3::int) n)
         INSERT INTO public.llm_usage_logs (workspace_id, user_id, agent_id, provider, model, prompt_tokens,
                  completion_tokens, input_cost_usd, output_cost_usd, total_cost_usd, cost_source, latency_ms, created_at)
         SELECT $1, u.ids[1 + floor(random() * cardinality(u.ids))::int], a.ids[1 + floor(random() * cardinality(a.ids))::int],
                (ARRAY['openai','openai','anthropic','self-hosted'])[m + 1], (ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet-4','llama-local'])[m + 1],
                p, c,
                CASE WHEN m < 3 THEN p * 2.5e-6 END, CASE WHEN m < 3 THEN c * 1.0e-5 END,
                CASE WHEN m < 3 THEN p * 2.5e-6 + c * 1.0e-5 END,
                CASE WHEN m < 3 THEN 'reported' ELSE 'unpriced' END,
                200 + floor(random() * 5000)::int,
                date_trunc('day', now()) - $2::int * interval '1 day' + random() * interval '1 day'
         FROM g, u, a`,
        [...params, perStep(scale.llmCalls)],
      );
      done++;
      onProgress(done, steps);
    }
  }
  await pool.query(
    `INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
     SELECT w.id, h FROM public.workspaces w,
       generate_series(date_trunc('hour', now() - $1::int * interval '1 day', 'UTC'), date_trunc('hour', now(), 'UTC'), interval '1 hour') h
     WHERE w.id = ANY($2::uuid[]) ON CONFLICT DO NOTHING`,
    [scale.days + 1, workspaceIds],
  );
  await pool.query("ANALYZE");
  return { workspaceIds };
}
