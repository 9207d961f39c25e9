-- The daily totals (0110) are now derived from the dimension daily tables (0115) instead of the
-- hourly ones: the same sums and merged histograms from ~7× (runs) / ~20× (calls) fewer rows, since
-- the trigger refreshes the dimension day rows first. Measured for 7 days at the medium bench
-- density: totals refresh 145 → ~25 ms (runs), 86 → ~10 ms (calls); the whole trigger cost per
-- rollup step drops accordingly. Results unchanged (tested: totals = hourly rows merged per day).

CREATE OR REPLACE FUNCTION analytics.refresh_run_daily_totals(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.run_daily_totals t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH hourly AS (
        -- Named "hourly" as in 0113 so the rest is unchanged: these are the day's dimension rows.
        SELECT r.day, r.status, r.runs, r.credits, r.runtime_runs, r.runtime_sum_seconds, r.runtime_hist_keys, r.runtime_hist_counts
        FROM analytics.run_daily r
        WHERE r.workspace_id = p_workspace_id AND r.day = ANY (p_days)
    ), sums AS (
        SELECT day, sum(runs) AS runs,
               coalesce(sum(runs) FILTER (WHERE status = 'completed'), 0) AS completed_runs,
               coalesce(sum(runs) FILTER (WHERE status = 'failed'), 0) AS failed_runs,
               coalesce(sum(runs) FILTER (WHERE status = 'cancelled'), 0) AS cancelled_runs,
               sum(credits) AS credits, sum(runtime_runs) AS runtime_runs, sum(runtime_sum_seconds) AS runtime_sum_seconds
        FROM hourly GROUP BY day
    ), per_key AS (
        SELECT hourly.day, h.k, sum(h.c)::integer AS c
        FROM hourly CROSS JOIN LATERAL unnest(hourly.runtime_hist_keys, hourly.runtime_hist_counts) AS h(k, c)
        GROUP BY hourly.day, h.k
    ), hist AS (
        SELECT day, array_agg(k ORDER BY k) AS keys, array_agg(c ORDER BY k) AS counts FROM per_key GROUP BY day
    )
    INSERT INTO analytics.run_daily_totals AS t (workspace_id, day, runs, completed_runs, failed_runs, cancelled_runs,
        credits, runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts)
    SELECT p_workspace_id, sums.day, sums.runs, sums.completed_runs, sums.failed_runs, sums.cancelled_runs,
           sums.credits, sums.runtime_runs, sums.runtime_sum_seconds, coalesce(hist.keys, '{}'), coalesce(hist.counts, '{}')
    FROM sums LEFT JOIN hist USING (day)
    ON CONFLICT (workspace_id, day) DO UPDATE SET
        runs = EXCLUDED.runs, completed_runs = EXCLUDED.completed_runs, failed_runs = EXCLUDED.failed_runs,
        cancelled_runs = EXCLUDED.cancelled_runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
        runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
        runtime_hist_counts = EXCLUDED.runtime_hist_counts;
$$;

CREATE OR REPLACE FUNCTION analytics.refresh_llm_usage_daily_totals(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.llm_usage_daily_totals t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH hourly AS (
        -- Named "hourly" as in 0113 so the rest is unchanged: these are the day's dimension rows.
        SELECT l.day, l.calls, l.failed_calls, l.prompt_tokens, l.completion_tokens, l.total_tokens, l.cost_usd, l.unpriced_calls, l.latency_ms_sum, l.latency_hist_keys, l.latency_hist_counts
        FROM analytics.llm_usage_daily l
        WHERE l.workspace_id = p_workspace_id AND l.day = ANY (p_days)
    ), sums AS (
        SELECT day, sum(calls) AS calls, sum(failed_calls) AS failed_calls, sum(prompt_tokens) AS prompt_tokens,
               sum(completion_tokens) AS completion_tokens, sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd,
               sum(unpriced_calls) AS unpriced_calls, sum(latency_ms_sum) AS latency_ms_sum
        FROM hourly GROUP BY day
    ), per_key AS (
        SELECT hourly.day, h.k, sum(h.c)::integer AS c
        FROM hourly CROSS JOIN LATERAL unnest(hourly.latency_hist_keys, hourly.latency_hist_counts) AS h(k, c)
        GROUP BY hourly.day, h.k
    ), hist AS (
        SELECT day, array_agg(k ORDER BY k) AS keys, array_agg(c ORDER BY k) AS counts FROM per_key GROUP BY day
    )
    INSERT INTO analytics.llm_usage_daily_totals AS t (workspace_id, day, calls, failed_calls, prompt_tokens,
        completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum, latency_hist_keys, latency_hist_counts)
    SELECT p_workspace_id, sums.day, sums.calls, sums.failed_calls, sums.prompt_tokens, sums.completion_tokens,
           sums.total_tokens, sums.cost_usd, sums.unpriced_calls, sums.latency_ms_sum,
           coalesce(hist.keys, '{}'), coalesce(hist.counts, '{}')
    FROM sums LEFT JOIN hist USING (day)
    ON CONFLICT (workspace_id, day) DO UPDATE SET
        calls = EXCLUDED.calls, failed_calls = EXCLUDED.failed_calls, prompt_tokens = EXCLUDED.prompt_tokens,
        completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
        cost_usd = EXCLUDED.cost_usd, unpriced_calls = EXCLUDED.unpriced_calls, latency_ms_sum = EXCLUDED.latency_ms_sum,
        latency_hist_keys = EXCLUDED.latency_hist_keys, latency_hist_counts = EXCLUDED.latency_hist_counts;
$$;

CREATE OR REPLACE FUNCTION analytics.hourly_to_daily_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    workspace_ids uuid[] := '{}';
    hours timestamptz[] := '{}';
    touched record;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT workspace_ids || coalesce(array_agg(n.workspace_id), '{}'), hours || coalesce(array_agg(n.hour), '{}')
          INTO workspace_ids, hours
        FROM (SELECT DISTINCT workspace_id, hour FROM new_rows) n;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT workspace_ids || coalesce(array_agg(o.workspace_id), '{}'), hours || coalesce(array_agg(o.hour), '{}')
          INTO workspace_ids, hours
        FROM (SELECT DISTINCT workspace_id, hour FROM old_rows) o;
    END IF;
    FOR touched IN
        SELECT c.workspace_id, array_agg(DISTINCT (c.hour AT TIME ZONE w.timezone)::date) AS days
        FROM unnest(workspace_ids, hours) AS c(workspace_id, hour)
        JOIN public.workspaces w ON w.id = c.workspace_id
        GROUP BY c.workspace_id
    LOOP
        -- Dimension day rows first: the totals are read from them.
        IF TG_TABLE_NAME = 'run_hourly' THEN
            PERFORM analytics.refresh_run_daily(touched.workspace_id, touched.days);
            PERFORM analytics.refresh_run_daily_totals(touched.workspace_id, touched.days);
        ELSE
            PERFORM analytics.refresh_llm_usage_daily(touched.workspace_id, touched.days);
            PERFORM analytics.refresh_llm_usage_daily_totals(touched.workspace_id, touched.days);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
