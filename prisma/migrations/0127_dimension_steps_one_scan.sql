-- Run and LLM dimension steps read their raw rows once (docs/notes/rollups.md, "Session 4: rebuild").
--
-- 0029's rollup_run_dimensions / rollup_llm_dimensions computed the hourly table and the per-user-day
-- table from two separate scans of the same raw rows (agent_runs / llm_usage_logs over the same
-- [lo, hi)), each with its own per-row bucket and log_hist_key. In a full rebuild these two steps
-- were the largest item (≈ 32 % of step time). Now one scan feeds both: the first aggregation level
-- (dimensions + histogram key) is one GROUP BY GROUPING SETS over the rows, one set per table, and
-- each table folds its own set into rows. Exactness: every column of both tables is a count, a sum,
-- or a histogram (count per key) of its group, and each grouping set is exactly the first-level
-- GROUP BY of the old statement over the same rows with the same expressions, so the rows are the
-- same. The set of a first-level row is told by GROUPING(day), not by NULLs (model, error_type,
-- agent_id of a call and the histogram key may be NULL in a real group).
--
-- Both tables are still emptied for the range first (index range scans, separate statements so the
-- inserts see it, see 0029) and the upserts keep ON CONFLICT for a concurrent writer of the same range.
-- The two INSERTs are one statement (a data-modifying CTE always runs to completion); the daily-totals
-- statement triggers on run_hourly / llm_usage_hourly fire at its end with the same transition rows.

CREATE OR REPLACE FUNCTION analytics.rollup_run_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    DELETE FROM analytics.run_hourly t
    WHERE t.workspace_id = p_workspace_id AND t.hour >= r.lo AND t.hour < r.hi;
    DELETE FROM analytics.run_user_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day;
    WITH base AS (
        SELECT analytics.local_hour_start(ar.started_at, r.tz) AS hour, (ar.started_at AT TIME ZONE r.tz)::date AS day,
               ar.user_id, ar.agent_id, ar.model, ar.status, ar.error_type, ar.credits_consumed, ar.rating,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL THEN ar.runtime_seconds END AS runtime,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL
                    THEN analytics.log_hist_key((ar.runtime_seconds * 1000)::double precision) END AS hist_key
        FROM public.agent_runs ar
        WHERE ar.workspace_id = p_workspace_id AND ar.started_at >= r.lo AND ar.started_at < r.hi
    ), per_key AS MATERIALIZED (
        -- Set 1 (hourly): hour, agent, model, status, error type. Set 2 (user-day): day, user, agent.
        SELECT GROUPING(day) = 1 AS hourly, hour, day, user_id, agent_id, model, status, error_type, hist_key,
               count(*)::integer AS runs,
               count(*) FILTER (WHERE status = 'completed')::integer AS completed_runs,
               count(*) FILTER (WHERE status = 'failed')::integer AS failed_runs,
               count(*) FILTER (WHERE status = 'cancelled')::integer AS cancelled_runs,
               sum(credits_consumed) AS credits,
               count(runtime)::integer AS runtime_runs, coalesce(sum(runtime), 0) AS runtime_sum,
               count(rating)::integer AS rated_runs, coalesce(sum(rating), 0)::integer AS rating_sum
        FROM base
        GROUP BY GROUPING SETS ((hour, agent_id, model, status, error_type, hist_key), (day, user_id, agent_id, hist_key))
    ), hourly_rows AS (
        INSERT INTO analytics.run_hourly AS t (workspace_id, hour, agent_id, model, status, error_type, runs, credits,
            runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum)
        SELECT p_workspace_id, hour, agent_id, model, status, error_type,
               sum(runs)::integer, sum(credits),
               sum(runtime_runs)::integer, sum(runtime_sum),
               coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}'),
               coalesce(array_agg(runtime_runs ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}'),
               sum(rated_runs)::integer, sum(rating_sum)::integer
        FROM per_key WHERE hourly
        GROUP BY hour, agent_id, model, status, error_type
        ON CONFLICT ON CONSTRAINT run_hourly_key DO UPDATE SET
            runs = EXCLUDED.runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
            runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
            runtime_hist_counts = EXCLUDED.runtime_hist_counts, rated_runs = EXCLUDED.rated_runs,
            rating_sum = EXCLUDED.rating_sum, updated_at = now()
        WHERE (t.runs, t.credits, t.runtime_runs, t.runtime_sum_seconds, t.runtime_hist_keys, t.runtime_hist_counts,
               t.rated_runs, t.rating_sum)
              IS DISTINCT FROM (EXCLUDED.runs, EXCLUDED.credits, EXCLUDED.runtime_runs, EXCLUDED.runtime_sum_seconds,
               EXCLUDED.runtime_hist_keys, EXCLUDED.runtime_hist_counts, EXCLUDED.rated_runs, EXCLUDED.rating_sum)
    )
    INSERT INTO analytics.run_user_daily AS t (workspace_id, day, user_id, agent_id, runs, completed_runs, failed_runs,
        cancelled_runs, credits, runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts)
    SELECT p_workspace_id, day, user_id, agent_id,
           sum(runs)::integer, sum(completed_runs)::integer, sum(failed_runs)::integer, sum(cancelled_runs)::integer,
           sum(credits), sum(runtime_runs)::integer, sum(runtime_sum),
           coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}'),
           coalesce(array_agg(runtime_runs ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}')
    FROM per_key WHERE NOT hourly
    GROUP BY day, user_id, agent_id
    ON CONFLICT (workspace_id, day, user_id, agent_id) DO UPDATE SET
        runs = EXCLUDED.runs, completed_runs = EXCLUDED.completed_runs, failed_runs = EXCLUDED.failed_runs,
        cancelled_runs = EXCLUDED.cancelled_runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
        runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
        runtime_hist_counts = EXCLUDED.runtime_hist_counts, updated_at = now()
    WHERE (t.runs, t.completed_runs, t.failed_runs, t.cancelled_runs, t.credits, t.runtime_runs,
           t.runtime_sum_seconds, t.runtime_hist_keys, t.runtime_hist_counts)
          IS DISTINCT FROM (EXCLUDED.runs, EXCLUDED.completed_runs, EXCLUDED.failed_runs, EXCLUDED.cancelled_runs,
           EXCLUDED.credits, EXCLUDED.runtime_runs, EXCLUDED.runtime_sum_seconds, EXCLUDED.runtime_hist_keys,
           EXCLUDED.runtime_hist_counts);
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
    DELETE FROM analytics.llm_usage_user_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day;
    WITH base AS (
        SELECT analytics.local_hour_start(l.created_at, r.tz) AS hour, (l.created_at AT TIME ZONE r.tz)::date AS day,
               l.user_id, l.provider, l.model, l.agent_id,
               CASE WHEN NOT l.success THEN l.error_type END AS error_type, l.success,
               l.prompt_tokens, l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms,
               analytics.log_hist_key(l.latency_ms::double precision) AS hist_key
        FROM public.llm_usage_logs l
        WHERE l.workspace_id = p_workspace_id AND l.created_at >= r.lo AND l.created_at < r.hi
    ), per_key AS MATERIALIZED (
        -- Set 1 (hourly): hour, provider, model, agent, error type. Set 2 (user-day): day, user, provider, model, agent.
        SELECT GROUPING(day) = 1 AS hourly, hour, day, user_id, provider, model, agent_id, error_type, hist_key,
               count(*)::integer AS calls, count(*) FILTER (WHERE NOT success)::integer AS failed_calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(total_tokens) AS total_tokens, coalesce(sum(total_cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
               sum(latency_ms) AS latency_ms_sum
        FROM base
        GROUP BY GROUPING SETS ((hour, provider, model, agent_id, error_type, hist_key),
                                (day, user_id, provider, model, agent_id, hist_key))
    ), hourly_rows AS (
        INSERT INTO analytics.llm_usage_hourly AS t (workspace_id, hour, provider, model, agent_id, error_type, calls,
            failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
            latency_hist_keys, latency_hist_counts)
        SELECT p_workspace_id, hour, provider, model, agent_id, error_type,
               sum(calls)::integer, sum(failed_calls)::integer,
               sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint, sum(total_tokens)::bigint, sum(cost_usd),
               sum(unpriced_calls)::integer, sum(latency_ms_sum)::bigint,
               array_agg(hist_key ORDER BY hist_key), array_agg(calls ORDER BY hist_key)
        FROM per_key WHERE hourly
        GROUP BY hour, provider, model, agent_id, error_type
        ON CONFLICT ON CONSTRAINT llm_usage_hourly_key DO UPDATE SET
            calls = EXCLUDED.calls, failed_calls = EXCLUDED.failed_calls, prompt_tokens = EXCLUDED.prompt_tokens,
            completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
            cost_usd = EXCLUDED.cost_usd, unpriced_calls = EXCLUDED.unpriced_calls,
            latency_ms_sum = EXCLUDED.latency_ms_sum, latency_hist_keys = EXCLUDED.latency_hist_keys,
            latency_hist_counts = EXCLUDED.latency_hist_counts, updated_at = now()
        WHERE (t.calls, t.failed_calls, t.prompt_tokens, t.completion_tokens, t.cost_usd, t.unpriced_calls,
               t.latency_ms_sum, t.latency_hist_keys, t.latency_hist_counts)
              IS DISTINCT FROM (EXCLUDED.calls, EXCLUDED.failed_calls, EXCLUDED.prompt_tokens, EXCLUDED.completion_tokens,
               EXCLUDED.cost_usd, EXCLUDED.unpriced_calls, EXCLUDED.latency_ms_sum, EXCLUDED.latency_hist_keys,
               EXCLUDED.latency_hist_counts)
    )
    INSERT INTO analytics.llm_usage_user_daily AS t (workspace_id, day, user_id, provider, model, agent_id, calls,
        failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
        latency_hist_keys, latency_hist_counts)
    SELECT p_workspace_id, day, user_id, provider, model, agent_id,
           sum(calls)::integer, sum(failed_calls)::integer,
           sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint, sum(total_tokens)::bigint, sum(cost_usd),
           sum(unpriced_calls)::integer, sum(latency_ms_sum)::bigint,
           array_agg(hist_key ORDER BY hist_key), array_agg(calls ORDER BY hist_key)
    FROM per_key WHERE NOT hourly
    GROUP BY day, user_id, provider, model, agent_id
    ON CONFLICT ON CONSTRAINT llm_usage_user_daily_key DO UPDATE SET
        calls = EXCLUDED.calls, failed_calls = EXCLUDED.failed_calls, prompt_tokens = EXCLUDED.prompt_tokens,
        completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
        cost_usd = EXCLUDED.cost_usd, unpriced_calls = EXCLUDED.unpriced_calls,
        latency_ms_sum = EXCLUDED.latency_ms_sum, latency_hist_keys = EXCLUDED.latency_hist_keys,
        latency_hist_counts = EXCLUDED.latency_hist_counts, updated_at = now()
    WHERE (t.calls, t.failed_calls, t.prompt_tokens, t.completion_tokens, t.cost_usd, t.unpriced_calls,
           t.latency_ms_sum, t.latency_hist_keys, t.latency_hist_counts)
          IS DISTINCT FROM (EXCLUDED.calls, EXCLUDED.failed_calls, EXCLUDED.prompt_tokens, EXCLUDED.completion_tokens,
           EXCLUDED.cost_usd, EXCLUDED.unpriced_calls, EXCLUDED.latency_ms_sum, EXCLUDED.latency_hist_keys,
           EXCLUDED.latency_hist_counts);
END $$;
