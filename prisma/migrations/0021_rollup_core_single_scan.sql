-- Rollup core, second pass (0020 was measured): each recompute now range-scans its raw tables once
-- over [first period start, last period end) with the bounds as plain values, and matches rows to
-- their period by equality on the bucket start (hash join). 0020 joined periods to raw rows by range,
-- which the planner ran as one index scan per period (a 7-day chunk = 169 scans per table) with
-- estimates off by 500x: the platform-wide hourly recompute of one week took 3.4 s, now a fraction.
-- The engine calls steps per island of nearby periods, so a late event from last month does not make
-- today's recompute scan the month in between.

-- Bucket start / end of an instant for a grain: UTC hours, or local days of time zone tz.
CREATE FUNCTION analytics.period_start(p_grain text, p_tz text, p_at timestamptz) RETURNS timestamptz
    -- No SET clause and no stronger volatility than its body: keeps it inlinable (called per raw row).
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_grain = 'hour' THEN pg_catalog.date_trunc('hour', p_at, 'UTC')
                ELSE ((p_at AT TIME ZONE p_tz)::date)::timestamp AT TIME ZONE p_tz END
$$;
CREATE FUNCTION analytics.period_end(p_grain text, p_tz text, p_start timestamptz) RETURNS timestamptz
    -- No SET clause and no stronger volatility than its body: keeps it inlinable (called per raw row).
    LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_grain = 'hour' THEN p_start + interval '1 hour'
                ELSE ((p_start AT TIME ZONE p_tz)::date + 1)::timestamp AT TIME ZONE p_tz END
$$;

DROP FUNCTION analytics.compute_period_metrics(uuid, timestamptz[], timestamptz[]);

CREATE FUNCTION analytics.compute_period_metrics(
    p_workspace_id uuid, p_grain text, p_period_starts timestamptz[])
    RETURNS TABLE (
        period_start timestamptz, total_users integer, active_users integer, new_users integer,
        returning_users integer, total_sessions integer, avg_session_duration_seconds numeric,
        bounce_rate numeric, total_runs integer, successful_runs integer, failed_runs integer,
        cancelled_runs integer, avg_runtime_seconds numeric, median_runtime_seconds numeric,
        p95_runtime_seconds numeric, p99_runtime_seconds numeric, total_credits numeric,
        avg_credits_per_run numeric, credits_by_model jsonb, unique_agents_run integer, top_agents jsonb,
        total_errors integer, error_rate numeric, errors_by_type jsonb, llm_calls integer,
        prompt_tokens bigint, completion_tokens bigint, total_tokens bigint, llm_cost_usd numeric,
        unpriced_llm_calls integer, avg_response_time_ms integer, p95_response_time_ms integer,
        has_source_rows boolean)
    LANGUAGE plpgsql STABLE
    -- The workspace filter is `p_workspace_id IS NULL OR …`: plan with the actual value every call.
    SET plan_cache_mode = force_custom_plan
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tz text := analytics.workspace_timezone(p_workspace_id);
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF p_grain NOT IN ('hour', 'day') THEN
        RAISE EXCEPTION 'grain must be hour or day, not %', p_grain USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The span as plain values, so each custom plan range-scans [lo, hi) once; rows are then matched
    -- to their period by equality on the bucket start (a hash join, not one scan per period).
    SELECT min(s), max(analytics.period_end(p_grain, tz, s)) INTO lo, hi FROM unnest(p_period_starts) s;
    RETURN QUERY
    WITH periods AS (
        SELECT DISTINCT s AS period_start, analytics.period_end(p_grain, tz, s) AS period_end
        FROM unnest(p_period_starts) s
    ), span AS (
        SELECT lo, hi
    ), runs AS (
        SELECT p.period_start, r.agent_id, r.user_id, r.status, r.runtime_seconds, r.credits_consumed,
               r.model, r.error_type
        FROM public.agent_runs r
        JOIN periods p ON p.period_start = analytics.period_start(p_grain, tz, r.started_at)
        WHERE (p_workspace_id IS NULL OR r.workspace_id = p_workspace_id) AND r.started_at >= lo AND r.started_at < hi
    ), activity AS (
        SELECT p.period_start, a.user_id, a.session_id, a.created_at
        FROM analytics.user_activity a
        JOIN periods p ON p.period_start = analytics.period_start(p_grain, tz, a.created_at)
        WHERE (p_workspace_id IS NULL OR a.workspace_id = p_workspace_id) AND a.created_at >= lo AND a.created_at < hi
    ), calls AS (
        SELECT p.period_start, l.user_id, l.prompt_tokens, l.completion_tokens, l.total_tokens,
               l.total_cost_usd, l.latency_ms
        FROM public.llm_usage_logs l
        JOIN periods p ON p.period_start = analytics.period_start(p_grain, tz, l.created_at)
        WHERE (p_workspace_id IS NULL OR l.workspace_id = p_workspace_id) AND l.created_at >= lo AND l.created_at < hi
    ), active AS (
        SELECT period_start, user_id FROM activity
        UNION SELECT period_start, user_id FROM runs
        UNION SELECT period_start, user_id FROM calls
    ), active_stats AS (
        SELECT a.period_start, count(*)::integer AS active_users,
               (count(*) FILTER (WHERE u.created_at < a.period_start))::integer AS returning_users
        FROM active a JOIN public.users u ON u.id = a.user_id
        GROUP BY a.period_start
    ), signups AS (
        SELECT p.period_start, count(*)::integer AS new_users
        FROM public.users u
        JOIN periods p ON p.period_start = analytics.period_start(p_grain, tz, u.created_at)
        WHERE (p_workspace_id IS NULL OR u.workspace_id = p_workspace_id) AND u.created_at >= lo AND u.created_at < hi
        GROUP BY p.period_start
    ), users_before_span AS (
        SELECT count(*) AS n FROM public.users u, span
        WHERE (p_workspace_id IS NULL OR u.workspace_id = p_workspace_id) AND u.created_at < span.lo
    ), user_marks AS (
        -- Running count of signups at each period end, in one sort (not one count per period).
        -- At equal times the period end sorts first: a user signed up exactly at the end is not in it.
        SELECT m.period_start, sum(m.is_user) OVER (ORDER BY m.t, m.is_user ROWS UNBOUNDED PRECEDING) AS n
        FROM (
            SELECT u.created_at AS t, 1 AS is_user, NULL::timestamptz AS period_start
            FROM public.users u, span
            WHERE (p_workspace_id IS NULL OR u.workspace_id = p_workspace_id)
              AND u.created_at >= span.lo AND u.created_at < span.hi
            UNION ALL
            SELECT period_end, 0, period_start FROM periods
        ) m
    ), user_totals AS (
        SELECT um.period_start, (ub.n + um.n)::integer AS total_users
        FROM user_marks um, users_before_span ub
        WHERE um.period_start IS NOT NULL
    ), sessions AS (
        SELECT period_start, session_id, count(*) AS events,
               extract(epoch FROM max(created_at) - min(created_at)) AS duration_seconds
        FROM activity WHERE session_id IS NOT NULL
        GROUP BY period_start, session_id
    ), session_stats AS (
        SELECT period_start, count(*)::integer AS total_sessions, avg(duration_seconds) AS avg_duration,
               (count(*) FILTER (WHERE events = 1))::numeric * 100 / count(*) AS bounce_rate
        FROM sessions GROUP BY period_start
    ), activity_counts AS (
        SELECT period_start, count(*) AS events FROM activity GROUP BY period_start
    ), run_stats AS (
        SELECT period_start,
               count(*)::integer AS total_runs,
               (count(*) FILTER (WHERE status = 'completed'))::integer AS successful_runs,
               (count(*) FILTER (WHERE status = 'failed'))::integer AS failed_runs,
               (count(*) FILTER (WHERE status = 'cancelled'))::integer AS cancelled_runs,
               avg(runtime_seconds) FILTER (WHERE status <> 'running') AS avg_runtime,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY runtime_seconds)
                   FILTER (WHERE status <> 'running' AND runtime_seconds IS NOT NULL) AS runtime_pct,
               sum(credits_consumed) AS total_credits,
               count(DISTINCT agent_id)::integer AS unique_agents
        FROM runs GROUP BY period_start
    ), model_credits AS (
        SELECT period_start, jsonb_object_agg(model, credits) AS credits_by_model
        FROM (SELECT period_start, coalesce(model, 'unknown') AS model, sum(credits_consumed) AS credits
              FROM runs GROUP BY 1, 2) m
        GROUP BY period_start
    ), error_types AS (
        SELECT period_start, jsonb_object_agg(error_type, n) AS errors_by_type
        FROM (SELECT period_start, coalesce(error_type, 'unknown') AS error_type, count(*) AS n
              FROM runs WHERE status = 'failed' GROUP BY 1, 2) e
        GROUP BY period_start
    ), agent_ranks AS (
        SELECT c.period_start, c.agent_id, a.name, c.runs, c.successful_runs, c.credits,
               row_number() OVER (PARTITION BY c.period_start ORDER BY c.runs DESC, c.agent_id) AS rank
        FROM (SELECT period_start, agent_id, count(*) AS runs,
                     count(*) FILTER (WHERE status = 'completed') AS successful_runs,
                     sum(credits_consumed) AS credits
              FROM runs GROUP BY 1, 2) c
        JOIN public.agents a ON a.id = c.agent_id
    ), top_agents AS (
        SELECT period_start,
               jsonb_agg(jsonb_build_object('agent_id', agent_id, 'name', name, 'runs', runs,
                   'successful_runs', successful_runs, 'credits', credits) ORDER BY rank) AS top_agents
        FROM agent_ranks WHERE rank <= 5 GROUP BY period_start
    ), call_stats AS (
        SELECT period_start, count(*)::integer AS llm_calls,
               sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
               sum(total_tokens)::bigint AS total_tokens, coalesce(sum(total_cost_usd), 0) AS llm_cost_usd,
               (count(*) FILTER (WHERE total_cost_usd IS NULL))::integer AS unpriced_llm_calls,
               round(avg(latency_ms))::integer AS avg_latency,
               round(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::integer AS p95_latency
        FROM calls GROUP BY period_start
    )
    SELECT p.period_start,
           coalesce(ut.total_users, 0),
           coalesce(ac.active_users, 0),
           coalesce(su.new_users, 0),
           coalesce(ac.returning_users, 0),
           coalesce(ss.total_sessions, 0),
           ss.avg_duration,
           ss.bounce_rate,
           coalesce(rs.total_runs, 0),
           coalesce(rs.successful_runs, 0),
           coalesce(rs.failed_runs, 0),
           coalesce(rs.cancelled_runs, 0),
           rs.avg_runtime,
           rs.runtime_pct[1]::numeric,
           rs.runtime_pct[2]::numeric,
           rs.runtime_pct[3]::numeric,
           coalesce(rs.total_credits, 0),
           rs.total_credits / nullif(rs.total_runs, 0),
           coalesce(mc.credits_by_model, '{}'::jsonb),
           coalesce(rs.unique_agents, 0),
           coalesce(ta.top_agents, '[]'::jsonb),
           coalesce(rs.failed_runs, 0),
           rs.failed_runs::numeric * 100 / nullif(rs.total_runs, 0),
           coalesce(et.errors_by_type, '{}'::jsonb),
           coalesce(cs.llm_calls, 0),
           coalesce(cs.prompt_tokens, 0),
           coalesce(cs.completion_tokens, 0),
           coalesce(cs.total_tokens, 0),
           coalesce(cs.llm_cost_usd, 0),
           coalesce(cs.unpriced_llm_calls, 0),
           cs.avg_latency,
           cs.p95_latency,
           (rs.period_start IS NOT NULL OR acn.period_start IS NOT NULL OR cs.period_start IS NOT NULL
               OR su.period_start IS NOT NULL)
    FROM periods p
    LEFT JOIN user_totals ut ON ut.period_start = p.period_start
    LEFT JOIN active_stats ac ON ac.period_start = p.period_start
    LEFT JOIN signups su ON su.period_start = p.period_start
    LEFT JOIN session_stats ss ON ss.period_start = p.period_start
    LEFT JOIN activity_counts acn ON acn.period_start = p.period_start
    LEFT JOIN run_stats rs ON rs.period_start = p.period_start
    LEFT JOIN model_credits mc ON mc.period_start = p.period_start
    LEFT JOIN error_types et ON et.period_start = p.period_start
    LEFT JOIN top_agents ta ON ta.period_start = p.period_start
    LEFT JOIN call_stats cs ON cs.period_start = p.period_start;
END $$;

CREATE OR REPLACE FUNCTION analytics.rollup_hourly_metrics(p_workspace_id uuid, p_hours timestamptz[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    starts  timestamptz[];
    written integer;
BEGIN
    SELECT coalesce(array_agg(h ORDER BY h), '{}') INTO starts
      FROM (SELECT DISTINCT date_trunc('hour', x, 'UTC') AS h FROM unnest(p_hours) x WHERE x IS NOT NULL) hours;
    IF cardinality(starts) = 0 THEN RETURN 0; END IF;

    WITH m AS MATERIALIZED (
        SELECT * FROM analytics.compute_period_metrics(p_workspace_id, 'hour', starts)
    ), upserted AS (
        INSERT INTO analytics.hourly_metrics AS t (
            metric_hour, workspace_id, total_users, active_users, new_users, returning_users,
            total_sessions, avg_session_duration_seconds, bounce_rate, total_runs, successful_runs,
            failed_runs, cancelled_runs, avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds,
            p99_runtime_seconds, total_credits, avg_credits_per_run, credits_by_model, unique_agents_run,
            total_errors, error_rate, errors_by_type, llm_calls, prompt_tokens, completion_tokens,
            total_tokens, llm_cost_usd, unpriced_llm_calls, avg_response_time_ms, p95_response_time_ms)
        SELECT period_start, p_workspace_id, total_users, active_users, new_users, returning_users,
               total_sessions, avg_session_duration_seconds, bounce_rate, total_runs, successful_runs,
               failed_runs, cancelled_runs, avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds,
               p99_runtime_seconds, total_credits, avg_credits_per_run, credits_by_model, unique_agents_run,
               total_errors, error_rate, errors_by_type, llm_calls, prompt_tokens, completion_tokens,
               total_tokens, llm_cost_usd, unpriced_llm_calls, avg_response_time_ms, p95_response_time_ms
        FROM m WHERE has_source_rows
        ORDER BY period_start
        ON CONFLICT (metric_hour, workspace_id) DO UPDATE SET
            total_users = EXCLUDED.total_users, active_users = EXCLUDED.active_users,
            new_users = EXCLUDED.new_users, returning_users = EXCLUDED.returning_users,
            total_sessions = EXCLUDED.total_sessions,
            avg_session_duration_seconds = EXCLUDED.avg_session_duration_seconds,
            bounce_rate = EXCLUDED.bounce_rate, total_runs = EXCLUDED.total_runs,
            successful_runs = EXCLUDED.successful_runs, failed_runs = EXCLUDED.failed_runs,
            cancelled_runs = EXCLUDED.cancelled_runs, avg_runtime_seconds = EXCLUDED.avg_runtime_seconds,
            median_runtime_seconds = EXCLUDED.median_runtime_seconds,
            p95_runtime_seconds = EXCLUDED.p95_runtime_seconds, p99_runtime_seconds = EXCLUDED.p99_runtime_seconds,
            total_credits = EXCLUDED.total_credits, avg_credits_per_run = EXCLUDED.avg_credits_per_run,
            credits_by_model = EXCLUDED.credits_by_model, unique_agents_run = EXCLUDED.unique_agents_run,
            total_errors = EXCLUDED.total_errors, error_rate = EXCLUDED.error_rate,
            errors_by_type = EXCLUDED.errors_by_type, llm_calls = EXCLUDED.llm_calls,
            prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
            total_tokens = EXCLUDED.total_tokens, llm_cost_usd = EXCLUDED.llm_cost_usd,
            unpriced_llm_calls = EXCLUDED.unpriced_llm_calls,
            avg_response_time_ms = EXCLUDED.avg_response_time_ms,
            p95_response_time_ms = EXCLUDED.p95_response_time_ms
        RETURNING 1
    ), removed AS (
        DELETE FROM analytics.hourly_metrics t USING m
        WHERE NOT m.has_source_rows AND t.metric_hour = m.period_start
          AND t.workspace_id IS NOT DISTINCT FROM p_workspace_id
    )
    SELECT count(*) INTO written FROM upserted;
    RETURN written;
END $$;

CREATE OR REPLACE FUNCTION analytics.rollup_daily_metrics(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    starts  timestamptz[];
    written integer;
BEGIN
    SELECT coalesce(array_agg(d::timestamp AT TIME ZONE tz ORDER BY d), '{}') INTO starts
      FROM (SELECT DISTINCT d FROM unnest(p_days) d WHERE d IS NOT NULL) days;
    IF cardinality(starts) = 0 THEN RETURN 0; END IF;

    WITH m AS MATERIALIZED (
        SELECT (c.period_start AT TIME ZONE tz)::date AS metric_date, c.*
        FROM analytics.compute_period_metrics(p_workspace_id, 'day', starts) c
    ), upserted AS (
        INSERT INTO analytics.daily_metrics AS t (
            metric_date, workspace_id, total_users, active_users, new_users, returning_users,
            total_sessions, avg_session_duration_seconds, bounce_rate, total_runs, successful_runs,
            failed_runs, cancelled_runs, avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds,
            p99_runtime_seconds, total_credits_consumed, avg_credits_per_run, credits_by_model,
            unique_agents_run, top_agents, total_errors, error_rate, errors_by_type, llm_calls,
            prompt_tokens, completion_tokens, total_tokens, llm_cost_usd, unpriced_llm_calls)
        SELECT metric_date, p_workspace_id, total_users, active_users, new_users, returning_users,
               total_sessions, avg_session_duration_seconds, bounce_rate, total_runs, successful_runs,
               failed_runs, cancelled_runs, avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds,
               p99_runtime_seconds, total_credits, avg_credits_per_run, credits_by_model,
               unique_agents_run, top_agents, total_errors, error_rate, errors_by_type, llm_calls,
               prompt_tokens, completion_tokens, total_tokens, llm_cost_usd, unpriced_llm_calls
        FROM m WHERE has_source_rows
        ORDER BY metric_date
        ON CONFLICT (metric_date, workspace_id) DO UPDATE SET
            total_users = EXCLUDED.total_users, active_users = EXCLUDED.active_users,
            new_users = EXCLUDED.new_users, returning_users = EXCLUDED.returning_users,
            total_sessions = EXCLUDED.total_sessions,
            avg_session_duration_seconds = EXCLUDED.avg_session_duration_seconds,
            bounce_rate = EXCLUDED.bounce_rate, total_runs = EXCLUDED.total_runs,
            successful_runs = EXCLUDED.successful_runs, failed_runs = EXCLUDED.failed_runs,
            cancelled_runs = EXCLUDED.cancelled_runs, avg_runtime_seconds = EXCLUDED.avg_runtime_seconds,
            median_runtime_seconds = EXCLUDED.median_runtime_seconds,
            p95_runtime_seconds = EXCLUDED.p95_runtime_seconds, p99_runtime_seconds = EXCLUDED.p99_runtime_seconds,
            total_credits_consumed = EXCLUDED.total_credits_consumed,
            avg_credits_per_run = EXCLUDED.avg_credits_per_run, credits_by_model = EXCLUDED.credits_by_model,
            unique_agents_run = EXCLUDED.unique_agents_run, top_agents = EXCLUDED.top_agents,
            total_errors = EXCLUDED.total_errors, error_rate = EXCLUDED.error_rate,
            errors_by_type = EXCLUDED.errors_by_type, llm_calls = EXCLUDED.llm_calls,
            prompt_tokens = EXCLUDED.prompt_tokens, completion_tokens = EXCLUDED.completion_tokens,
            total_tokens = EXCLUDED.total_tokens, llm_cost_usd = EXCLUDED.llm_cost_usd,
            unpriced_llm_calls = EXCLUDED.unpriced_llm_calls
        RETURNING 1
    ), removed AS (
        DELETE FROM analytics.daily_metrics t USING m
        WHERE NOT m.has_source_rows AND t.metric_date = m.metric_date
          AND t.workspace_id IS NOT DISTINCT FROM p_workspace_id
    )
    SELECT count(*) INTO written FROM upserted;
    RETURN written;
END $$;

CREATE OR REPLACE FUNCTION analytics.rollup_agent_performance(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    lo      timestamptz;
    hi      timestamptz;
    written integer;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'agent_performance is per workspace' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT min(d)::timestamp AT TIME ZONE tz, (max(d) + 1)::timestamp AT TIME ZONE tz INTO lo, hi FROM unnest(p_days) d;
    IF lo IS NULL THEN RETURN 0; END IF;
    WITH days AS (
        SELECT DISTINCT d AS metric_date, d::timestamp AT TIME ZONE tz AS day_start,
               (d + 1)::timestamp AT TIME ZONE tz AS day_end
        FROM unnest(p_days) d WHERE d IS NOT NULL
    ), runs AS (
        SELECT d.metric_date, r.id, r.agent_id, r.user_id, r.status, r.runtime_seconds,
               r.credits_consumed, r.error_type, r.error_message, r.rating, r.feedback
        FROM public.agent_runs r
        JOIN days d ON d.metric_date = (r.started_at AT TIME ZONE tz)::date
        WHERE r.workspace_id = p_workspace_id AND r.started_at >= lo AND r.started_at < hi
    ), call_tokens AS (
        SELECT l.run_id, sum(l.total_tokens) AS tokens
        FROM public.llm_usage_logs l JOIN runs r ON l.run_id = r.id
        WHERE l.workspace_id = p_workspace_id
        GROUP BY l.run_id
    ), stage_tokens AS (
        SELECT s.run_id, sum(s.total_tokens) AS tokens
        FROM public.run_stages s JOIN runs r ON s.run_id = r.id
        WHERE s.workspace_id = p_workspace_id
        GROUP BY s.run_id
    ), run_tokens AS (
        SELECT r.id, coalesce(c.tokens, s.tokens, 0) AS tokens
        FROM runs r LEFT JOIN call_tokens c ON c.run_id = r.id LEFT JOIN stage_tokens s ON s.run_id = r.id
    ), stats AS (
        SELECT r.metric_date, r.agent_id,
               count(*)::integer AS total_runs,
               (count(*) FILTER (WHERE r.status = 'completed'))::integer AS successful_runs,
               (count(*) FILTER (WHERE r.status = 'failed'))::integer AS failed_runs,
               (count(*) FILTER (WHERE r.status = 'cancelled'))::integer AS cancelled_runs,
               avg(r.runtime_seconds) FILTER (WHERE r.status <> 'running') AS avg_runtime,
               min(r.runtime_seconds) FILTER (WHERE r.status <> 'running') AS min_runtime,
               max(r.runtime_seconds) FILTER (WHERE r.status <> 'running') AS max_runtime,
               percentile_cont(ARRAY[0.5, 0.75, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.runtime_seconds)
                   FILTER (WHERE r.status <> 'running' AND r.runtime_seconds IS NOT NULL) AS pct,
               sum(r.credits_consumed) AS total_credits,
               sum(t.tokens)::bigint AS total_tokens,
               count(DISTINCT r.user_id)::integer AS unique_users,
               avg(r.rating) AS avg_rating,
               (count(*) FILTER (WHERE r.rating IS NOT NULL OR r.feedback IS NOT NULL))::integer AS feedback_count
        FROM runs r JOIN run_tokens t ON t.id = r.id
        GROUP BY r.metric_date, r.agent_id
    ), error_types AS (
        SELECT metric_date, agent_id, jsonb_object_agg(error_type, n) AS error_types
        FROM (SELECT metric_date, agent_id, coalesce(error_type, 'unknown') AS error_type, count(*) AS n
              FROM runs WHERE status = 'failed' GROUP BY 1, 2, 3) e
        GROUP BY metric_date, agent_id
    ), failure_reasons AS (
        SELECT metric_date, agent_id,
               jsonb_agg(jsonb_build_object('reason', reason, 'count', n) ORDER BY n DESC, reason) AS reasons
        FROM (SELECT metric_date, agent_id, error_message AS reason, count(*) AS n,
                     row_number() OVER (PARTITION BY metric_date, agent_id
                                        ORDER BY count(*) DESC, error_message) AS rank
              FROM runs WHERE status = 'failed' AND error_message IS NOT NULL
              GROUP BY metric_date, agent_id, error_message) f
        WHERE rank <= 5
        GROUP BY metric_date, agent_id
    ), computed AS MATERIALIZED (
        SELECT s.*, coalesce(e.error_types, '{}'::jsonb) AS error_types,
               coalesce(f.reasons, '[]'::jsonb) AS reasons
        FROM stats s
        LEFT JOIN error_types e USING (metric_date, agent_id)
        LEFT JOIN failure_reasons f USING (metric_date, agent_id)
    ), upserted AS (
        INSERT INTO analytics.agent_performance AS t (
            workspace_id, agent_id, metric_date, total_runs, successful_runs, failed_runs, cancelled_runs,
            avg_runtime_seconds, min_runtime_seconds, max_runtime_seconds, p50_runtime_seconds,
            p75_runtime_seconds, p95_runtime_seconds, p99_runtime_seconds, total_credits,
            avg_credits_per_run, total_tokens_used, avg_tokens_per_run, unique_users, avg_user_rating,
            total_feedback_count, error_types, common_failure_reasons)
        SELECT p_workspace_id, agent_id, metric_date, total_runs, successful_runs, failed_runs, cancelled_runs,
               avg_runtime, min_runtime, max_runtime, pct[1]::numeric, pct[2]::numeric, pct[3]::numeric,
               pct[4]::numeric, total_credits, total_credits / total_runs, total_tokens,
               round(total_tokens::numeric / total_runs)::integer, unique_users, avg_rating,
               feedback_count, error_types, reasons
        FROM computed
        ORDER BY metric_date, agent_id
        ON CONFLICT (workspace_id, agent_id, metric_date) DO UPDATE SET
            total_runs = EXCLUDED.total_runs, successful_runs = EXCLUDED.successful_runs,
            failed_runs = EXCLUDED.failed_runs, cancelled_runs = EXCLUDED.cancelled_runs,
            avg_runtime_seconds = EXCLUDED.avg_runtime_seconds, min_runtime_seconds = EXCLUDED.min_runtime_seconds,
            max_runtime_seconds = EXCLUDED.max_runtime_seconds, p50_runtime_seconds = EXCLUDED.p50_runtime_seconds,
            p75_runtime_seconds = EXCLUDED.p75_runtime_seconds, p95_runtime_seconds = EXCLUDED.p95_runtime_seconds,
            p99_runtime_seconds = EXCLUDED.p99_runtime_seconds, total_credits = EXCLUDED.total_credits,
            avg_credits_per_run = EXCLUDED.avg_credits_per_run, total_tokens_used = EXCLUDED.total_tokens_used,
            avg_tokens_per_run = EXCLUDED.avg_tokens_per_run, unique_users = EXCLUDED.unique_users,
            avg_user_rating = EXCLUDED.avg_user_rating, total_feedback_count = EXCLUDED.total_feedback_count,
            error_types = EXCLUDED.error_types, common_failure_reasons = EXCLUDED.common_failure_reasons
        RETURNING 1
    ), removed AS (
        DELETE FROM analytics.agent_performance t
        WHERE t.workspace_id = p_workspace_id AND t.metric_date IN (SELECT metric_date FROM days)
          AND NOT EXISTS (SELECT 1 FROM computed c WHERE c.metric_date = t.metric_date AND c.agent_id = t.agent_id)
    )
    SELECT count(*) INTO written FROM upserted;
    RETURN written;
END $$;

CREATE OR REPLACE FUNCTION analytics.rollup_user_daily_activity(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    lo      timestamptz;
    hi      timestamptz;
    written integer;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'user_daily_activity is per workspace' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT min(d)::timestamp AT TIME ZONE tz, (max(d) + 1)::timestamp AT TIME ZONE tz INTO lo, hi FROM unnest(p_days) d;
    IF lo IS NULL THEN RETURN 0; END IF;
    WITH days AS (
        SELECT DISTINCT d AS activity_date, d::timestamp AT TIME ZONE tz AS day_start,
               (d + 1)::timestamp AT TIME ZONE tz AS day_end
        FROM unnest(p_days) d WHERE d IS NOT NULL
    ), touches AS (
        SELECT d.activity_date, a.user_id, 1 AS activity_events, 0 AS runs, 0 AS llm_calls, a.created_at AS at
        FROM analytics.user_activity a JOIN days d ON d.activity_date = (a.created_at AT TIME ZONE tz)::date
        WHERE a.workspace_id = p_workspace_id AND a.created_at >= lo AND a.created_at < hi
        UNION ALL
        SELECT d.activity_date, r.user_id, 0, 1, 0, r.started_at
        FROM public.agent_runs r JOIN days d ON d.activity_date = (r.started_at AT TIME ZONE tz)::date
        WHERE r.workspace_id = p_workspace_id AND r.started_at >= lo AND r.started_at < hi
        UNION ALL
        SELECT d.activity_date, l.user_id, 0, 0, 1, l.created_at
        FROM public.llm_usage_logs l JOIN days d ON d.activity_date = (l.created_at AT TIME ZONE tz)::date
        WHERE l.workspace_id = p_workspace_id AND l.created_at >= lo AND l.created_at < hi
    ), computed AS MATERIALIZED (
        SELECT activity_date, user_id, sum(activity_events)::integer AS activity_events,
               sum(runs)::integer AS runs, sum(llm_calls)::integer AS llm_calls,
               min(at) AS first_seen_at, max(at) AS last_seen_at
        FROM touches GROUP BY activity_date, user_id
    ), upserted AS (
        INSERT INTO analytics.user_daily_activity AS t (
            workspace_id, activity_date, user_id, activity_events, runs, llm_calls, first_seen_at, last_seen_at)
        SELECT p_workspace_id, activity_date, user_id, activity_events, runs, llm_calls, first_seen_at, last_seen_at
        FROM computed
        ORDER BY activity_date, user_id
        ON CONFLICT (workspace_id, activity_date, user_id) DO UPDATE SET
            activity_events = EXCLUDED.activity_events, runs = EXCLUDED.runs, llm_calls = EXCLUDED.llm_calls,
            first_seen_at = EXCLUDED.first_seen_at, last_seen_at = EXCLUDED.last_seen_at
        RETURNING 1
    ), removed AS (
        DELETE FROM analytics.user_daily_activity t
        WHERE t.workspace_id = p_workspace_id AND t.activity_date IN (SELECT activity_date FROM days)
          AND NOT EXISTS (SELECT 1 FROM computed c
                          WHERE c.activity_date = t.activity_date AND c.user_id = t.user_id)
    )
    SELECT count(*) INTO written FROM upserted;
    RETURN written;
END $$;

REVOKE EXECUTE ON FUNCTION analytics.compute_period_metrics(uuid, text, timestamptz[]) FROM PUBLIC;
