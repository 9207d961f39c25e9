-- refresh_run_daily / refresh_llm_usage_daily (0115) read only the hourly rows of the requested days.
--
-- Measured in a 92-day rebuild (20 workspaces, 4M raw rows, docs/notes/rollups.md "Session 3"):
-- these two refreshes, called by the daily-totals trigger (0116) or the deferred flush (0125) once
-- per touched (workspace, days), were the largest item of the rebuild's profile (168 of ≈ 960 s of
-- step time at load 9; 115 of ≈ 330 s at load 2.6). EXPLAIN ANALYZE of one 7-day refresh: the
-- planner flattens the per-day LATERAL into a join, scans run_hourly by workspace_id alone (every
-- hour of the workspace's whole history: 38,589 rows, 1,723 buffer reads) and applies the day bounds
-- as a join filter (267,095 rows removed), 442 ms for 3,028 rows wanted. The cost grew with the
-- history kept, for every incremental cycle's trigger as well.
--
-- Now the scan also carries the outer bounds of all requested days (first day's local midnight,
-- last day's end), which do not depend on the day row, so they become the index range of
-- run_hourly_key (workspace_id, hour, …). The per-day bounds stay as they were: same rows per day,
-- same results (tested by lib/metrics/daily-totals.test.ts and the rebuild property test).

CREATE OR REPLACE FUNCTION analytics.refresh_run_daily(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.run_daily t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH hourly AS (
        SELECT d.day, r.agent_id, r.model, r.status, r.error_type, r.runs, r.credits, r.runtime_runs,
               r.runtime_sum_seconds, r.runtime_hist_keys, r.runtime_hist_counts, r.rated_runs, r.rating_sum
        FROM (SELECT DISTINCT unnest(p_days) AS day) d
        CROSS JOIN LATERAL (
            SELECT * FROM analytics.run_hourly x
            WHERE x.workspace_id = p_workspace_id
              -- Outer bounds of all the days, independent of d: an index range condition (see header).
              AND x.hour >= (SELECT min(b)::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id) FROM unnest(p_days) AS b)
              AND x.hour < (SELECT (max(b) + 1)::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id) FROM unnest(p_days) AS b)
              AND x.hour >= (d.day::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id))
              AND x.hour < ((d.day + 1)::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id))
        ) r
    ), sums AS (
        SELECT day, agent_id, model, status, error_type, sum(runs) AS runs, sum(credits) AS credits,
               sum(runtime_runs) AS runtime_runs, sum(runtime_sum_seconds) AS runtime_sum_seconds,
               sum(rated_runs) AS rated_runs, sum(rating_sum) AS rating_sum
        FROM hourly GROUP BY day, agent_id, model, status, error_type
    ), per_key AS (
        SELECT hourly.day, hourly.agent_id, hourly.model, hourly.status, hourly.error_type, h.k, sum(h.c)::integer AS c
        FROM hourly CROSS JOIN LATERAL unnest(hourly.runtime_hist_keys, hourly.runtime_hist_counts) AS h(k, c)
        GROUP BY hourly.day, hourly.agent_id, hourly.model, hourly.status, hourly.error_type, h.k
    ), hist AS (
        SELECT day, agent_id, model, status, error_type, array_agg(k ORDER BY k) AS keys, array_agg(c ORDER BY k) AS counts
        FROM per_key GROUP BY day, agent_id, model, status, error_type
    )
    INSERT INTO analytics.run_daily AS t (workspace_id, day, agent_id, model, status, error_type, runs, credits,
        runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum)
    SELECT p_workspace_id, s.day, s.agent_id, s.model, s.status, s.error_type, s.runs, s.credits, s.runtime_runs,
           s.runtime_sum_seconds, coalesce(h.keys, '{}'), coalesce(h.counts, '{}'), s.rated_runs, s.rating_sum
    FROM sums s
    -- NULL-able keys compared through sentinels (chr(1) is no model or error type): equality keeps the
    -- join hashable, IS NOT DISTINCT FROM would make it a nested loop over every pair of groups.
    LEFT JOIN hist h ON h.day = s.day AND h.agent_id = s.agent_id AND coalesce(h.model, chr(1)) = coalesce(s.model, chr(1))
                    AND h.status = s.status AND coalesce(h.error_type, chr(1)) = coalesce(s.error_type, chr(1))
    ON CONFLICT ON CONSTRAINT run_daily_key DO UPDATE SET
        runs = EXCLUDED.runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
        runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
        runtime_hist_counts = EXCLUDED.runtime_hist_counts, rated_runs = EXCLUDED.rated_runs,
        rating_sum = EXCLUDED.rating_sum;
$$;

CREATE OR REPLACE FUNCTION analytics.refresh_llm_usage_daily(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.llm_usage_daily t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH hourly AS (
        SELECT d.day, l.provider, l.model, l.agent_id, l.error_type, l.calls, l.failed_calls, l.prompt_tokens,
               l.completion_tokens, l.total_tokens, l.cost_usd, l.unpriced_calls, l.latency_ms_sum,
               l.latency_hist_keys, l.latency_hist_counts
        FROM (SELECT DISTINCT unnest(p_days) AS day) d
        CROSS JOIN LATERAL (
            SELECT * FROM analytics.llm_usage_hourly x
            WHERE x.workspace_id = p_workspace_id
              -- Outer bounds of all the days, independent of d: an index range condition (see header).
              AND x.hour >= (SELECT min(b)::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id) FROM unnest(p_days) AS b)
              AND x.hour < (SELECT (max(b) + 1)::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id) FROM unnest(p_days) AS b)
              AND x.hour >= (d.day::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id))
              AND x.hour < ((d.day + 1)::timestamp AT TIME ZONE (SELECT w.timezone FROM public.workspaces w WHERE w.id = p_workspace_id))
        ) l
    ), sums AS (
        SELECT day, provider, model, agent_id, error_type, sum(calls) AS calls, sum(failed_calls) AS failed_calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(total_tokens) AS total_tokens, sum(cost_usd) AS cost_usd, sum(unpriced_calls) AS unpriced_calls,
               sum(latency_ms_sum) AS latency_ms_sum
        FROM hourly GROUP BY day, provider, model, agent_id, error_type
    ), per_key AS (
        SELECT hourly.day, hourly.provider, hourly.model, hourly.agent_id, hourly.error_type, h.k, sum(h.c)::integer AS c
        FROM hourly CROSS JOIN LATERAL unnest(hourly.latency_hist_keys, hourly.latency_hist_counts) AS h(k, c)
        GROUP BY hourly.day, hourly.provider, hourly.model, hourly.agent_id, hourly.error_type, h.k
    ), hist AS (
        SELECT day, provider, model, agent_id, error_type, array_agg(k ORDER BY k) AS keys, array_agg(c ORDER BY k) AS counts
        FROM per_key GROUP BY day, provider, model, agent_id, error_type
    )
    INSERT INTO analytics.llm_usage_daily AS t (workspace_id, day, provider, model, agent_id, error_type, calls,
        failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
        latency_hist_keys, latency_hist_counts)
    SELECT p_workspace_id, s.day, s.provider, s.model, s.agent_id, s.error_type, s.calls, s.failed_calls,
           s.prompt_tokens, s.completion_tokens, s.total_tokens, s.cost_usd, s.unpriced_calls, s.latency_ms_sum,
           coalesce(h.keys, '{}'), coalesce(h.counts, '{}')
    FROM sums s
    -- Sentinels as above; the nil uuid is never an agent's id (ids come from gen_random_uuid()).
    LEFT JOIN hist h ON h.day = s.day AND h.provider = s.provider AND h.model = s.model
                    AND coalesce(h.agent_id, '00000000-0000-0000-0000-000000000000'::uuid)
                        = coalesce(s.agent_id, '00000000-0000-0000-0000-000000000000'::uuid)
                    AND coalesce(h.error_type, chr(1)) = coalesce(s.error_type, chr(1))
    ON CONFLICT ON CONSTRAINT llm_usage_daily_key DO UPDATE SET
        calls = EXCLUDED.calls, failed_calls = EXCLUDED.failed_calls, prompt_tokens = EXCLUDED.prompt_tokens,
        completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
        cost_usd = EXCLUDED.cost_usd, unpriced_calls = EXCLUDED.unpriced_calls, latency_ms_sum = EXCLUDED.latency_ms_sum,
        latency_hist_keys = EXCLUDED.latency_hist_keys, latency_hist_counts = EXCLUDED.latency_hist_counts;
$$;
