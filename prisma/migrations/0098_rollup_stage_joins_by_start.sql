-- Stage <-> run joins for the partitioned tables of 0093: a stage carries its run's started_at (the
-- foreign key guarantees they are equal), so both joins now match (started_at, id) and bound the run
-- side by the same time range. Joined by id alone, the planner hashed the workspace's whole run
-- history on every call (100,000 runs: 46 ms where the bounded join takes 0.56 ms, measured by the
-- partitioning work, docs/notes/scale.md). Bodies otherwise as in 0029 (rollup_stage_dimensions)
-- and 0021 (rollup_agent_performance).

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
        SELECT d.metric_date, r.id, r.started_at, r.agent_id, r.user_id, r.status, r.runtime_seconds,
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
        FROM public.run_stages s JOIN runs r ON s.run_id = r.id AND s.started_at = r.started_at
        WHERE s.workspace_id = p_workspace_id AND s.started_at >= lo AND s.started_at < hi
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
