-- Dimension rollups: plain INSERT after the DELETE (docs/notes/rollups.md, "Session 7").
--
-- rollup_run_dimensions / rollup_llm_dimensions / rollup_stage_dimensions recompute a workspace's day
-- range by deleting its rows and inserting the fresh ones. The INSERTs still carried the
-- `ON CONFLICT … DO UPDATE` of their first version (0025), which can no longer fire: the DELETE just
-- removed every row of the range, the fresh rows are grouped by the table's unique key, and no other
-- transaction writes the range meanwhile (the engine and the rebuild hold the workspace's rollup
-- advisory lock; a caller without it would get a unique violation and roll back, never wrong rows).
-- An upsert pays for a speculative insertion per row (a probe of the unique index, then the insert,
-- then its confirmation): on the medium world's minute, ten workspaces' run_dimensions went from
-- 6.2-7.3 s to 5.3-5.8 s without it (alternating, rolled back). Bodies otherwise as in 0029 and 0098.

CREATE OR REPLACE FUNCTION analytics.rollup_run_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    DELETE FROM analytics.run_hourly t
    WHERE t.workspace_id = p_workspace_id AND t.hour >= r.lo AND t.hour < r.hi;
    WITH base AS (
        SELECT analytics.local_hour_start(ar.started_at, r.tz) AS hour, ar.agent_id, ar.model, ar.status, ar.error_type,
               ar.credits_consumed, ar.rating,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL THEN ar.runtime_seconds END AS runtime,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL
                    THEN analytics.log_hist_key((ar.runtime_seconds * 1000)::double precision) END AS hist_key
        FROM public.agent_runs ar
        WHERE ar.workspace_id = p_workspace_id AND ar.started_at >= r.lo AND ar.started_at < r.hi
    ), per_key AS (
        SELECT hour, agent_id, model, status, error_type, hist_key,
               count(*)::integer AS runs, sum(credits_consumed) AS credits,
               count(runtime)::integer AS runtime_runs, coalesce(sum(runtime), 0) AS runtime_sum,
               count(rating)::integer AS rated_runs, coalesce(sum(rating), 0)::integer AS rating_sum
        FROM base GROUP BY hour, agent_id, model, status, error_type, hist_key
    ), fresh AS (
        SELECT hour, agent_id, model, status, error_type,
               sum(runs)::integer AS runs, sum(credits) AS credits,
               sum(runtime_runs)::integer AS runtime_runs, sum(runtime_sum) AS runtime_sum_seconds,
               coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_keys,
               coalesce(array_agg(runtime_runs ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_counts,
               sum(rated_runs)::integer AS rated_runs, sum(rating_sum)::integer AS rating_sum
        FROM per_key GROUP BY hour, agent_id, model, status, error_type
    )
    INSERT INTO analytics.run_hourly AS t (workspace_id, hour, agent_id, model, status, error_type, runs, credits,
        runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum)
    SELECT p_workspace_id, hour, agent_id, model, status, error_type, runs, credits,
           runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum
    FROM fresh;

    DELETE FROM analytics.run_user_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day;
    WITH base AS (
        SELECT (ar.started_at AT TIME ZONE r.tz)::date AS day, ar.user_id, ar.agent_id, ar.status, ar.credits_consumed,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL THEN ar.runtime_seconds END AS runtime,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL
                    THEN analytics.log_hist_key((ar.runtime_seconds * 1000)::double precision) END AS hist_key
        FROM public.agent_runs ar
        WHERE ar.workspace_id = p_workspace_id AND ar.started_at >= r.lo AND ar.started_at < r.hi
    ), per_key AS (
        SELECT day, user_id, agent_id, hist_key,
               count(*)::integer AS runs,
               count(*) FILTER (WHERE status = 'completed')::integer AS completed_runs,
               count(*) FILTER (WHERE status = 'failed')::integer AS failed_runs,
               count(*) FILTER (WHERE status = 'cancelled')::integer AS cancelled_runs,
               sum(credits_consumed) AS credits,
               count(runtime)::integer AS runtime_runs, coalesce(sum(runtime), 0) AS runtime_sum
        FROM base GROUP BY day, user_id, agent_id, hist_key
    ), fresh AS (
        SELECT day, user_id, agent_id,
               sum(runs)::integer AS runs, sum(completed_runs)::integer AS completed_runs,
               sum(failed_runs)::integer AS failed_runs, sum(cancelled_runs)::integer AS cancelled_runs,
               sum(credits) AS credits, sum(runtime_runs)::integer AS runtime_runs, sum(runtime_sum) AS runtime_sum_seconds,
               coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_keys,
               coalesce(array_agg(runtime_runs ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_counts
        FROM per_key GROUP BY day, user_id, agent_id
    )
    INSERT INTO analytics.run_user_daily AS t (workspace_id, day, user_id, agent_id, runs, completed_runs, failed_runs,
        cancelled_runs, credits, runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts)
    SELECT p_workspace_id, day, user_id, agent_id, runs, completed_runs, failed_runs, cancelled_runs, credits,
           runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts
    FROM fresh;
END $$;

CREATE OR REPLACE FUNCTION analytics.rollup_llm_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    DELETE FROM analytics.llm_usage_hourly t
    WHERE t.workspace_id = p_workspace_id AND t.hour >= r.lo AND t.hour < r.hi;
    WITH base AS (
        SELECT analytics.local_hour_start(l.created_at, r.tz) AS hour, l.provider, l.model, l.agent_id,
               CASE WHEN NOT l.success THEN l.error_type END AS error_type, l.success,
               l.prompt_tokens, l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms,
               analytics.log_hist_key(l.latency_ms::double precision) AS hist_key
        FROM public.llm_usage_logs l
        WHERE l.workspace_id = p_workspace_id AND l.created_at >= r.lo AND l.created_at < r.hi
    ), per_key AS (
        SELECT hour, provider, model, agent_id, error_type, hist_key,
               count(*)::integer AS calls, count(*) FILTER (WHERE NOT success)::integer AS failed_calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(total_tokens) AS total_tokens, coalesce(sum(total_cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
               sum(latency_ms) AS latency_ms_sum
        FROM base GROUP BY hour, provider, model, agent_id, error_type, hist_key
    ), fresh AS (
        SELECT hour, provider, model, agent_id, error_type,
               sum(calls)::integer AS calls, sum(failed_calls)::integer AS failed_calls,
               sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
               sum(total_tokens)::bigint AS total_tokens, sum(cost_usd) AS cost_usd,
               sum(unpriced_calls)::integer AS unpriced_calls, sum(latency_ms_sum)::bigint AS latency_ms_sum,
               array_agg(hist_key ORDER BY hist_key) AS latency_hist_keys,
               array_agg(calls ORDER BY hist_key) AS latency_hist_counts
        FROM per_key GROUP BY hour, provider, model, agent_id, error_type
    )
    INSERT INTO analytics.llm_usage_hourly AS t (workspace_id, hour, provider, model, agent_id, error_type, calls,
        failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
        latency_hist_keys, latency_hist_counts)
    SELECT p_workspace_id, hour, provider, model, agent_id, error_type, calls, failed_calls, prompt_tokens,
           completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum, latency_hist_keys,
           latency_hist_counts
    FROM fresh;

    DELETE FROM analytics.llm_usage_user_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day;
    WITH base AS (
        SELECT (l.created_at AT TIME ZONE r.tz)::date AS day, l.user_id, l.provider, l.model, l.agent_id, l.success,
               l.prompt_tokens, l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms,
               analytics.log_hist_key(l.latency_ms::double precision) AS hist_key
        FROM public.llm_usage_logs l
        WHERE l.workspace_id = p_workspace_id AND l.created_at >= r.lo AND l.created_at < r.hi
    ), per_key AS (
        SELECT day, user_id, provider, model, agent_id, hist_key,
               count(*)::integer AS calls, count(*) FILTER (WHERE NOT success)::integer AS failed_calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(total_tokens) AS total_tokens, coalesce(sum(total_cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
               sum(latency_ms) AS latency_ms_sum
        FROM base GROUP BY day, user_id, provider, model, agent_id, hist_key
    ), fresh AS (
        SELECT day, user_id, provider, model, agent_id,
               sum(calls)::integer AS calls, sum(failed_calls)::integer AS failed_calls,
               sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
               sum(total_tokens)::bigint AS total_tokens, sum(cost_usd) AS cost_usd,
               sum(unpriced_calls)::integer AS unpriced_calls, sum(latency_ms_sum)::bigint AS latency_ms_sum,
               array_agg(hist_key ORDER BY hist_key) AS latency_hist_keys,
               array_agg(calls ORDER BY hist_key) AS latency_hist_counts
        FROM per_key GROUP BY day, user_id, provider, model, agent_id
    )
    INSERT INTO analytics.llm_usage_user_daily AS t (workspace_id, day, user_id, provider, model, agent_id, calls,
        failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
        latency_hist_keys, latency_hist_counts)
    SELECT p_workspace_id, day, user_id, provider, model, agent_id, calls, failed_calls, prompt_tokens,
           completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum, latency_hist_keys,
           latency_hist_counts
    FROM fresh;
END $$;

CREATE OR REPLACE FUNCTION analytics.rollup_stage_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    DELETE FROM analytics.stage_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day;
    WITH base AS (
        SELECT (s.started_at AT TIME ZONE r.tz)::date AS day, ar.agent_id, s.name AS stage_name, s.model, s.status,
               s.prompt_tokens, s.completion_tokens, s.total_tokens, s.cost_usd, s.duration_ms,
               analytics.log_hist_key(s.duration_ms::double precision) AS hist_key
        FROM public.run_stages s
        JOIN public.agent_runs ar ON ar.workspace_id = s.workspace_id AND ar.started_at = s.started_at
                                 AND ar.id = s.run_id AND ar.started_at >= r.lo AND ar.started_at < r.hi
        WHERE s.workspace_id = p_workspace_id AND s.started_at >= r.lo AND s.started_at < r.hi
    ), per_key AS (
        SELECT day, agent_id, stage_name, model, status, hist_key,
               count(*)::integer AS stages, sum(prompt_tokens) AS prompt_tokens,
               sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens,
               coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE cost_usd IS NULL)::integer AS unpriced_stages,
               count(duration_ms)::integer AS duration_stages, coalesce(sum(duration_ms), 0) AS duration_ms_sum
        FROM base GROUP BY day, agent_id, stage_name, model, status, hist_key
    ), fresh AS (
        SELECT day, agent_id, stage_name, model, status,
               sum(stages)::integer AS stages, sum(prompt_tokens)::bigint AS prompt_tokens,
               sum(completion_tokens)::bigint AS completion_tokens, sum(total_tokens)::bigint AS total_tokens,
               sum(cost_usd) AS cost_usd, sum(unpriced_stages)::integer AS unpriced_stages,
               sum(duration_stages)::integer AS duration_stages, sum(duration_ms_sum)::bigint AS duration_ms_sum,
               coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS duration_hist_keys,
               coalesce(array_agg(duration_stages ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS duration_hist_counts
        FROM per_key GROUP BY day, agent_id, stage_name, model, status
    )
    INSERT INTO analytics.stage_daily AS t (workspace_id, day, agent_id, stage_name, model, status, stages,
        prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_stages, duration_stages,
        duration_ms_sum, duration_hist_keys, duration_hist_counts)
    SELECT p_workspace_id, day, agent_id, stage_name, model, status, stages, prompt_tokens, completion_tokens,
           total_tokens, cost_usd, unpriced_stages, duration_stages, duration_ms_sum, duration_hist_keys,
           duration_hist_counts
    FROM fresh;
END $$;
