-- Daily copies of the hourly dimension rollups: analytics.run_daily (day × agent × model × status ×
-- error_type) and analytics.llm_usage_daily (day × provider × model × agent × error_type), the
-- hourly rows of a workspace-local day merged (sums added, histograms merged per key).
--
-- Why: grouped day/week/month series (cost by model, runs by agent, errors by type, …) read every
-- hourly row of the range: 41–65 ms per card at the medium bench density (~2,400 hourly rows per
-- workspace-day). A day holds ~6–20× fewer dimension rows than its 24 hours. The catalogue plans
-- these tables before the hourly ones for day/week/month/total (lib/metrics/sql.ts); hour
-- granularity still reads the hourly tables. Same numbers: sums of sums, merged histograms.
--
-- Kept like 0110's totals: the same statement-level triggers on run_hourly / llm_usage_hourly call
-- one more refresh per touched (workspace, local day), reading each day by an index range scan.

CREATE TABLE analytics.run_daily (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                  bigint        GENERATED ALWAYS AS IDENTITY,
    -- Workspace-local day of the runs' start.
    day                 date          NOT NULL,
    agent_id            uuid          NOT NULL,
    model               text,
    status              text          NOT NULL,
    error_type          text,
    runs                bigint        NOT NULL,
    credits             numeric(20,4) NOT NULL,
    runtime_runs        bigint        NOT NULL,
    runtime_sum_seconds numeric(20,3) NOT NULL,
    runtime_hist_keys   integer[]     NOT NULL,
    runtime_hist_counts integer[]     NOT NULL,
    rated_runs          bigint        NOT NULL,
    rating_sum          bigint        NOT NULL,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT run_daily_key UNIQUE NULLS NOT DISTINCT (workspace_id, day, agent_id, model, status, error_type)
);

CREATE TABLE analytics.llm_usage_daily (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                  bigint        GENERATED ALWAYS AS IDENTITY,
    -- Workspace-local day of the calls' timestamp.
    day                 date          NOT NULL,
    provider            text          NOT NULL,
    model               text          NOT NULL,
    agent_id            uuid,
    error_type          text,
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
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT llm_usage_daily_key UNIQUE NULLS NOT DISTINCT (workspace_id, day, provider, model, agent_id, error_type)
);

CREATE FUNCTION analytics.refresh_run_daily(p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE sql AS $$
    DELETE FROM analytics.run_daily t WHERE t.workspace_id = p_workspace_id AND t.day = ANY (p_days);
    WITH hourly AS (
        SELECT d.day, r.agent_id, r.model, r.status, r.error_type, r.runs, r.credits, r.runtime_runs,
               r.runtime_sum_seconds, r.runtime_hist_keys, r.runtime_hist_counts, r.rated_runs, r.rating_sum
        FROM (SELECT DISTINCT unnest(p_days) AS day) d
        CROSS JOIN LATERAL (
            SELECT * FROM analytics.run_hourly x
            WHERE x.workspace_id = p_workspace_id
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

CREATE FUNCTION analytics.refresh_llm_usage_daily(p_workspace_id uuid, p_days date[])
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

-- 0110's trigger function, now refreshing both daily tables of the touched days.
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
        IF TG_TABLE_NAME = 'run_hourly' THEN
            PERFORM analytics.refresh_run_daily_totals(touched.workspace_id, touched.days);
            PERFORM analytics.refresh_run_daily(touched.workspace_id, touched.days);
        ELSE
            PERFORM analytics.refresh_llm_usage_daily_totals(touched.workspace_id, touched.days);
            PERFORM analytics.refresh_llm_usage_daily(touched.workspace_id, touched.days);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analytics.truncate_daily_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'run_hourly' THEN
        DELETE FROM analytics.run_daily_totals;
        DELETE FROM analytics.run_daily;
    ELSE
        DELETE FROM analytics.llm_usage_daily_totals;
        DELETE FROM analytics.llm_usage_daily;
    END IF;
    RETURN NULL;
END $$;

-- Existing rollups.
SELECT analytics.refresh_run_daily(w.id, d.days)
FROM public.workspaces w
CROSS JOIN LATERAL (SELECT array_agg(DISTINCT (r.hour AT TIME ZONE w.timezone)::date) AS days
                    FROM analytics.run_hourly r WHERE r.workspace_id = w.id) d
WHERE d.days IS NOT NULL;
SELECT analytics.refresh_llm_usage_daily(w.id, d.days)
FROM public.workspaces w
CROSS JOIN LATERAL (SELECT array_agg(DISTINCT (l.hour AT TIME ZONE w.timezone)::date) AS days
                    FROM analytics.llm_usage_hourly l WHERE l.workspace_id = w.id) d
WHERE d.days IS NOT NULL;

-- Row-level security as for the hourly tables (0025, 0071).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_daily', 'llm_usage_daily'] LOOP
        EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON analytics.%I FROM pulseboard_app', t);
    END LOOP;
END $$;
CREATE POLICY run_daily_read ON analytics.run_daily FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY llm_usage_daily_read ON analytics.llm_usage_daily FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY api_key_read ON analytics.run_daily FOR SELECT TO pulseboard_app
    USING (workspace_id = (SELECT app.current_read_workspace_id()));
CREATE POLICY api_key_read ON analytics.llm_usage_daily FOR SELECT TO pulseboard_app
    USING (workspace_id = (SELECT app.current_read_workspace_id()));

REVOKE EXECUTE ON FUNCTION analytics.refresh_run_daily(uuid, date[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.refresh_llm_usage_daily(uuid, date[]) FROM PUBLIC;
