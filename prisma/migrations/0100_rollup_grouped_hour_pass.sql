-- Rollup engine, grouped hour pass (docs/notes/rollups.md, "How the incremental cycle works").
--
-- Before: every dirty workspace recomputed its hourly_metrics rows in its own statement, and the
-- platform recomputed its rows in one more, so the raw rows of a busy hour were scanned, joined to
-- their period and materialised N + 1 times (interleaved multi-tenant ingest puts every workspace on
-- the same pages; in the EXPLAIN of the platform statement about half the time is that scan and
-- materialisation, the other half the aggregates). Now one statement reads the hour's raw rows once
-- and aggregates them per (hour, workspace) and per hour (platform) together.
--
-- Exactness: platform figures that are sums stay sums over all rows; distinct users add up across
-- workspaces (users.id is unique across workspaces and a run/call/event references a user of its
-- own workspace through composite foreign keys); sessions are merged by session_id across
-- workspaces (a client may reuse one), so platform session figures equal a recomputation by
-- session_id; percentiles are percentile_cont over all the hour's rows (GROUPING SETS).

-- Hours whose hour-grain rows are done but whose day-grain steps (and platform day rows) are not:
-- the hour pass moves claimed hours here in the same transaction, the per-workspace day batches
-- claim them from here. A crash between the two loses nothing (both queues are in the database).
CREATE TABLE analytics.rollup_day_dirty_hours (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    hour         timestamptz NOT NULL,
    marked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, hour),
    CONSTRAINT rollup_day_dirty_hours_is_hour CHECK (hour = date_trunc('hour', hour, 'UTC'))
);
-- Internal bookkeeping of the owner's worker, like the other queues (0070): fail closed for the app.
ALTER TABLE analytics.rollup_day_dirty_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.rollup_day_dirty_hours FORCE ROW LEVEL SECURITY;
REVOKE ALL ON analytics.rollup_day_dirty_hours FROM pulseboard_app;

-- Hourly metrics of the given UTC hour starts for every workspace with source rows in them
-- (workspace_id) and for the platform (workspace_id NULL), from one read of the raw rows.
-- Same columns and definitions as analytics.compute_period_metrics(…, 'hour', …) (0021).
CREATE FUNCTION analytics.compute_hour_metrics_grouped(p_hour_starts timestamptz[])
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
    ), session_parts AS (
        SELECT period_start, workspace_id, session_id, count(*) AS events,
               min(created_at) AS first_at, max(created_at) AS last_at
        FROM activity WHERE session_id IS NOT NULL
        GROUP BY period_start, workspace_id, session_id
    ), sessions AS (
        SELECT period_start, workspace_id AS scope, events, extract(epoch FROM last_at - first_at) AS duration_seconds
        FROM session_parts
        UNION ALL
        -- Platform: one session per session_id, whichever workspaces reported it.
        SELECT period_start, platform, sum(events), extract(epoch FROM max(last_at) - min(first_at))
        FROM session_parts GROUP BY period_start, session_id
    ), session_stats AS (
        SELECT period_start, scope, count(*)::integer AS total_sessions, avg(duration_seconds) AS avg_duration,
               (count(*) FILTER (WHERE events = 1))::numeric * 100 / count(*) AS bounce_rate
        FROM sessions GROUP BY period_start, scope
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

-- Recomputes the hourly_metrics rows of the given UTC hours for the given workspaces and for the
-- platform, from one read of the hours' raw rows; deletes those scopes' rows of those hours whose
-- source rows vanished. Rows of other workspaces in the same hours are computed but not written
-- (the caller holds the advisory locks of p_workspace_ids and of the platform only). Returns the
-- number of rows written.
CREATE FUNCTION analytics.rollup_hourly_metrics_grouped(p_hours timestamptz[], p_workspace_ids uuid[])
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
        SELECT * FROM analytics.compute_hour_metrics_grouped(starts) c
        WHERE c.workspace_id IS NULL OR c.workspace_id = ANY (p_workspace_ids)
    ), upserted AS (
        INSERT INTO analytics.hourly_metrics AS t (
            metric_hour, workspace_id, total_users, active_users, new_users, returning_users,
            total_sessions, avg_session_duration_seconds, bounce_rate, total_runs, successful_runs,
            failed_runs, cancelled_runs, avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds,
            p99_runtime_seconds, total_credits, avg_credits_per_run, credits_by_model, unique_agents_run,
            total_errors, error_rate, errors_by_type, llm_calls, prompt_tokens, completion_tokens,
            total_tokens, llm_cost_usd, unpriced_llm_calls, avg_response_time_ms, p95_response_time_ms)
        SELECT period_start, workspace_id, total_users, active_users, new_users, returning_users,
               total_sessions, avg_session_duration_seconds, bounce_rate, total_runs, successful_runs,
               failed_runs, cancelled_runs, avg_runtime_seconds, median_runtime_seconds, p95_runtime_seconds,
               p99_runtime_seconds, total_credits, avg_credits_per_run, credits_by_model, unique_agents_run,
               total_errors, error_rate, errors_by_type, llm_calls, prompt_tokens, completion_tokens,
               total_tokens, llm_cost_usd, unpriced_llm_calls, avg_response_time_ms, p95_response_time_ms
        FROM m
        -- One order for every writer of these rows (deadlock-free against a concurrent rebuild).
        ORDER BY period_start, workspace_id NULLS LAST
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
        -- Few rows on either side (the given hours × the given scopes): the anti-join stays small.
        DELETE FROM analytics.hourly_metrics t
        WHERE t.metric_hour = ANY (starts)
          AND (t.workspace_id IS NULL OR t.workspace_id = ANY (p_workspace_ids))
          AND NOT EXISTS (SELECT 1 FROM m WHERE m.period_start = t.metric_hour
                                            AND m.workspace_id IS NOT DISTINCT FROM t.workspace_id)
    )
    SELECT count(*) INTO written FROM upserted;
    RETURN written;
END $$;

REVOKE EXECUTE ON FUNCTION analytics.compute_hour_metrics_grouped(timestamptz[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_hourly_metrics_grouped(timestamptz[], uuid[]) FROM PUBLIC;
