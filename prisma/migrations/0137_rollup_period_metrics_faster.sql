-- Hour and day rows of one workspace or the platform (compute_period_metrics, 0131) with 0132's
-- techniques (docs/notes/rollups.md, "Session 5"). Same signature, columns and values; the property
-- tests compare every column with the brute force. The day steps and the rebuild's per-workspace
-- hours use this function; the incremental hour pass has its own grouped functions (0132/0133).
--
-- Measured on the medium world's ingested minute (1M runs + 1M events + 1M calls, 20 workspaces,
-- 2,000 users each), the platform's day: 6.5 s, most of it the runs sorted to disk (53 MB, for
-- count(DISTINCT agent) and the percentiles together), the calls sorted to disk (41 MB), and the
-- three raw CTEs written to and re-read from tuplestores.
--
-- - work_mem 64 MB for this function (the sorts and hashes stay in memory).
-- - Raw CTEs stay materialised: inlining them (NOT MATERIALIZED) was slower, 6.5–11 s against 5.9 s,
--   because runs is read by seven aggregates.
-- - Run counters, distinct agents and percentiles as separate aggregates: the counters hash, the
--   percentile sort reads only the runtimes.
-- - Raw rows bucketed by expression; the per-row match to the period list (a hash join) only when
--   the periods have gaps, as a filter.
-- - has_source_rows from the active-user aggregate (every source row has a user of its workspace)
--   instead of a separate count over all activity.
--
-- Measured after (same world, psql, two runs each): 20 workspace days one after another 9.6 / 7.75 s
-- → 6.97 / 6.93 s; the platform day 7.58 / 5.94 s → 5.98 / 6.37 s (no clear change: its largest
-- part is materialising the three raw CTEs for the active-user union, ≈ 3.4 s).

CREATE OR REPLACE FUNCTION analytics.compute_period_metrics(
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
    -- A platform day at 50,000 events/s: session and active-user hashes of ~1M groups, percentile
    -- sorts of ~1M rows (at the 4 MB default they spilled to disk, 53 MB for the runs).
    SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    tz text := analytics.workspace_timezone(p_workspace_id);
    lo timestamptz;
    hi timestamptz;
    starts timestamptz[];
    every_period boolean;
BEGIN
    IF p_grain NOT IN ('hour', 'day') THEN
        RAISE EXCEPTION 'grain must be hour or day, not %', p_grain USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The span as plain values, so each custom plan range-scans [lo, hi) once; rows are then matched
    -- to their period by equality on the bucket start (a hash join, not one scan per period).
    SELECT min(s), max(analytics.period_end(p_grain, tz, s)) INTO lo, hi FROM unnest(p_period_starts) s;
    SELECT array_agg(s ORDER BY s) INTO starts
      FROM (SELECT DISTINCT s FROM unnest(p_period_starts) s WHERE s IS NOT NULL) x;
    -- Contiguous periods (each ends where the next starts; the usual one or two days): every raw row
    -- in [lo, hi) falls in one of them, so no per-row filter (0131 joined every row to the period
    -- list, ~0.3 s per million rows). With gaps the filter only skips the rows of the periods in
    -- between: every aggregate is per period and the result keeps the listed periods only.
    -- A constant in each custom plan.
    SELECT coalesce(bool_and(nxt IS NULL OR analytics.period_end(p_grain, tz, s) = nxt), false) INTO every_period
      FROM (SELECT s, lead(s) OVER (ORDER BY s) AS nxt FROM unnest(starts) s) x;
    RETURN QUERY
    WITH periods AS (
        SELECT DISTINCT s AS period_start, analytics.period_end(p_grain, tz, s) AS period_end
        FROM unnest(p_period_starts) s
    ), span AS (
        SELECT lo, hi
    ), runs AS (
        SELECT analytics.period_start(p_grain, tz, r.started_at) AS period_start, r.agent_id, r.user_id, r.status,
               r.runtime_seconds, r.credits_consumed, r.model, r.error_type
        FROM public.agent_runs r
        WHERE (p_workspace_id IS NULL OR r.workspace_id = p_workspace_id) AND r.started_at >= lo AND r.started_at < hi
          AND (every_period OR analytics.period_start(p_grain, tz, r.started_at) = ANY (starts))
    ), activity AS (
        SELECT analytics.period_start(p_grain, tz, a.created_at) AS period_start, a.workspace_id, a.user_id,
               a.session_id, a.created_at
        FROM analytics.user_activity a
        WHERE (p_workspace_id IS NULL OR a.workspace_id = p_workspace_id) AND a.created_at >= lo AND a.created_at < hi
          AND (every_period OR analytics.period_start(p_grain, tz, a.created_at) = ANY (starts))
    ), calls AS (
        SELECT analytics.period_start(p_grain, tz, l.created_at) AS period_start, l.user_id, l.prompt_tokens,
               l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms
        FROM public.llm_usage_logs l
        WHERE (p_workspace_id IS NULL OR l.workspace_id = p_workspace_id) AND l.created_at >= lo AND l.created_at < hi
          AND (every_period OR analytics.period_start(p_grain, tz, l.created_at) = ANY (starts))
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
        -- A session is a (workspace, session id) pair (platform rows: ids repeated by another
        -- workspace's clients are other people's sessions).
        SELECT period_start, workspace_id, session_id, count(*) AS events,
               extract(epoch FROM max(created_at) - min(created_at)) AS duration_seconds
        FROM activity WHERE session_id IS NOT NULL
        GROUP BY period_start, workspace_id, session_id
    ), session_stats AS (
        SELECT period_start, count(*)::integer AS total_sessions, avg(duration_seconds) AS avg_duration,
               (count(*) FILTER (WHERE events = 1))::numeric * 100 / count(*) AS bounce_rate
        FROM sessions GROUP BY period_start
    ), run_stats AS (
        -- Hashable aggregates only: one hash pass instead of a sort of every run (as 0132).
        SELECT period_start,
               count(*)::integer AS total_runs,
               (count(*) FILTER (WHERE status = 'completed'))::integer AS successful_runs,
               (count(*) FILTER (WHERE status = 'failed'))::integer AS failed_runs,
               (count(*) FILTER (WHERE status = 'cancelled'))::integer AS cancelled_runs,
               avg(runtime_seconds) FILTER (WHERE status <> 'running') AS avg_runtime,
               sum(credits_consumed) AS total_credits
        FROM runs GROUP BY period_start
    ), run_agents AS (
        SELECT period_start, count(*)::integer AS unique_agents
        FROM (SELECT DISTINCT period_start, agent_id FROM runs) d GROUP BY period_start
    ), run_pct AS (
        -- The percentile sort reads narrow rows (runtime only); float8 is what percentile_cont
        -- orders by anyway.
        SELECT period_start,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY rt) AS runtime_pct
        FROM (SELECT period_start, runtime_seconds::float8 AS rt FROM runs
              WHERE status <> 'running' AND runtime_seconds IS NOT NULL) f
        GROUP BY period_start
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
           rp.runtime_pct[1]::numeric,
           rp.runtime_pct[2]::numeric,
           rp.runtime_pct[3]::numeric,
           coalesce(rs.total_credits, 0),
           rs.total_credits / nullif(rs.total_runs, 0),
           coalesce(mc.credits_by_model, '{}'::jsonb),
           coalesce(ra.unique_agents, 0),
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
           -- Every run, call and event references a user of its own workspace (foreign keys), so a
           -- period with source rows has active users (0132's keys; no separate pass over activity).
           (ac.period_start IS NOT NULL OR su.period_start IS NOT NULL)
    FROM periods p
    LEFT JOIN user_totals ut ON ut.period_start = p.period_start
    LEFT JOIN active_stats ac ON ac.period_start = p.period_start
    LEFT JOIN signups su ON su.period_start = p.period_start
    LEFT JOIN session_stats ss ON ss.period_start = p.period_start
    LEFT JOIN run_stats rs ON rs.period_start = p.period_start
    LEFT JOIN run_agents ra ON ra.period_start = p.period_start
    LEFT JOIN run_pct rp ON rp.period_start = p.period_start
    LEFT JOIN model_credits mc ON mc.period_start = p.period_start
    LEFT JOIN error_types et ON et.period_start = p.period_start
    LEFT JOIN top_agents ta ON ta.period_start = p.period_start
    LEFT JOIN call_stats cs ON cs.period_start = p.period_start;
END $$;
