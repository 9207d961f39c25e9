import type pg from "pg";

/**
 * Brute-force recomputation of the core rollups straight from raw rows, written independently of
 * migration 0020: buckets by the *local date / UTC hour of each timestamp* (equality), not by time
 * ranges; every figure its own subquery. Each query returns exactly the columns of the rollup table
 * cast to that table's types, so rows compare with toEqual.
 *
 * A session is a (workspace, session_id) pair: session ids are reported per workspace by different
 * clients, so the same id in two workspaces is two sessions (platform rows count both).
 */

type Grain = "day" | "hour";

// scope: one row per workspace (its timezone) plus the platform (NULL workspace, UTC).
const SCOPES = `scopes AS (
    SELECT id AS workspace_id, timezone AS tz FROM public.workspaces
    UNION ALL SELECT NULL::uuid, 'UTC'
)`;

function bucketOf(grain: Grain, ts: string): string {
  return grain === "day"
    ? `((${ts}) AT TIME ZONE s.tz)::date::text`
    : `to_char(date_trunc('hour', (${ts}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI')`;
}

const inScope = (alias: string) => `(s.workspace_id IS NULL OR ${alias}.workspace_id = s.workspace_id)`;

/** Expected hourly_metrics or daily_metrics rows, ordered by workspace (NULL last) then bucket. */
export async function expectedPeriodMetrics(pool: pg.Pool, grain: Grain): Promise<Record<string, unknown>[]> {
  const b = (ts: string) => bucketOf(grain, ts);
  const credits = grain === "day" ? "total_credits_consumed" : "total_credits";
  const topAgents =
    grain === "day"
      ? `, coalesce((SELECT jsonb_agg(jsonb_build_object('agent_id', t.agent_id, 'name', t.name, 'runs', t.runs,
                 'successful_runs', t.ok, 'credits', t.credits) ORDER BY t.runs DESC, t.agent_id)
            FROM (SELECT r.agent_id, a.name, count(*) AS runs, count(*) FILTER (WHERE r.status = 'completed') AS ok,
                         sum(r.credits_consumed) AS credits
                  FROM public.agent_runs r JOIN public.agents a ON a.id = r.agent_id
                  WHERE ${inScope("r")} AND ${b("r.started_at")} = k.bucket
                  GROUP BY r.agent_id, a.name ORDER BY count(*) DESC, r.agent_id LIMIT 5) t), '[]'::jsonb) AS top_agents`
      : "";
  const latency =
    grain === "hour"
      ? `, (SELECT round(avg(l.latency_ms))::integer FROM calls l) AS avg_response_time_ms,
         (SELECT round(percentile_cont(0.95) WITHIN GROUP (ORDER BY l.latency_ms))::integer FROM calls l) AS p95_response_time_ms`
      : "";
  const { rows } = await pool.query(
    `
    WITH ${SCOPES},
    keys AS (
        SELECT DISTINCT s.workspace_id, s.tz, x.bucket FROM scopes s
        JOIN LATERAL (
            SELECT ${b("u.created_at")} AS bucket FROM public.users u WHERE ${inScope("u")}
            UNION SELECT ${b("r.started_at")} FROM public.agent_runs r WHERE ${inScope("r")}
            UNION SELECT ${b("a.created_at")} FROM analytics.user_activity a WHERE ${inScope("a")}
            UNION SELECT ${b("l.created_at")} FROM public.llm_usage_logs l WHERE ${inScope("l")}
        ) x ON true
    )
    SELECT k.workspace_id, k.bucket,
        (SELECT count(*) FROM public.users u WHERE ${inScope("u")} AND ${b("u.created_at")} <= k.bucket)::integer AS total_users,
        (SELECT count(DISTINCT x.user_id) FROM active x)::integer AS active_users,
        (SELECT count(*) FROM public.users u WHERE ${inScope("u")} AND ${b("u.created_at")} = k.bucket)::integer AS new_users,
        (SELECT count(DISTINCT x.user_id) FROM active x JOIN public.users u ON u.id = x.user_id
          WHERE ${b("u.created_at")} < k.bucket)::integer AS returning_users,
        (SELECT count(DISTINCT (e.workspace_id, e.session_id)) FROM events e WHERE e.session_id IS NOT NULL)::integer AS total_sessions,
        (SELECT avg(d)::numeric(10,2) FROM (SELECT extract(epoch FROM max(e.created_at) - min(e.created_at)) AS d
           FROM events e WHERE e.session_id IS NOT NULL GROUP BY e.workspace_id, e.session_id) q) AS avg_session_duration_seconds,
        (SELECT (100.0 * count(*) FILTER (WHERE n = 1) / nullif(count(*), 0))::numeric(5,2)
           FROM (SELECT count(*) AS n FROM events e WHERE e.session_id IS NOT NULL GROUP BY e.workspace_id, e.session_id) q) AS bounce_rate,
        (SELECT count(*) FROM runs)::integer AS total_runs,
        (SELECT count(*) FROM runs WHERE status = 'completed')::integer AS successful_runs,
        (SELECT count(*) FROM runs WHERE status = 'failed')::integer AS failed_runs,
        (SELECT count(*) FROM runs WHERE status = 'cancelled')::integer AS cancelled_runs,
        (SELECT avg(runtime_seconds)::numeric(10,2) FROM runs WHERE status <> 'running') AS avg_runtime_seconds,
        (SELECT (percentile_cont(0.5) WITHIN GROUP (ORDER BY runtime_seconds))::numeric(10,2) FROM runs WHERE status <> 'running') AS median_runtime_seconds,
        (SELECT (percentile_cont(0.95) WITHIN GROUP (ORDER BY runtime_seconds))::numeric(10,2) FROM runs WHERE status <> 'running') AS p95_runtime_seconds,
        (SELECT (percentile_cont(0.99) WITHIN GROUP (ORDER BY runtime_seconds))::numeric(10,2) FROM runs WHERE status <> 'running') AS p99_runtime_seconds,
        (SELECT coalesce(sum(credits_consumed), 0)::numeric(15,2) FROM runs) AS ${credits},
        (SELECT (sum(credits_consumed) / nullif(count(*), 0))::numeric(10,2) FROM runs) AS avg_credits_per_run,
        coalesce((SELECT jsonb_object_agg(m, c) FROM (SELECT coalesce(model, 'unknown') AS m, sum(credits_consumed) AS c
           FROM runs GROUP BY 1) q), '{}'::jsonb) AS credits_by_model,
        (SELECT count(DISTINCT agent_id) FROM runs)::integer AS unique_agents_run
        ${topAgents},
        (SELECT count(*) FROM runs WHERE status = 'failed')::integer AS total_errors,
        (SELECT (100.0 * count(*) FILTER (WHERE status = 'failed') / nullif(count(*), 0))::numeric(5,2) FROM runs) AS error_rate,
        coalesce((SELECT jsonb_object_agg(t, n) FROM (SELECT coalesce(error_type, 'unknown') AS t, count(*) AS n
           FROM runs WHERE status = 'failed' GROUP BY 1) q), '{}'::jsonb) AS errors_by_type,
        (SELECT count(*) FROM calls)::integer AS llm_calls,
        (SELECT coalesce(sum(prompt_tokens), 0)::bigint FROM calls) AS prompt_tokens,
        (SELECT coalesce(sum(completion_tokens), 0)::bigint FROM calls) AS completion_tokens,
        (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint FROM calls) AS total_tokens,
        (SELECT coalesce(sum(total_cost_usd), 0)::numeric(18,8) FROM calls) AS llm_cost_usd,
        (SELECT count(*) FROM calls WHERE total_cost_usd IS NULL)::integer AS unpriced_llm_calls
        ${latency}
    FROM keys k
    CROSS JOIN LATERAL (SELECT k.workspace_id, k.tz) s
    ORDER BY k.workspace_id NULLS LAST, k.bucket`
      // The per-bucket row sets every figure reads (`runs`, `calls`, `events`, `active`), inlined.
      .replace(
        /FROM runs/g,
        `FROM (SELECT r.* FROM public.agent_runs r WHERE ${inScope("r")} AND ${b("r.started_at")} = k.bucket) runs`,
      )
      .replace(
        /FROM calls l/g,
        `FROM (SELECT l.* FROM public.llm_usage_logs l WHERE ${inScope("l")} AND ${b("l.created_at")} = k.bucket) l`,
      )
      .replace(
        /FROM calls/g,
        `FROM (SELECT l.* FROM public.llm_usage_logs l WHERE ${inScope("l")} AND ${b("l.created_at")} = k.bucket) calls`,
      )
      .replace(
        /FROM events e/g,
        `FROM (SELECT a.* FROM analytics.user_activity a WHERE ${inScope("a")} AND ${b("a.created_at")} = k.bucket) e`,
      )
      .replace(
        /FROM active x/g,
        `FROM (SELECT a.user_id FROM analytics.user_activity a WHERE ${inScope("a")} AND ${b("a.created_at")} = k.bucket
             UNION ALL SELECT r.user_id FROM public.agent_runs r WHERE ${inScope("r")} AND ${b("r.started_at")} = k.bucket
             UNION ALL SELECT l.user_id FROM public.llm_usage_logs l WHERE ${inScope("l")} AND ${b("l.created_at")} = k.bucket) x`,
      ),
  );
  return rows;
}

/** The rollup table's rows in the same shape as expectedPeriodMetrics. */
export async function actualPeriodMetrics(
  pool: pg.Pool,
  grain: Grain,
  columns: string[],
): Promise<Record<string, unknown>[]> {
  const table = grain === "day" ? "analytics.daily_metrics" : "analytics.hourly_metrics";
  const bucket =
    grain === "day" ? "metric_date::text" : "to_char(metric_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')";
  const list = columns
    .filter((c) => c !== "workspace_id" && c !== "bucket")
    .map((c) => `, ${c}`)
    .join("");
  const { rows } = await pool.query(
    `SELECT workspace_id, ${bucket} AS bucket${list} FROM ${table} ORDER BY workspace_id NULLS LAST, bucket`,
  );
  return rows;
}

export async function expectedAgentPerformance(pool: pg.Pool): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(`
    WITH runs AS (
        SELECT r.*, (r.started_at AT TIME ZONE w.timezone)::date AS d,
               coalesce((SELECT sum(l.prompt_tokens + l.completion_tokens) FROM public.llm_usage_logs l WHERE l.run_id = r.id),
                        (SELECT sum(s.prompt_tokens + s.completion_tokens) FROM public.run_stages s WHERE s.run_id = r.id), 0) AS tokens
        FROM public.agent_runs r JOIN public.workspaces w ON w.id = r.workspace_id
    )
    SELECT workspace_id, agent_id, d::text AS metric_date,
        count(*)::integer AS total_runs,
        (count(*) FILTER (WHERE status = 'completed'))::integer AS successful_runs,
        (count(*) FILTER (WHERE status = 'failed'))::integer AS failed_runs,
        (count(*) FILTER (WHERE status = 'cancelled'))::integer AS cancelled_runs,
        (avg(runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS avg_runtime_seconds,
        (min(runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS min_runtime_seconds,
        (max(runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS max_runtime_seconds,
        (percentile_cont(0.5) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS p50_runtime_seconds,
        (percentile_cont(0.75) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS p75_runtime_seconds,
        (percentile_cont(0.95) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS p95_runtime_seconds,
        (percentile_cont(0.99) WITHIN GROUP (ORDER BY runtime_seconds) FILTER (WHERE status <> 'running'))::numeric(10,2) AS p99_runtime_seconds,
        sum(credits_consumed)::numeric(15,2) AS total_credits,
        (sum(credits_consumed) / count(*))::numeric(10,2) AS avg_credits_per_run,
        sum(tokens)::bigint AS total_tokens_used,
        round(sum(tokens)::numeric / count(*))::integer AS avg_tokens_per_run,
        count(DISTINCT user_id)::integer AS unique_users,
        avg(rating)::numeric(3,2) AS avg_user_rating,
        (count(*) FILTER (WHERE rating IS NOT NULL OR feedback IS NOT NULL))::integer AS total_feedback_count,
        coalesce((SELECT jsonb_object_agg(t, n) FROM (SELECT coalesce(r2.error_type, 'unknown') AS t, count(*) AS n
            FROM runs r2 WHERE r2.agent_id = runs.agent_id AND r2.d = runs.d AND r2.status = 'failed' GROUP BY 1) q), '{}'::jsonb) AS error_types,
        coalesce((SELECT jsonb_agg(jsonb_build_object('reason', m, 'count', n) ORDER BY n DESC, m)
            FROM (SELECT r2.error_message AS m, count(*) AS n FROM runs r2
                  WHERE r2.agent_id = runs.agent_id AND r2.d = runs.d AND r2.status = 'failed' AND r2.error_message IS NOT NULL
                  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) q), '[]'::jsonb) AS common_failure_reasons
    FROM runs GROUP BY workspace_id, agent_id, d
    ORDER BY workspace_id, agent_id, metric_date`);
  return rows;
}

export async function actualAgentPerformance(pool: pg.Pool, columns: string[]): Promise<Record<string, unknown>[]> {
  const list = columns
    .filter((c) => !["workspace_id", "agent_id", "metric_date"].includes(c))
    .map((c) => `, ${c}`)
    .join("");
  const { rows } = await pool.query(
    `SELECT workspace_id, agent_id, metric_date::text AS metric_date${list}
     FROM analytics.agent_performance ORDER BY workspace_id, agent_id, metric_date`,
  );
  return rows;
}

export async function expectedUserDailyActivity(pool: pg.Pool): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(`
    WITH t AS (
        SELECT workspace_id, user_id, created_at AS at, 'activity' AS kind FROM analytics.user_activity
        UNION ALL SELECT workspace_id, user_id, started_at, 'run' FROM public.agent_runs
        UNION ALL SELECT workspace_id, user_id, created_at, 'call' FROM public.llm_usage_logs
    )
    SELECT t.workspace_id, (t.at AT TIME ZONE w.timezone)::date::text AS activity_date, t.user_id,
           (count(*) FILTER (WHERE kind = 'activity'))::integer AS activity_events,
           (count(*) FILTER (WHERE kind = 'run'))::integer AS runs,
           (count(*) FILTER (WHERE kind = 'call'))::integer AS llm_calls,
           min(t.at) AS first_seen_at, max(t.at) AS last_seen_at
    FROM t JOIN public.workspaces w ON w.id = t.workspace_id
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
  return rows;
}

export async function actualUserDailyActivity(pool: pg.Pool): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query(`
    SELECT workspace_id, activity_date::text AS activity_date, user_id, activity_events, runs, llm_calls,
           first_seen_at, last_seen_at
    FROM analytics.user_daily_activity ORDER BY 1, 2, 3`);
  return rows;
}
