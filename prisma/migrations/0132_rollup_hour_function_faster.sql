-- Grouped hour function (0100, sessions since 0131), faster (docs/notes/rollups.md, "Session 4:
-- hour pass"). Same columns and values; the property tests compare every column with the brute
-- force. Measured on one hour of 1M runs + 1M events + 1M calls in 20 workspaces (backend CPU,
-- serial): 0100 8.5-9.6 s, 0131 6.8-7.5 s, this 4.6-4.8 s.
--
-- - Activity keys: every run, call and event references a user of its own workspace (foreign
--   keys), so the active-user aggregate already has a row for every (hour, workspace) with source
--   rows; the separate aggregate over all activity only to list the keys is gone.
-- - Hour bucket by date_bin on the epoch (same value as date_trunc('hour', t, 'UTC')), and no join
--   to the hour list when the hours are contiguous (the range bounds select exactly their rows).
-- - Raw CTEs inlined instead of materialised; run counters, distinct agents and percentiles as
--   separate aggregates (hashable ones hash; the percentile sort reads narrow rows).
-- - work_mem 64 MB for this function.

CREATE OR REPLACE FUNCTION analytics.compute_hour_metrics_grouped(p_hour_starts timestamptz[])
    RETURNS TABLE (
        workspace_id uuid, period_start timestamptz, total_users integer, active_users integer,
        new_users integer, returning_users integer, total_sessions integer,
        avg_session_duration_seconds numeric, bounce_rate numeric, total_runs integer,
        successful_runs integer, failed_runs integer, cancelled_runs integer, avg_runtime_seconds numeric,
        median_runtime_seconds numeric, p95_runtime_seconds numeric, p99_runtime_seconds numeric,
        total_credits numeric, avg_credits_per_run numeric, credits_by_model jsonb,
        unique_agents_run integer, total_errors integer, error_rate numeric, errors_by_type jsonb,
        llm_calls integer, prompt_tokens bigint, completion_tokens bigint, total_tokens bigint,
        llm_cost_usd numeric, unpriced_llm_calls integer, avg_response_time_ms integer,
        p95_response_time_ms integer)
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_custom_plan
    SET search_path = pg_catalog, pg_temp
    -- The session hash (one group per session) and the percentile sorts hold about 1M rows each at
    -- 50,000 events/s; at the 4 MB default they spill to disk. One statement of the worker, bounded.
    SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    -- Rows of every CTE carry `scope`: the workspace id, or this nil uuid for the platform rows, so
    -- the final joins are plain equalities (hashable) instead of IS NOT DISTINCT FROM.
    platform constant uuid := '00000000-0000-0000-0000-000000000000';
    -- date_bin('1 hour', t, epoch) is the UTC hour start of t, like date_trunc('hour', t, 'UTC'), but
    -- plain arithmetic: date_trunc with a zone converts every row through the time zone code
    -- (grouping 1M runs by hour and workspace: 0.41 s CPU with date_trunc, 0.19 s with date_bin).
    origin constant timestamptz := 'epoch';
    starts timestamptz[];
    lo timestamptz;
    hi timestamptz;
    every_hour boolean;
BEGIN
    SELECT array_agg(h ORDER BY h) INTO starts
      FROM (SELECT DISTINCT date_bin('1 hour', s, origin) AS h FROM unnest(p_hour_starts) s WHERE s IS NOT NULL) x;
    IF starts IS NULL THEN RETURN; END IF;
    lo := starts[1];
    hi := starts[cardinality(starts)] + interval '1 hour';
    -- Every hour of [lo, hi) requested: the range bounds select exactly the requested rows, so no
    -- per-row hour test (a constant in the custom plan, folded away).
    every_hour := cardinality(starts) = extract(epoch FROM hi - lo)::bigint / 3600;
    RETURN QUERY
    -- The raw CTEs are NOT MATERIALIZED: every consumer range-scans the table again. Filling a CTE
    -- with 1M runs and reading it once cost 0.4 s CPU (it spills to a temporary file); a range scan
    -- of the hour's rows 0.1 s.
    WITH runs AS NOT MATERIALIZED (
        SELECT date_bin('1 hour', r.started_at, origin) AS period_start, r.workspace_id, r.agent_id, r.user_id,
               r.status, r.runtime_seconds, r.credits_consumed, coalesce(r.model, 'unknown') AS model, r.error_type
        FROM public.agent_runs r
        WHERE r.started_at >= lo AND r.started_at < hi
          AND (every_hour OR date_bin('1 hour', r.started_at, origin) = ANY (starts))
    ), activity AS NOT MATERIALIZED (
        SELECT date_bin('1 hour', a.created_at, origin) AS period_start, a.workspace_id, a.user_id, a.session_id,
               a.created_at
        FROM analytics.user_activity a
        WHERE a.created_at >= lo AND a.created_at < hi
          AND (every_hour OR date_bin('1 hour', a.created_at, origin) = ANY (starts))
    ), calls AS NOT MATERIALIZED (
        SELECT date_bin('1 hour', l.created_at, origin) AS period_start, l.workspace_id, l.user_id, l.prompt_tokens,
               l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms
        FROM public.llm_usage_logs l
        WHERE l.created_at >= lo AND l.created_at < hi
          AND (every_hour OR date_bin('1 hour', l.created_at, origin) = ANY (starts))
    ), active AS (
        SELECT period_start, workspace_id, user_id FROM activity
        UNION SELECT period_start, workspace_id, user_id FROM runs
        UNION SELECT period_start, workspace_id, user_id FROM calls
    ), active_per_workspace AS (
        SELECT a.period_start, a.workspace_id, count(*)::integer AS active_users,
               (count(*) FILTER (WHERE u.created_at < a.period_start))::integer AS returning_users
        FROM active a JOIN public.users u ON u.workspace_id = a.workspace_id AND u.id = a.user_id
        GROUP BY a.period_start, a.workspace_id
    ), active_stats AS (
        -- A user belongs to one workspace: platform distinct users = sum over workspaces.
        SELECT period_start, workspace_id AS scope, active_users, returning_users FROM active_per_workspace
        UNION ALL
        SELECT period_start, platform, sum(active_users)::integer, sum(returning_users)::integer
        FROM active_per_workspace GROUP BY period_start
    ), signups AS (
        SELECT period_start, coalesce(workspace_id, platform) AS scope, count(*)::integer AS new_users
        FROM (SELECT date_bin('1 hour', u.created_at, origin) AS period_start, u.workspace_id
              FROM public.users u
              WHERE u.created_at >= lo AND u.created_at < hi
                AND (every_hour OR date_bin('1 hour', u.created_at, origin) = ANY (starts))) s
        GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), sessions AS (
        -- A session is a (workspace, session id) pair (0131).
        SELECT period_start, workspace_id, count(*) AS events,
               extract(epoch FROM max(created_at) - min(created_at)) AS duration_seconds
        FROM activity WHERE session_id IS NOT NULL
        GROUP BY period_start, workspace_id, session_id
    ), session_sums AS (
        SELECT period_start, workspace_id, count(*) AS sessions, sum(duration_seconds) AS duration_sum,
               count(*) FILTER (WHERE events = 1) AS bounced
        FROM sessions GROUP BY period_start, workspace_id
    ), session_stats AS (
        -- Platform: sums over the workspace rows; sum / count is what avg computes (numeric_avg
        -- divides its exact sum by the count).
        SELECT period_start, scope, sessions::integer AS total_sessions, duration_sum / sessions AS avg_duration,
               bounced::numeric * 100 / sessions AS bounce_rate
        FROM (SELECT period_start, workspace_id AS scope, sessions, duration_sum, bounced FROM session_sums
              UNION ALL
              SELECT period_start, platform, sum(sessions), sum(duration_sum), sum(bounced)
              FROM session_sums GROUP BY period_start) s
    ), run_stats AS (
        -- Hashable aggregates only; distinct agents and percentiles apart, so this is one hash pass
        -- instead of a sort of every run (count(DISTINCT) and ordered-set aggregates forbid hashing).
        SELECT period_start, coalesce(workspace_id, platform) AS scope,
               count(*)::integer AS total_runs,
               (count(*) FILTER (WHERE status = 'completed'))::integer AS successful_runs,
               (count(*) FILTER (WHERE status = 'failed'))::integer AS failed_runs,
               (count(*) FILTER (WHERE status = 'cancelled'))::integer AS cancelled_runs,
               avg(runtime_seconds) FILTER (WHERE status <> 'running') AS avg_runtime,
               sum(credits_consumed) AS total_credits
        FROM runs GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), run_agents AS (
        -- An agent belongs to one workspace (agents.id is unique, runs reference it with their
        -- workspace): platform distinct agents = number of distinct (workspace, agent) pairs.
        SELECT period_start, coalesce(workspace_id, platform) AS scope, count(*)::integer AS unique_agents
        FROM (SELECT DISTINCT period_start, workspace_id, agent_id FROM runs) d
        GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), run_pct AS (
        -- percentile_cont per workspace and over all the hour's finished runs (platform) in one
        -- pass over one sort of narrow rows (hour, workspace, runtime as float8, which
        -- percentile_cont reads anyway); each grouping level still sorts its own values.
        SELECT period_start, coalesce(workspace_id, platform) AS scope,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY rt) AS runtime_pct
        FROM (SELECT period_start, workspace_id, runtime_seconds::float8 AS rt FROM runs
              WHERE status <> 'running' AND runtime_seconds IS NOT NULL) f
        GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), model_credits AS (
        SELECT period_start, scope, jsonb_object_agg(model, credits) AS credits_by_model
        FROM (SELECT period_start, coalesce(workspace_id, platform) AS scope, model, sum(credits_consumed) AS credits
              FROM runs GROUP BY GROUPING SETS ((period_start, workspace_id, model), (period_start, model))) m
        GROUP BY period_start, scope
    ), error_types AS (
        SELECT period_start, scope, jsonb_object_agg(error_type, n) AS errors_by_type
        FROM (SELECT period_start, coalesce(workspace_id, platform) AS scope, error_type, count(*) AS n
              FROM (SELECT period_start, workspace_id, coalesce(error_type, 'unknown') AS error_type
                    FROM runs WHERE status = 'failed') f
              GROUP BY GROUPING SETS ((period_start, workspace_id, error_type), (period_start, error_type))) e
        GROUP BY period_start, scope
    ), call_stats AS (
        SELECT period_start, coalesce(workspace_id, platform) AS scope, count(*)::integer AS llm_calls,
               sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
               sum(total_tokens)::bigint AS total_tokens, coalesce(sum(total_cost_usd), 0) AS llm_cost_usd,
               (count(*) FILTER (WHERE total_cost_usd IS NULL))::integer AS unpriced_llm_calls,
               round(avg(latency_ms))::integer AS avg_latency,
               round(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms))::integer AS p95_latency
        FROM calls GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), keys AS (
        -- Every (hour, scope) with source rows. Every run, call and event has a user of its
        -- workspace (foreign keys), so active_stats has a row wherever any of them has one.
        SELECT period_start, scope FROM active_stats
        UNION SELECT period_start, scope FROM signups
    ), user_marks AS (
        -- Running count of signups at each period end, per workspace (platform: all workspaces), in
        -- one sort. At equal times the period end sorts first: a user signed up exactly at the end
        -- is not in it.
        SELECT m.scope, m.period_start,
               sum(m.is_user) OVER (PARTITION BY m.scope ORDER BY m.t, m.is_user ROWS UNBOUNDED PRECEDING) AS n
        FROM (
            SELECT u.workspace_id AS scope, u.created_at AS t, 1 AS is_user, NULL::timestamptz AS period_start
            FROM public.users u WHERE u.created_at >= lo AND u.created_at < hi
            UNION ALL
            SELECT platform, u.created_at, 1, NULL FROM public.users u WHERE u.created_at >= lo AND u.created_at < hi
            UNION ALL
            SELECT k.scope, k.period_start + interval '1 hour', 0, k.period_start FROM keys k
        ) m
    ), users_before AS (
        SELECT coalesce(u.workspace_id, platform) AS scope, count(*) AS n
        FROM public.users u WHERE u.created_at < lo
        GROUP BY GROUPING SETS ((u.workspace_id), ())
    ), user_totals AS (
        SELECT um.period_start, um.scope, (coalesce(ub.n, 0) + um.n)::integer AS total_users
        FROM user_marks um LEFT JOIN users_before ub ON ub.scope = um.scope
        WHERE um.period_start IS NOT NULL
    )
    SELECT nullif(k.scope, platform),
           k.period_start,
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
           cs.p95_latency
    FROM keys k
    LEFT JOIN user_totals ut ON ut.period_start = k.period_start AND ut.scope = k.scope
    LEFT JOIN active_stats ac ON ac.period_start = k.period_start AND ac.scope = k.scope
    LEFT JOIN signups su ON su.period_start = k.period_start AND su.scope = k.scope
    LEFT JOIN session_stats ss ON ss.period_start = k.period_start AND ss.scope = k.scope
    LEFT JOIN run_stats rs ON rs.period_start = k.period_start AND rs.scope = k.scope
    LEFT JOIN run_agents ra ON ra.period_start = k.period_start AND ra.scope = k.scope
    LEFT JOIN run_pct rp ON rp.period_start = k.period_start AND rp.scope = k.scope
    LEFT JOIN model_credits mc ON mc.period_start = k.period_start AND mc.scope = k.scope
    LEFT JOIN error_types et ON et.period_start = k.period_start AND et.scope = k.scope
    LEFT JOIN call_stats cs ON cs.period_start = k.period_start AND cs.scope = k.scope;
END $$;
