-- Grouped hour function in two halves (docs/notes/rollups.md, "Session 4: hour pass on two
-- connections"). 0132's statement, cut along its aggregates into
--   activity half: users (total, active, new, returning) and sessions, keyed by every (hour, scope)
--                  with source rows (every run, call and event has a user of its workspace);
--   runs half:     run counters, distinct agents, runtime percentiles, credits and errors by type,
--                  LLM call figures, keyed by the (hour, scope) pairs with runs or calls;
-- so the incremental hour pass can compute them on two connections that read one exported snapshot
-- (both CPU-heavy, roughly even) and combine them. The halves cross as jsonb (a few rows per hour
-- and scope; jsonb keeps numeric exactly; percentiles are cast to numeric before, as 0132 did in
-- its final SELECT). compute_hour_metrics_grouped and rollup_hourly_metrics_grouped keep their
-- signatures and results: they compute both halves in-line and combine them with the same
-- functions. Rows are identical to 0132's (property tests against the brute force; the split and
-- the single path compared in engine.test.ts).

CREATE TYPE analytics.hour_activity_half AS (
    period_start timestamptz, scope uuid, total_users integer, active_users integer, new_users integer,
    returning_users integer, total_sessions integer, avg_session_duration_seconds numeric, bounce_rate numeric);

CREATE TYPE analytics.hour_runs_half AS (
    period_start timestamptz, scope uuid, total_runs integer, successful_runs integer, failed_runs integer,
    cancelled_runs integer, avg_runtime_seconds numeric, median_runtime_seconds numeric,
    p95_runtime_seconds numeric, p99_runtime_seconds numeric, total_credits numeric, credits_by_model jsonb,
    unique_agents_run integer, errors_by_type jsonb, llm_calls integer, prompt_tokens bigint,
    completion_tokens bigint, total_tokens bigint, llm_cost_usd numeric, unpriced_llm_calls integer,
    avg_response_time_ms integer, p95_response_time_ms integer);

-- Activity half. scope = workspace id, or the nil uuid for the platform rows.
CREATE FUNCTION analytics.compute_hour_activity_grouped(p_hour_starts timestamptz[])
    RETURNS SETOF analytics.hour_activity_half
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_custom_plan
    SET search_path = pg_catalog, pg_temp
    -- The session hash holds about 1M groups at 50,000 events/s (0132).
    SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    platform constant uuid := '00000000-0000-0000-0000-000000000000';
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
    every_hour := cardinality(starts) = extract(epoch FROM hi - lo)::bigint / 3600;
    RETURN QUERY
    WITH runs AS NOT MATERIALIZED (
        SELECT date_bin('1 hour', r.started_at, origin) AS period_start, r.workspace_id, r.user_id
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
        SELECT date_bin('1 hour', l.created_at, origin) AS period_start, l.workspace_id, l.user_id
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
        -- Platform: sums over the workspace rows; sum / count is what avg computes.
        SELECT period_start, scope, sessions::integer AS total_sessions, duration_sum / sessions AS avg_duration,
               bounced::numeric * 100 / sessions AS bounce_rate
        FROM (SELECT period_start, workspace_id AS scope, sessions, duration_sum, bounced FROM session_sums
              UNION ALL
              SELECT period_start, platform, sum(sessions), sum(duration_sum), sum(bounced)
              FROM session_sums GROUP BY period_start) s
    ), keys AS (
        -- Every (hour, scope) with source rows: every run, call and event has a user of its
        -- workspace (foreign keys), so active_stats has a row wherever any of them has one.
        SELECT period_start, scope FROM active_stats
        UNION SELECT period_start, scope FROM signups
    ), user_marks AS (
        -- Running count of signups at each period end (0100). At equal times the period end sorts
        -- first: a user signed up exactly at the end is not in it.
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
    SELECT k.period_start,
           k.scope,
           coalesce(ut.total_users, 0),
           coalesce(ac.active_users, 0),
           coalesce(su.new_users, 0),
           coalesce(ac.returning_users, 0),
           coalesce(ss.total_sessions, 0),
           ss.avg_duration,
           ss.bounce_rate
    FROM keys k
    LEFT JOIN user_totals ut ON ut.period_start = k.period_start AND ut.scope = k.scope
    LEFT JOIN active_stats ac ON ac.period_start = k.period_start AND ac.scope = k.scope
    LEFT JOIN signups su ON su.period_start = k.period_start AND su.scope = k.scope
    LEFT JOIN session_stats ss ON ss.period_start = k.period_start AND ss.scope = k.scope;
END $$;

-- Runs half: runs and LLM calls. scope as above; only (hour, scope) pairs with runs or calls.
CREATE FUNCTION analytics.compute_hour_runs_grouped(p_hour_starts timestamptz[])
    RETURNS SETOF analytics.hour_runs_half
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode = force_custom_plan
    SET search_path = pg_catalog, pg_temp
    -- The percentile sorts hold about 1M rows each at 50,000 events/s (0132).
    SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    platform constant uuid := '00000000-0000-0000-0000-000000000000';
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
    every_hour := cardinality(starts) = extract(epoch FROM hi - lo)::bigint / 3600;
    RETURN QUERY
    WITH runs AS NOT MATERIALIZED (
        SELECT date_bin('1 hour', r.started_at, origin) AS period_start, r.workspace_id, r.agent_id,
               r.status, r.runtime_seconds, r.credits_consumed, coalesce(r.model, 'unknown') AS model, r.error_type
        FROM public.agent_runs r
        WHERE r.started_at >= lo AND r.started_at < hi
          AND (every_hour OR date_bin('1 hour', r.started_at, origin) = ANY (starts))
    ), calls AS NOT MATERIALIZED (
        SELECT date_bin('1 hour', l.created_at, origin) AS period_start, l.workspace_id, l.prompt_tokens,
               l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms
        FROM public.llm_usage_logs l
        WHERE l.created_at >= lo AND l.created_at < hi
          AND (every_hour OR date_bin('1 hour', l.created_at, origin) = ANY (starts))
    ), run_stats AS (
        -- Hashable aggregates only (0132): one hash pass instead of a sort of every run.
        SELECT period_start, coalesce(workspace_id, platform) AS scope,
               count(*)::integer AS total_runs,
               (count(*) FILTER (WHERE status = 'completed'))::integer AS successful_runs,
               (count(*) FILTER (WHERE status = 'failed'))::integer AS failed_runs,
               (count(*) FILTER (WHERE status = 'cancelled'))::integer AS cancelled_runs,
               avg(runtime_seconds) FILTER (WHERE status <> 'running') AS avg_runtime,
               sum(credits_consumed) AS total_credits
        FROM runs GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), run_agents AS (
        -- An agent belongs to one workspace: platform distinct agents = distinct (workspace, agent) pairs.
        SELECT period_start, coalesce(workspace_id, platform) AS scope, count(*)::integer AS unique_agents
        FROM (SELECT DISTINCT period_start, workspace_id, agent_id FROM runs) d
        GROUP BY GROUPING SETS ((period_start, workspace_id), (period_start))
    ), run_pct AS (
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
        SELECT period_start, scope FROM run_stats
        UNION SELECT period_start, scope FROM call_stats
    )
    SELECT k.period_start,
           k.scope,
           rs.total_runs,
           rs.successful_runs,
           rs.failed_runs,
           rs.cancelled_runs,
           rs.avg_runtime,
           rp.runtime_pct[1]::numeric,
           rp.runtime_pct[2]::numeric,
           rp.runtime_pct[3]::numeric,
           rs.total_credits,
           mc.credits_by_model,
           ra.unique_agents,
           et.errors_by_type,
           cs.llm_calls,
           cs.prompt_tokens,
           cs.completion_tokens,
           cs.total_tokens,
           cs.llm_cost_usd,
           cs.unpriced_llm_calls,
           cs.avg_latency,
           cs.p95_latency
    FROM keys k
    LEFT JOIN run_stats rs ON rs.period_start = k.period_start AND rs.scope = k.scope
    LEFT JOIN run_agents ra ON ra.period_start = k.period_start AND ra.scope = k.scope
    LEFT JOIN run_pct rp ON rp.period_start = k.period_start AND rp.scope = k.scope
    LEFT JOIN model_credits mc ON mc.period_start = k.period_start AND mc.scope = k.scope
    LEFT JOIN error_types et ON et.period_start = k.period_start AND et.scope = k.scope
    LEFT JOIN call_stats cs ON cs.period_start = k.period_start AND cs.scope = k.scope;
END $$;

-- The halves as one jsonb value each: what a helper connection hands back to the claim holder.
CREATE FUNCTION analytics.compute_hour_activity_half(p_hour_starts timestamptz[])
    RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(jsonb_agg(h), '[]'::jsonb) FROM analytics.compute_hour_activity_grouped(p_hour_starts) h $$;

CREATE FUNCTION analytics.compute_hour_runs_half(p_hour_starts timestamptz[])
    RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(jsonb_agg(h), '[]'::jsonb) FROM analytics.compute_hour_runs_grouped(p_hour_starts) h $$;

-- Combines the halves into hourly_metrics rows (0132's final SELECT). The activity half has a row
-- for every (hour, scope) with source rows, the runs half for a subset of them.
CREATE FUNCTION analytics.compute_hour_metrics_from_halves(p_activity jsonb, p_runs jsonb)
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
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT nullif(a.scope, '00000000-0000-0000-0000-000000000000'::uuid),
           a.period_start,
           a.total_users,
           a.active_users,
           a.new_users,
           a.returning_users,
           a.total_sessions,
           a.avg_session_duration_seconds,
           a.bounce_rate,
           coalesce(r.total_runs, 0),
           coalesce(r.successful_runs, 0),
           coalesce(r.failed_runs, 0),
           coalesce(r.cancelled_runs, 0),
           r.avg_runtime_seconds,
           r.median_runtime_seconds,
           r.p95_runtime_seconds,
           r.p99_runtime_seconds,
           coalesce(r.total_credits, 0),
           r.total_credits / nullif(r.total_runs, 0),
           coalesce(r.credits_by_model, '{}'::jsonb),
           coalesce(r.unique_agents_run, 0),
           coalesce(r.failed_runs, 0),
           r.failed_runs::numeric * 100 / nullif(r.total_runs, 0),
           coalesce(r.errors_by_type, '{}'::jsonb),
           coalesce(r.llm_calls, 0),
           coalesce(r.prompt_tokens, 0),
           coalesce(r.completion_tokens, 0),
           coalesce(r.total_tokens, 0),
           coalesce(r.llm_cost_usd, 0),
           coalesce(r.unpriced_llm_calls, 0),
           r.avg_response_time_ms,
           r.p95_response_time_ms
    FROM jsonb_populate_recordset(NULL::analytics.hour_activity_half, p_activity) a
    LEFT JOIN jsonb_populate_recordset(NULL::analytics.hour_runs_half, p_runs) r
           ON r.period_start = a.period_start AND r.scope = a.scope
$$;

-- Same signature and rows as before: both halves in-line, in this statement's snapshot.
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
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM analytics.compute_hour_metrics_from_halves(
        analytics.compute_hour_activity_half(p_hour_starts), analytics.compute_hour_runs_half(p_hour_starts))
$$;

-- 0100's rollup_hourly_metrics_grouped with the halves as parameters: the incremental hour pass
-- computes them on two connections reading the claim transaction's exported snapshot and hands them
-- in (they must be computed for the same hours, in one snapshot); NULL = compute that half here.
-- The upsert, the delete of vanished rows and the workspace filter are 0100's.
CREATE FUNCTION analytics.rollup_hourly_metrics_from_halves(
    p_hours timestamptz[], p_workspace_ids uuid[], p_activity jsonb, p_runs jsonb)
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
        -- A half not handed in is computed here, in this statement's snapshot.
        SELECT * FROM analytics.compute_hour_metrics_from_halves(
            coalesce(p_activity, analytics.compute_hour_activity_half(starts)),
            coalesce(p_runs, analytics.compute_hour_runs_half(starts))) c
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

-- Unchanged signature and rows: both halves computed in-line.
CREATE OR REPLACE FUNCTION analytics.rollup_hourly_metrics_grouped(p_hours timestamptz[], p_workspace_ids uuid[])
    RETURNS integer
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$ SELECT analytics.rollup_hourly_metrics_from_halves(p_hours, p_workspace_ids, NULL, NULL) $$;

REVOKE EXECUTE ON FUNCTION analytics.compute_hour_activity_grouped(timestamptz[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.compute_hour_runs_grouped(timestamptz[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.compute_hour_activity_half(timestamptz[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.compute_hour_runs_half(timestamptz[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.compute_hour_metrics_from_halves(jsonb, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_hourly_metrics_from_halves(timestamptz[], uuid[], jsonb, jsonb) FROM PUBLIC;
