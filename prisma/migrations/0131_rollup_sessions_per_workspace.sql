-- Sessions are (workspace, session id) pairs (docs/notes/rollups.md, "Definitions" and "Session 4:
-- hour pass").
--
-- Session ids are reported per workspace by different clients, and every session belongs to one
-- tracked user of one workspace: merging the same id across workspaces (what the platform rows did
-- since 0020) merged different people's sessions. Workspace rows do not change (within a workspace
-- the pair is the id). Platform rows count, and average over, every (workspace, session id) pair.
--
-- In the grouped hour function this also removes the second aggregation of all sessions (the
-- platform merge by session id): platform session count, duration sum and bounced sessions are
-- sums over the workspace rows.

-- Hour and day rows of one workspace or the platform (0021), sessions per (workspace, session id).
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
        SELECT p.period_start, a.workspace_id, a.user_id, a.session_id, a.created_at
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

-- Grouped hour rows (0100); platform session figures as sums over the workspace rows.
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
AS $$
#variable_conflict use_column
DECLARE
    -- Rows of every CTE carry `scope`: the workspace id, or this nil uuid for the platform rows, so
    -- the final joins are plain equalities (hashable) instead of IS NOT DISTINCT FROM.
    platform constant uuid := '00000000-0000-0000-0000-000000000000';
    lo timestamptz;
    hi timestamptz;
BEGIN
    SELECT min(date_trunc('hour', s, 'UTC')), max(date_trunc('hour', s, 'UTC')) + interval '1 hour'
      INTO lo, hi FROM unnest(p_hour_starts) s;
    IF lo IS NULL THEN RETURN; END IF;
    RETURN QUERY
    WITH periods AS (
        SELECT DISTINCT date_trunc('hour', s, 'UTC') AS period_start FROM unnest(p_hour_starts) s WHERE s IS NOT NULL
    ), runs AS MATERIALIZED (
        SELECT p.period_start, r.workspace_id, r.agent_id, r.user_id, r.status, r.runtime_seconds,
               r.credits_consumed, coalesce(r.model, 'unknown') AS model, r.error_type
        FROM public.agent_runs r
        JOIN periods p ON p.period_start = date_trunc('hour', r.started_at, 'UTC')
        WHERE r.started_at >= lo AND r.started_at < hi
    ), activity AS MATERIALIZED (
        SELECT p.period_start, a.workspace_id, a.user_id, a.session_id, a.created_at
        FROM analytics.user_activity a
        JOIN periods p ON p.period_start = date_trunc('hour', a.created_at, 'UTC')
        WHERE a.created_at >= lo AND a.created_at < hi
    ), calls AS MATERIALIZED (
        SELECT p.period_start, l.workspace_id, l.user_id, l.prompt_tokens, l.completion_tokens, l.total_tokens,
               l.total_cost_usd, l.latency_ms
        FROM public.llm_usage_logs l
        JOIN periods p ON p.period_start = date_trunc('hour', l.created_at, 'UTC')
        WHERE l.created_at >= lo AND l.created_at < hi
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
        SELECT p.period_start, coalesce(u.workspace_id, platform) AS scope, count(*)::integer AS new_users
        FROM public.users u
        JOIN periods p ON p.period_start = date_trunc('hour', u.created_at, 'UTC')
        WHERE u.created_at >= lo AND u.created_at < hi
        GROUP BY GROUPING SETS ((p.period_start, u.workspace_id), (p.period_start))
    ), sessions AS (
        -- A session is a (workspace, session id) pair.
        SELECT period_start, workspace_id, count(*) AS events,
               extract(epoch FROM max(created_at) - min(created_at)) AS duration_seconds
        FROM activity WHERE session_id IS NOT NULL
        GROUP BY period_start, workspace_id, session_id
    ), session_sums AS (
        SELECT period_start, workspace_id, count(*) AS sessions, sum(duration_seconds) AS duration_sum,
               count(*) FILTER (WHERE events = 1) AS bounced
        FROM sessions GROUP BY period_start, workspace_id
    ), session_stats AS (
        -- Platform: sums over the workspace rows. sum / count is what avg computes (numeric_avg
        -- divides its exact sum by the count), so the figures equal an avg over all sessions.
        SELECT period_start, scope, sessions::integer AS total_sessions, duration_sum / sessions AS avg_duration,
               bounced::numeric * 100 / sessions AS bounce_rate
        FROM (SELECT period_start, workspace_id AS scope, sessions, duration_sum, bounced FROM session_sums
              UNION ALL
              SELECT period_start, platform, sum(sessions), sum(duration_sum), sum(bounced)
              FROM session_sums GROUP BY period_start) s
    ), activity_keys AS (
        SELECT period_start, coalesce(workspace_id, platform) AS scope
        FROM activity GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), run_stats AS (
        SELECT period_start, coalesce(workspace_id, platform) AS scope,
               count(*)::integer AS total_runs,
               (count(*) FILTER (WHERE status = 'completed'))::integer AS successful_runs,
               (count(*) FILTER (WHERE status = 'failed'))::integer AS failed_runs,
               (count(*) FILTER (WHERE status = 'cancelled'))::integer AS cancelled_runs,
               avg(runtime_seconds) FILTER (WHERE status <> 'running') AS avg_runtime,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY runtime_seconds)
                   FILTER (WHERE status <> 'running' AND runtime_seconds IS NOT NULL) AS runtime_pct,
               sum(credits_consumed) AS total_credits,
               count(DISTINCT agent_id)::integer AS unique_agents
        FROM runs GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
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
        -- Every (hour, scope) with source rows: runs, activity, calls or signups.
        SELECT period_start, scope FROM run_stats
        UNION SELECT period_start, scope FROM activity_keys
        UNION SELECT period_start, scope FROM call_stats
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
           rs.runtime_pct[1]::numeric,
           rs.runtime_pct[2]::numeric,
           rs.runtime_pct[3]::numeric,
           coalesce(rs.total_credits, 0),
           rs.total_credits / nullif(rs.total_runs, 0),
           coalesce(mc.credits_by_model, '{}'::jsonb),
           coalesce(rs.unique_agents, 0),
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
    LEFT JOIN model_credits mc ON mc.period_start = k.period_start AND mc.scope = k.scope
    LEFT JOIN error_types et ON et.period_start = k.period_start AND et.scope = k.scope
    LEFT JOIN call_stats cs ON cs.period_start = k.period_start AND cs.scope = k.scope;
END $$;
