-- Pre-merged daily totals behind the catalogue's most common shape: a metric over whole local days,
-- by day/week/month or as one KPI number, with no group-by and no filter.
--
-- Why: run_hourly and llm_usage_hourly keep one row per hour × agent × model × status × error_type
-- (× provider). At the benchmark's medium scale (500k runs per workspace over 90 days) that is
-- ~0.8 rows per run, so "runtime p95, last 30 days by day" summed ~140k rows and merged their
-- histograms (one unnest element per row and key) for every card. These tables hold one row per
-- workspace and local day, with the day's histogram already merged (≈ 240 keys), so the same query
-- reads 30 rows. Numbers are identical: sums of sums, and histograms merged by adding counts per key
-- (analytics.log_hist_quantiles reads the same quantile from the merged or the unmerged form).
--
-- Maintenance: derived from the hourly tables by statement-level triggers (transition tables), so
-- every writer of the hourly tables (incremental cycle, rebuild, tests calling the rollup functions)
-- keeps them current in the same transaction without knowing about them. A statement recomputes
-- the local days its rows touch, from the hourly table (never from raw rows): ~a day's hourly rows
-- per touched day. Writers of one workspace are serialized by the rollup engine's per-workspace
-- advisory lock, so two recomputations of the same day never interleave.

CREATE TABLE analytics.run_daily_totals (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    -- Workspace-local day (of the runs' start).
    day                 date          NOT NULL,
    runs                bigint        NOT NULL,
    completed_runs      bigint        NOT NULL,
    failed_runs         bigint        NOT NULL,
    cancelled_runs      bigint        NOT NULL,
    credits             numeric(20,4) NOT NULL,
    runtime_runs        bigint        NOT NULL,
    runtime_sum_seconds numeric(20,3) NOT NULL,
    -- The day's runtime histogram (ms), keys ascending and unique.
    runtime_hist_keys   integer[]     NOT NULL,
    runtime_hist_counts integer[]     NOT NULL,
    PRIMARY KEY (workspace_id, day)
);

CREATE TABLE analytics.llm_usage_daily_totals (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    -- Workspace-local day (of the calls' timestamp).
    day                 date          NOT NULL,
    calls               bigint        NOT NULL,
    failed_calls        bigint        NOT NULL,
    prompt_tokens       bigint        NOT NULL,
    completion_tokens   bigint        NOT NULL,
    total_tokens        bigint        NOT NULL,
    cost_usd            numeric(20,8) NOT NULL,
    unpriced_calls      bigint        NOT NULL,
    latency_ms_sum      bigint        NOT NULL,
    latency_hist_keys   integer[]     NOT NULL,
    latency_hist_counts integer[]     NOT NULL,
    PRIMARY KEY (workspace_id, day)
);

-- Recomputes the given local days of one workspace from run_hourly.
CREATE FUNCTION analytics.refresh_run_daily_totals(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.run_daily_totals t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH days AS (
        SELECT d.day, d.day::timestamp AT TIME ZONE w.timezone AS lo, (d.day + 1)::timestamp AT TIME ZONE w.timezone AS hi
        FROM public.workspaces w CROSS JOIN LATERAL (SELECT DISTINCT unnest(p_days) AS day) d
        WHERE w.id = p_workspace_id
    ), hourly AS (
        SELECT days.day, r.status, r.runs, r.credits, r.runtime_runs, r.runtime_sum_seconds,
               r.runtime_hist_keys, r.runtime_hist_counts
        FROM days JOIN analytics.run_hourly r
          ON r.workspace_id = p_workspace_id AND r.hour >= days.lo AND r.hour < days.hi
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

-- Recomputes the given local days of one workspace from llm_usage_hourly.
CREATE FUNCTION analytics.refresh_llm_usage_daily_totals(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.llm_usage_daily_totals t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH days AS (
        SELECT d.day, d.day::timestamp AT TIME ZONE w.timezone AS lo, (d.day + 1)::timestamp AT TIME ZONE w.timezone AS hi
        FROM public.workspaces w CROSS JOIN LATERAL (SELECT DISTINCT unnest(p_days) AS day) d
        WHERE w.id = p_workspace_id
    ), hourly AS (
        SELECT days.day, l.calls, l.failed_calls, l.prompt_tokens, l.completion_tokens, l.total_tokens, l.cost_usd,
               l.unpriced_calls, l.latency_ms_sum, l.latency_hist_keys, l.latency_hist_counts
        FROM days JOIN analytics.llm_usage_hourly l
          ON l.workspace_id = p_workspace_id AND l.hour >= days.lo AND l.hour < days.hi
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

-- Statement-level triggers: the transition table holds the rows a statement wrote (new_rows) or
-- removed (old_rows); their (workspace, local day) pairs are recomputed once per statement. One
-- function serves both hourly tables (TG_TABLE_NAME picks the refresh); a transition table that a
-- trigger does not define cannot even be named, hence the TG_OP branches.
CREATE FUNCTION analytics.hourly_to_daily_totals() RETURNS trigger LANGUAGE plpgsql AS $$
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
        IF TG_TABLE_NAME = 'run_hourly' THEN
            PERFORM analytics.refresh_run_daily_totals(touched.workspace_id, touched.days);
        ELSE
            PERFORM analytics.refresh_llm_usage_daily_totals(touched.workspace_id, touched.days);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER run_hourly_daily_totals_insert AFTER INSERT ON analytics.run_hourly
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.hourly_to_daily_totals();
CREATE TRIGGER run_hourly_daily_totals_update AFTER UPDATE ON analytics.run_hourly
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.hourly_to_daily_totals();
CREATE TRIGGER run_hourly_daily_totals_delete AFTER DELETE ON analytics.run_hourly
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.hourly_to_daily_totals();
CREATE TRIGGER llm_usage_hourly_daily_totals_insert AFTER INSERT ON analytics.llm_usage_hourly
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.hourly_to_daily_totals();
CREATE TRIGGER llm_usage_hourly_daily_totals_update AFTER UPDATE ON analytics.llm_usage_hourly
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.hourly_to_daily_totals();
CREATE TRIGGER llm_usage_hourly_daily_totals_delete AFTER DELETE ON analytics.llm_usage_hourly
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.hourly_to_daily_totals();

-- TRUNCATE has no transition table: it empties the derived table too.
CREATE FUNCTION analytics.truncate_daily_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'run_hourly' THEN
        TRUNCATE analytics.run_daily_totals;
    ELSE
        TRUNCATE analytics.llm_usage_daily_totals;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER run_hourly_daily_totals_truncate AFTER TRUNCATE ON analytics.run_hourly
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.truncate_daily_totals();
CREATE TRIGGER llm_usage_hourly_daily_totals_truncate AFTER TRUNCATE ON analytics.llm_usage_hourly
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.truncate_daily_totals();

-- Existing rollups (the migration runs on databases that already have them).
SELECT analytics.refresh_run_daily_totals(w.id, d.days)
FROM public.workspaces w
CROSS JOIN LATERAL (SELECT array_agg(DISTINCT (r.hour AT TIME ZONE w.timezone)::date) AS days
                    FROM analytics.run_hourly r WHERE r.workspace_id = w.id) d
WHERE d.days IS NOT NULL;
SELECT analytics.refresh_llm_usage_daily_totals(w.id, d.days)
FROM public.workspaces w
CROSS JOIN LATERAL (SELECT array_agg(DISTINCT (l.hour AT TIME ZONE w.timezone)::date) AS days
                    FROM analytics.llm_usage_hourly l WHERE l.workspace_id = w.id) d
WHERE d.days IS NOT NULL;

-- Row-level security as for the hourly tables they derive from (0025, 0071): members, platform
-- admins and read-scope API keys read; only the owner writes (the triggers run as the writer of the hourly table, the owner).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_daily_totals', 'llm_usage_daily_totals'] LOOP
        EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON analytics.%I FROM pulseboard_app', t);
    END LOOP;
END $$;
CREATE POLICY run_daily_totals_read ON analytics.run_daily_totals FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY llm_usage_daily_totals_read ON analytics.llm_usage_daily_totals FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));

-- A read-scope API key reads its workspace's rollups (0071): these too.
CREATE POLICY api_key_read ON analytics.run_daily_totals FOR SELECT TO pulseboard_app
    USING (workspace_id = (SELECT app.current_read_workspace_id()));
CREATE POLICY api_key_read ON analytics.llm_usage_daily_totals FOR SELECT TO pulseboard_app
    USING (workspace_id = (SELECT app.current_read_workspace_id()));

REVOKE EXECUTE ON FUNCTION analytics.refresh_run_daily_totals(uuid, date[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.refresh_llm_usage_daily_totals(uuid, date[]) FROM PUBLIC;
