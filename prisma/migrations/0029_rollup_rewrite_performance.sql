-- Rollup steps rewritten after measuring them on 1M runs / 1M LLM calls (docs/notes/usage-rollups.md).
--
-- 1. "Delete rows whose sources vanished" was an anti-join of the table against the freshly computed
--    groups inside the same statement. The planner estimates a handful of fresh rows and picks a
--    nested-loop anti-join over the CTE: 6,000 × 3,000 comparisons, 13 s for one day of token usage.
--    Now each step first deletes every row of the recomputed range (an index range scan), then
--    inserts the fresh groups (ON CONFLICT DO UPDATE still, so a concurrent writer of the same range
--    cannot make it fail). Each is its own statement, so the insert sees the delete. Linear in rows.
-- 2. user_token_usage week and month rows were recomputed from every call of the touched month.
--    Only users who had calls (or rows) on a touched day can have changed week/month rows, so the
--    scan now reads just those users' calls, through idx_llm_usage_logs_user_created.

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
    FROM fresh
    ON CONFLICT ON CONSTRAINT run_hourly_key DO UPDATE SET
        runs = EXCLUDED.runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
        runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
        runtime_hist_counts = EXCLUDED.runtime_hist_counts, rated_runs = EXCLUDED.rated_runs,
        rating_sum = EXCLUDED.rating_sum, updated_at = now()
    WHERE (t.runs, t.credits, t.runtime_runs, t.runtime_sum_seconds, t.runtime_hist_keys, t.runtime_hist_counts,
           t.rated_runs, t.rating_sum)
          IS DISTINCT FROM (EXCLUDED.runs, EXCLUDED.credits, EXCLUDED.runtime_runs, EXCLUDED.runtime_sum_seconds,
           EXCLUDED.runtime_hist_keys, EXCLUDED.runtime_hist_counts, EXCLUDED.rated_runs, EXCLUDED.rating_sum);

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
    FROM fresh
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
    FROM fresh
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
           EXCLUDED.latency_hist_counts);

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
    FROM fresh
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
        JOIN public.agent_runs ar ON ar.workspace_id = s.workspace_id AND ar.id = s.run_id
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
    FROM fresh
    ON CONFLICT ON CONSTRAINT stage_daily_key DO UPDATE SET
        stages = EXCLUDED.stages, prompt_tokens = EXCLUDED.prompt_tokens,
        completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
        cost_usd = EXCLUDED.cost_usd, unpriced_stages = EXCLUDED.unpriced_stages,
        duration_stages = EXCLUDED.duration_stages, duration_ms_sum = EXCLUDED.duration_ms_sum,
        duration_hist_keys = EXCLUDED.duration_hist_keys, duration_hist_counts = EXCLUDED.duration_hist_counts,
        updated_at = now()
    WHERE (t.stages, t.prompt_tokens, t.completion_tokens, t.cost_usd, t.unpriced_stages, t.duration_stages,
           t.duration_ms_sum, t.duration_hist_keys, t.duration_hist_counts)
          IS DISTINCT FROM (EXCLUDED.stages, EXCLUDED.prompt_tokens, EXCLUDED.completion_tokens, EXCLUDED.cost_usd,
           EXCLUDED.unpriced_stages, EXCLUDED.duration_stages, EXCLUDED.duration_ms_sum,
           EXCLUDED.duration_hist_keys, EXCLUDED.duration_hist_counts);
END $$;

-- The day, ISO week and month periods holding the given workspace-local days, with their bounds.
CREATE FUNCTION analytics.token_usage_periods(p_days date[], p_tz text)
    RETURNS TABLE (period_type text, start_day date, period_start timestamptz, period_end timestamptz)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT p.period_type, p.start_day, p.start_day::timestamp AT TIME ZONE p_tz, p.end_day::timestamp AT TIME ZONE p_tz
    FROM unnest(p_days) AS d
    CROSS JOIN LATERAL (VALUES
        ('daily', d, d + 1),
        ('weekly', date_trunc('week', d::timestamp)::date, date_trunc('week', d::timestamp)::date + 7),
        ('monthly', date_trunc('month', d::timestamp)::date, (date_trunc('month', d::timestamp) + interval '1 month')::date)
    ) AS p(period_type, start_day, end_day)
    WHERE d IS NOT NULL
$$;

-- Same contract and columns as in 0026; see the header for what changed.
CREATE OR REPLACE FUNCTION analytics.rollup_token_usage(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    month   record;
    lo      timestamptz;
    hi      timestamptz;
    users   uuid[];
    written integer := 0;
    n       integer;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'user_token_usage is per workspace' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR month IN
        SELECT array_agg(DISTINCT d) AS days
        FROM unnest(p_days) AS d WHERE d IS NOT NULL
        GROUP BY date_trunc('month', d::timestamp)
    LOOP
        SELECT min(b.period_start), max(b.period_end) INTO lo, hi
        FROM analytics.token_usage_periods(month.days, tz) AS b;
        -- Users whose rows of these periods can have changed: a call on a touched day now, or a
        -- daily row for a touched day from before (its calls may have vanished).
        SELECT array_agg(DISTINCT x.user_id) INTO users
        FROM (
            SELECT l.user_id
            FROM unnest(month.days) AS d
            JOIN public.llm_usage_logs l ON l.workspace_id = p_workspace_id
                 AND l.created_at >= d::timestamp AT TIME ZONE tz AND l.created_at < (d + 1)::timestamp AT TIME ZONE tz
            UNION
            SELECT t.user_id
            FROM unnest(month.days) AS d
            JOIN analytics.user_token_usage t ON t.workspace_id = p_workspace_id AND t.period_type = 'daily'
                 AND t.period_start = d::timestamp AT TIME ZONE tz
        ) AS x;
        CONTINUE WHEN users IS NULL;

        DELETE FROM analytics.user_token_usage t
        USING analytics.token_usage_periods(month.days, tz) AS b
        WHERE t.workspace_id = p_workspace_id AND t.user_id = ANY (users)
          AND t.period_type = b.period_type AND t.period_start = b.period_start;

        WITH bounds AS (
            SELECT * FROM analytics.token_usage_periods(month.days, tz)
        ), calls AS (
            SELECT l.user_id, l.agent_id, l.run_id, l.prompt_tokens, l.completion_tokens, l.total_tokens,
                   l.total_cost_usd, l.created_at, (l.created_at AT TIME ZONE tz)::date AS day
            FROM unnest(users) AS u(user_id)
            JOIN public.llm_usage_logs l ON l.workspace_id = p_workspace_id AND l.user_id = u.user_id
                 AND l.created_at >= lo AND l.created_at < hi
        ), grouped AS (
            SELECT CASE WHEN GROUPING(day) = 0 THEN 'daily'
                        WHEN GROUPING(date_trunc('week', day::timestamp)) = 0 THEN 'weekly'
                        ELSE 'monthly' END AS period_type,
                   coalesce(day, date_trunc('week', day::timestamp)::date, date_trunc('month', day::timestamp)::date) AS start_day,
                   user_id,
                   sum(prompt_tokens)::bigint AS total_prompt_tokens,
                   sum(completion_tokens)::bigint AS total_completion_tokens,
                   sum(total_tokens)::bigint AS total_tokens,
                   coalesce(sum(total_cost_usd), 0) AS total_cost_usd,
                   count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
                   count(*)::integer AS message_count,
                   count(DISTINCT run_id)::integer AS conversation_count,
                   coalesce(array_agg(DISTINCT agent_id ORDER BY agent_id) FILTER (WHERE agent_id IS NOT NULL), '{}') AS agent_ids,
                   max(created_at) AS last_activity
            FROM calls
            GROUP BY GROUPING SETS ((user_id, day), (user_id, date_trunc('week', day::timestamp)), (user_id, date_trunc('month', day::timestamp)))
        )
        INSERT INTO analytics.user_token_usage AS t (workspace_id, user_id, period_start, period_end, period_type,
            total_prompt_tokens, total_completion_tokens, total_tokens, total_cost_usd, unpriced_calls,
            message_count, conversation_count, agent_ids, last_activity)
        SELECT p_workspace_id, g.user_id, b.period_start, b.period_end, g.period_type, g.total_prompt_tokens,
               g.total_completion_tokens, g.total_tokens, g.total_cost_usd, g.unpriced_calls, g.message_count,
               g.conversation_count, g.agent_ids, g.last_activity
        FROM grouped g JOIN bounds b ON b.period_type = g.period_type AND b.start_day = g.start_day
        ON CONFLICT ON CONSTRAINT user_token_usage_period_key DO UPDATE SET
            period_end = EXCLUDED.period_end,
            total_prompt_tokens = EXCLUDED.total_prompt_tokens,
            total_completion_tokens = EXCLUDED.total_completion_tokens,
            total_tokens = EXCLUDED.total_tokens, total_cost_usd = EXCLUDED.total_cost_usd,
            unpriced_calls = EXCLUDED.unpriced_calls, message_count = EXCLUDED.message_count,
            conversation_count = EXCLUDED.conversation_count, agent_ids = EXCLUDED.agent_ids,
            last_activity = EXCLUDED.last_activity, updated_at = now();
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END LOOP;
    RETURN written;
END $$;
REVOKE EXECUTE ON FUNCTION analytics.token_usage_periods(date[], text) FROM PUBLIC;
