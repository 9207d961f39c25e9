-- Dimension rollups behind the metric catalogue: small tables keyed by workspace + local bucket +
-- the group-by dimensions, so dashboards at 10M runs never read raw rows.
--
--   analytics.run_hourly            (hour, agent, model, status, error_type)  runs, credits, runtime
--   analytics.run_user_daily        (day, user, agent)                        the same per tracked user
--   analytics.llm_usage_hourly      (hour, provider, model, agent, error_type) calls, tokens, cost, latency
--   analytics.llm_usage_user_daily  (day, user, provider, model, agent)       the same per tracked user
--   analytics.stage_daily           (day, agent, stage name, model, status)   stages, tokens, cost, duration
--
-- Tables whose key has nullable dimensions (model, error_type, agent_id of a call) upsert on a UNIQUE
-- NULLS NOT DISTINCT key and carry a surrogate id only because Prisma needs a non-null unique key.
--
-- The user dimension lives in daily tables on purpose: with user_id in an hourly key the row count
-- approaches the raw row count (thousands of users × agents per hour), which is what rollups avoid.
--
-- Percentiles over arbitrary ranges cannot be merged from per-bucket percentiles, so every row keeps
-- a sparse log-scale histogram (DDSketch-style) of its runtimes / latencies / durations in ms:
-- key k holds values v with γ^(k-1) < v ≤ γ^k, γ = (1+α)/(1-α), α = 0.01, and is read back as
-- 2γ^k/(γ+1), which is within a relative error α (1 %) of every value in the bucket. Histograms of
-- any set of rows merge by adding counts per key; analytics.log_hist_quantiles() then reads
-- percentile_cont-style quantiles whose relative error is ≤ α (interpolating between two estimates
-- each within α keeps the bound). A zero value has its own key (-32768) and reads back as exactly 0.

CREATE FUNCTION analytics.log_hist_relative_error() RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 0.01::double precision $$;

CREATE FUNCTION analytics.log_hist_key(p_value_ms double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_value_ms IS NULL THEN NULL
        WHEN p_value_ms <= 0 THEN -32768
        ELSE ceil(ln(p_value_ms) / ln(1.01::double precision / 0.99))::integer
    END $$;

CREATE FUNCTION analytics.log_hist_value(p_key integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_key IS NULL THEN NULL
        WHEN p_key = -32768 THEN 0::double precision
        ELSE 2 * power(1.01::double precision / 0.99, p_key) / (1.01::double precision / 0.99 + 1)
    END $$;

-- Quantiles (fractions in [0,1], percentile_cont semantics) of the histogram given as parallel
-- arrays. Keys may repeat and come in any order: callers merge rows by concatenating, e.g.
--   SELECT analytics.log_hist_quantiles(array_agg(u.k), array_agg(u.c), ARRAY[0.5, 0.95, 0.99])
--   FROM analytics.run_hourly r, unnest(r.runtime_hist_keys, r.runtime_hist_counts) AS u(k, c)
--   WHERE r.workspace_id = $1 AND r.hour >= $2 AND r.hour < $3;
-- Returns NULL elements when the histogram is empty. Values are in ms.
CREATE FUNCTION analytics.log_hist_quantiles(p_keys integer[], p_counts integer[], p_fractions double precision[])
    RETURNS double precision[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH merged AS (
        SELECT u.k, sum(u.c)::bigint AS c
        FROM unnest(p_keys, p_counts) AS u(k, c)
        WHERE u.k IS NOT NULL AND u.c > 0
        GROUP BY u.k
    ), cumulative AS (
        -- Ranks (0-based) below..upto-1 fall in key k.
        SELECT k, sum(c) OVER (ORDER BY k) - c AS below, sum(c) OVER (ORDER BY k) AS upto FROM merged
    ), total AS (
        SELECT coalesce(sum(c), 0) AS n FROM merged
    )
    SELECT array_agg(
        CASE WHEN total.n = 0 THEN NULL ELSE
            (1 - (p.pos - floor(p.pos))) * analytics.log_hist_value(
                (SELECT cu.k FROM cumulative cu WHERE floor(p.pos) >= cu.below AND floor(p.pos) < cu.upto))
            + (p.pos - floor(p.pos)) * analytics.log_hist_value(
                (SELECT cu.k FROM cumulative cu WHERE ceil(p.pos) >= cu.below AND ceil(p.pos) < cu.upto))
        END ORDER BY f.ord)
    FROM total
    CROSS JOIN unnest(p_fractions) WITH ORDINALITY AS f(fraction, ord)
    CROSS JOIN LATERAL (SELECT f.fraction * (total.n - 1) AS pos) AS p
$$;

-- The [lo, hi) instants of workspace-local days p_from_day..p_to_day, and the workspace's zone.
CREATE FUNCTION analytics.local_day_range(p_workspace_id uuid, p_from_day date, p_to_day date,
                                          OUT tz text, OUT lo timestamptz, OUT hi timestamptz)
    LANGUAGE sql STABLE AS $$
    SELECT w.timezone, p_from_day::timestamp AT TIME ZONE w.timezone, (p_to_day + 1)::timestamp AT TIME ZONE w.timezone
    FROM public.workspaces w WHERE w.id = p_workspace_id
$$;

-- Start of the workspace-local hour holding p_at, as an instant. Not date_trunc('hour', p_at, tz):
-- on a fall-back day that maps both 01:xx hours to one ambiguous local 01:00 (read as standard
-- time, i.e. after the first of them), whereas subtracting the local minutes and seconds always
-- gives the instant at or before p_at when this local hour began (also right in :30/:45 zones).
CREATE FUNCTION analytics.local_hour_start(p_at timestamptz, p_tz text) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p_at - ((p_at AT TIME ZONE p_tz) - date_trunc('hour', p_at AT TIME ZONE p_tz))
$$;

-- ---------------------------------------------------------------------------------------------
-- Runs, bucketed by start time (the catalogue's definition); runtimes only of finished runs.
CREATE TABLE analytics.run_hourly (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                  bigint        GENERATED ALWAYS AS IDENTITY,
    -- Start of the workspace-local hour (differs from the UTC hour in :30/:45 offset zones).
    hour                timestamptz   NOT NULL,
    agent_id            uuid          NOT NULL,
    model               text,
    status              text          NOT NULL,
    error_type          text,
    runs                integer       NOT NULL,
    credits             numeric(20,4) NOT NULL,
    -- Finished (completed/failed/cancelled) runs with a runtime; the runtime columns cover these.
    runtime_runs        integer       NOT NULL,
    runtime_sum_seconds numeric(20,3) NOT NULL,
    runtime_hist_keys   integer[]     NOT NULL,
    runtime_hist_counts integer[]     NOT NULL,
    rated_runs          integer       NOT NULL,
    rating_sum          integer       NOT NULL,
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT run_hourly_key UNIQUE NULLS NOT DISTINCT (workspace_id, hour, agent_id, model, status, error_type)
);

CREATE TABLE analytics.run_user_daily (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    day                 date          NOT NULL,
    user_id             uuid          NOT NULL,
    agent_id            uuid          NOT NULL,
    runs                integer       NOT NULL,
    completed_runs      integer       NOT NULL,
    failed_runs         integer       NOT NULL,
    cancelled_runs      integer       NOT NULL,
    credits             numeric(20,4) NOT NULL,
    runtime_runs        integer       NOT NULL,
    runtime_sum_seconds numeric(20,3) NOT NULL,
    runtime_hist_keys   integer[]     NOT NULL,
    runtime_hist_counts integer[]     NOT NULL,
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, day, user_id, agent_id)
);
CREATE INDEX idx_run_user_daily_user ON analytics.run_user_daily (workspace_id, user_id, day);

CREATE TABLE analytics.llm_usage_hourly (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                  bigint        GENERATED ALWAYS AS IDENTITY,
    hour                timestamptz   NOT NULL,
    provider            text          NOT NULL,
    model               text          NOT NULL,
    agent_id            uuid,
    -- NULL for successful calls.
    error_type          text,
    calls               integer       NOT NULL,
    failed_calls        integer       NOT NULL,
    prompt_tokens       bigint        NOT NULL,
    completion_tokens   bigint        NOT NULL,
    total_tokens        bigint        NOT NULL,
    -- Sum over priced calls only; unpriced_calls counts the calls that had no known price.
    cost_usd            numeric(20,8) NOT NULL,
    unpriced_calls      integer       NOT NULL,
    latency_ms_sum      bigint        NOT NULL,
    latency_hist_keys   integer[]     NOT NULL,
    latency_hist_counts integer[]     NOT NULL,
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT llm_usage_hourly_key UNIQUE NULLS NOT DISTINCT (workspace_id, hour, provider, model, agent_id, error_type)
);

CREATE TABLE analytics.llm_usage_user_daily (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                  bigint        GENERATED ALWAYS AS IDENTITY,
    day                 date          NOT NULL,
    user_id             uuid          NOT NULL,
    provider            text          NOT NULL,
    model               text          NOT NULL,
    agent_id            uuid,
    calls               integer       NOT NULL,
    failed_calls        integer       NOT NULL,
    prompt_tokens       bigint        NOT NULL,
    completion_tokens   bigint        NOT NULL,
    total_tokens        bigint        NOT NULL,
    cost_usd            numeric(20,8) NOT NULL,
    unpriced_calls      integer       NOT NULL,
    latency_ms_sum      bigint        NOT NULL,
    latency_hist_keys   integer[]     NOT NULL,
    latency_hist_counts integer[]     NOT NULL,
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT llm_usage_user_daily_key UNIQUE NULLS NOT DISTINCT (workspace_id, day, user_id, provider, model, agent_id)
);
CREATE INDEX idx_llm_usage_user_daily_user ON analytics.llm_usage_user_daily (workspace_id, user_id, day);

-- Stages bucket by their run's start (run_stages.started_at), so a run and its stages share a day.
CREATE TABLE analytics.stage_daily (
    workspace_id         uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                   bigint        GENERATED ALWAYS AS IDENTITY,
    day                  date          NOT NULL,
    agent_id             uuid          NOT NULL,
    stage_name           text          NOT NULL,
    model                text,
    status               text          NOT NULL,
    stages               integer       NOT NULL,
    prompt_tokens        bigint        NOT NULL,
    completion_tokens    bigint        NOT NULL,
    total_tokens         bigint        NOT NULL,
    cost_usd             numeric(20,8) NOT NULL,
    unpriced_stages      integer       NOT NULL,
    -- Stages with a duration; the duration columns cover these.
    duration_stages      integer       NOT NULL,
    duration_ms_sum      bigint        NOT NULL,
    duration_hist_keys   integer[]     NOT NULL,
    duration_hist_counts integer[]     NOT NULL,
    updated_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT stage_daily_key UNIQUE NULLS NOT DISTINCT (workspace_id, day, agent_id, stage_name, model, status)
);

-- ---------------------------------------------------------------------------------------------
-- Rollup steps. Each recomputes the workspace-local days p_from_day..p_to_day from raw rows:
-- upsert every fresh group, and delete the rows of those days whose sources vanished, in one
-- statement per table, so running a step twice (or two workers at once) leaves the same rows. (All
-- parts of one statement see one snapshot and a data-modifying CTE always runs to completion; the
-- DELETE only touches keys absent from `fresh`, never a row the upsert writes.)
-- Histograms are built in two levels: group by (dimensions, histogram key) first, then fold the
-- keys of each group into the sorted arrays while summing the per-key partial sums.

CREATE FUNCTION analytics.rollup_run_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    WITH base AS (
        SELECT analytics.local_hour_start(ar.started_at, r.tz) AS hour, ar.agent_id, ar.model, ar.status, ar.error_type,
               ar.credits_consumed, ar.rating,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL THEN ar.runtime_seconds END AS runtime,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL
                    THEN analytics.log_hist_key((ar.runtime_seconds * 1000)::double precision) END AS hist_key
        FROM public.agent_runs ar
        WHERE ar.workspace_id = p_workspace_id AND ar.started_at >= r.lo AND ar.started_at < r.hi
    ), per_key AS (
        SELECT hour, agent_id, model, status, error_type, hist_key,
               count(*)::integer AS runs, sum(credits_consumed) AS credits,
               count(runtime)::integer AS runtime_runs, coalesce(sum(runtime), 0) AS runtime_sum,
               count(rating)::integer AS rated_runs, coalesce(sum(rating), 0)::integer AS rating_sum
        FROM base GROUP BY hour, agent_id, model, status, error_type, hist_key
    ), fresh AS (
        SELECT hour, agent_id, model, status, error_type,
               sum(runs)::integer AS runs, sum(credits) AS credits,
               sum(runtime_runs)::integer AS runtime_runs, sum(runtime_sum) AS runtime_sum_seconds,
               coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_keys,
               coalesce(array_agg(runtime_runs ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_counts,
               sum(rated_runs)::integer AS rated_runs, sum(rating_sum)::integer AS rating_sum
        FROM per_key GROUP BY hour, agent_id, model, status, error_type
    ), upserted AS (
        INSERT INTO analytics.run_hourly AS t (workspace_id, hour, agent_id, model, status, error_type, runs, credits,
            runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum)
        SELECT p_workspace_id, hour, agent_id, model, status, error_type, runs, credits,
               runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum
        FROM fresh
        ON CONFLICT ON CONSTRAINT run_hourly_key DO UPDATE SET
            runs = EXCLUDED.runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
            runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
            runtime_hist_counts = EXCLUDED.runtime_hist_counts, rated_runs = EXCLUDED.rated_runs,
            rating_sum = EXCLUDED.rating_sum, updated_at = now()
        WHERE (t.runs, t.credits, t.runtime_runs, t.runtime_sum_seconds, t.runtime_hist_keys, t.runtime_hist_counts,
               t.rated_runs, t.rating_sum)
              IS DISTINCT FROM (EXCLUDED.runs, EXCLUDED.credits, EXCLUDED.runtime_runs, EXCLUDED.runtime_sum_seconds,
               EXCLUDED.runtime_hist_keys, EXCLUDED.runtime_hist_counts, EXCLUDED.rated_runs, EXCLUDED.rating_sum)
    )
    DELETE FROM analytics.run_hourly t
    WHERE t.workspace_id = p_workspace_id AND t.hour >= r.lo AND t.hour < r.hi
      AND NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.hour = t.hour AND f.agent_id = t.agent_id AND f.status = t.status
                        AND f.model IS NOT DISTINCT FROM t.model AND f.error_type IS NOT DISTINCT FROM t.error_type);

    WITH base AS (
        SELECT (ar.started_at AT TIME ZONE r.tz)::date AS day, ar.user_id, ar.agent_id, ar.status, ar.credits_consumed,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL THEN ar.runtime_seconds END AS runtime,
               CASE WHEN ar.status <> 'running' AND ar.runtime_seconds IS NOT NULL
                    THEN analytics.log_hist_key((ar.runtime_seconds * 1000)::double precision) END AS hist_key
        FROM public.agent_runs ar
        WHERE ar.workspace_id = p_workspace_id AND ar.started_at >= r.lo AND ar.started_at < r.hi
    ), per_key AS (
        SELECT day, user_id, agent_id, hist_key,
               count(*)::integer AS runs,
               count(*) FILTER (WHERE status = 'completed')::integer AS completed_runs,
               count(*) FILTER (WHERE status = 'failed')::integer AS failed_runs,
               count(*) FILTER (WHERE status = 'cancelled')::integer AS cancelled_runs,
               sum(credits_consumed) AS credits,
               count(runtime)::integer AS runtime_runs, coalesce(sum(runtime), 0) AS runtime_sum
        FROM base GROUP BY day, user_id, agent_id, hist_key
    ), fresh AS (
        SELECT day, user_id, agent_id,
               sum(runs)::integer AS runs, sum(completed_runs)::integer AS completed_runs,
               sum(failed_runs)::integer AS failed_runs, sum(cancelled_runs)::integer AS cancelled_runs,
               sum(credits) AS credits, sum(runtime_runs)::integer AS runtime_runs, sum(runtime_sum) AS runtime_sum_seconds,
               coalesce(array_agg(hist_key ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_keys,
               coalesce(array_agg(runtime_runs ORDER BY hist_key) FILTER (WHERE hist_key IS NOT NULL), '{}') AS runtime_hist_counts
        FROM per_key GROUP BY day, user_id, agent_id
    ), upserted AS (
        INSERT INTO analytics.run_user_daily AS t (workspace_id, day, user_id, agent_id, runs, completed_runs, failed_runs,
            cancelled_runs, credits, runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts)
        SELECT p_workspace_id, day, user_id, agent_id, runs, completed_runs, failed_runs, cancelled_runs, credits,
               runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts
        FROM fresh
        ON CONFLICT (workspace_id, day, user_id, agent_id) DO UPDATE SET
            runs = EXCLUDED.runs, completed_runs = EXCLUDED.completed_runs, failed_runs = EXCLUDED.failed_runs,
            cancelled_runs = EXCLUDED.cancelled_runs, credits = EXCLUDED.credits, runtime_runs = EXCLUDED.runtime_runs,
            runtime_sum_seconds = EXCLUDED.runtime_sum_seconds, runtime_hist_keys = EXCLUDED.runtime_hist_keys,
            runtime_hist_counts = EXCLUDED.runtime_hist_counts, updated_at = now()
        WHERE (t.runs, t.completed_runs, t.failed_runs, t.cancelled_runs, t.credits, t.runtime_runs,
               t.runtime_sum_seconds, t.runtime_hist_keys, t.runtime_hist_counts)
              IS DISTINCT FROM (EXCLUDED.runs, EXCLUDED.completed_runs, EXCLUDED.failed_runs, EXCLUDED.cancelled_runs,
               EXCLUDED.credits, EXCLUDED.runtime_runs, EXCLUDED.runtime_sum_seconds, EXCLUDED.runtime_hist_keys,
               EXCLUDED.runtime_hist_counts)
    )
    DELETE FROM analytics.run_user_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.day = t.day AND f.user_id = t.user_id AND f.agent_id = t.agent_id);
END $$;

CREATE FUNCTION analytics.rollup_llm_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    WITH base AS (
        SELECT analytics.local_hour_start(l.created_at, r.tz) AS hour, l.provider, l.model, l.agent_id,
               CASE WHEN NOT l.success THEN l.error_type END AS error_type, l.success,
               l.prompt_tokens, l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms,
               analytics.log_hist_key(l.latency_ms::double precision) AS hist_key
        FROM public.llm_usage_logs l
        WHERE l.workspace_id = p_workspace_id AND l.created_at >= r.lo AND l.created_at < r.hi
    ), per_key AS (
        SELECT hour, provider, model, agent_id, error_type, hist_key,
               count(*)::integer AS calls, count(*) FILTER (WHERE NOT success)::integer AS failed_calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(total_tokens) AS total_tokens, coalesce(sum(total_cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
               sum(latency_ms) AS latency_ms_sum
        FROM base GROUP BY hour, provider, model, agent_id, error_type, hist_key
    ), fresh AS (
        SELECT hour, provider, model, agent_id, error_type,
               sum(calls)::integer AS calls, sum(failed_calls)::integer AS failed_calls,
               sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
               sum(total_tokens)::bigint AS total_tokens, sum(cost_usd) AS cost_usd,
               sum(unpriced_calls)::integer AS unpriced_calls, sum(latency_ms_sum)::bigint AS latency_ms_sum,
               array_agg(hist_key ORDER BY hist_key) AS latency_hist_keys,
               array_agg(calls ORDER BY hist_key) AS latency_hist_counts
        FROM per_key GROUP BY hour, provider, model, agent_id, error_type
    ), upserted AS (
        INSERT INTO analytics.llm_usage_hourly AS t (workspace_id, hour, provider, model, agent_id, error_type, calls,
            failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
            latency_hist_keys, latency_hist_counts)
        SELECT p_workspace_id, hour, provider, model, agent_id, error_type, calls, failed_calls, prompt_tokens,
               completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum, latency_hist_keys,
               latency_hist_counts
        FROM fresh
        ON CONFLICT ON CONSTRAINT llm_usage_hourly_key DO UPDATE SET
            calls = EXCLUDED.calls, failed_calls = EXCLUDED.failed_calls, prompt_tokens = EXCLUDED.prompt_tokens,
            completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
            cost_usd = EXCLUDED.cost_usd, unpriced_calls = EXCLUDED.unpriced_calls,
            latency_ms_sum = EXCLUDED.latency_ms_sum, latency_hist_keys = EXCLUDED.latency_hist_keys,
            latency_hist_counts = EXCLUDED.latency_hist_counts, updated_at = now()
        WHERE (t.calls, t.failed_calls, t.prompt_tokens, t.completion_tokens, t.cost_usd, t.unpriced_calls,
               t.latency_ms_sum, t.latency_hist_keys, t.latency_hist_counts)
              IS DISTINCT FROM (EXCLUDED.calls, EXCLUDED.failed_calls, EXCLUDED.prompt_tokens, EXCLUDED.completion_tokens,
               EXCLUDED.cost_usd, EXCLUDED.unpriced_calls, EXCLUDED.latency_ms_sum, EXCLUDED.latency_hist_keys,
               EXCLUDED.latency_hist_counts)
    )
    DELETE FROM analytics.llm_usage_hourly t
    WHERE t.workspace_id = p_workspace_id AND t.hour >= r.lo AND t.hour < r.hi
      AND NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.hour = t.hour AND f.provider = t.provider AND f.model = t.model
                        AND f.agent_id IS NOT DISTINCT FROM t.agent_id AND f.error_type IS NOT DISTINCT FROM t.error_type);

    WITH base AS (
        SELECT (l.created_at AT TIME ZONE r.tz)::date AS day, l.user_id, l.provider, l.model, l.agent_id, l.success,
               l.prompt_tokens, l.completion_tokens, l.total_tokens, l.total_cost_usd, l.latency_ms,
               analytics.log_hist_key(l.latency_ms::double precision) AS hist_key
        FROM public.llm_usage_logs l
        WHERE l.workspace_id = p_workspace_id AND l.created_at >= r.lo AND l.created_at < r.hi
    ), per_key AS (
        SELECT day, user_id, provider, model, agent_id, hist_key,
               count(*)::integer AS calls, count(*) FILTER (WHERE NOT success)::integer AS failed_calls,
               sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
               sum(total_tokens) AS total_tokens, coalesce(sum(total_cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
               sum(latency_ms) AS latency_ms_sum
        FROM base GROUP BY day, user_id, provider, model, agent_id, hist_key
    ), fresh AS (
        SELECT day, user_id, provider, model, agent_id,
               sum(calls)::integer AS calls, sum(failed_calls)::integer AS failed_calls,
               sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
               sum(total_tokens)::bigint AS total_tokens, sum(cost_usd) AS cost_usd,
               sum(unpriced_calls)::integer AS unpriced_calls, sum(latency_ms_sum)::bigint AS latency_ms_sum,
               array_agg(hist_key ORDER BY hist_key) AS latency_hist_keys,
               array_agg(calls ORDER BY hist_key) AS latency_hist_counts
        FROM per_key GROUP BY day, user_id, provider, model, agent_id
    ), upserted AS (
        INSERT INTO analytics.llm_usage_user_daily AS t (workspace_id, day, user_id, provider, model, agent_id, calls,
            failed_calls, prompt_tokens, completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum,
            latency_hist_keys, latency_hist_counts)
        SELECT p_workspace_id, day, user_id, provider, model, agent_id, calls, failed_calls, prompt_tokens,
               completion_tokens, total_tokens, cost_usd, unpriced_calls, latency_ms_sum, latency_hist_keys,
               latency_hist_counts
        FROM fresh
        ON CONFLICT ON CONSTRAINT llm_usage_user_daily_key DO UPDATE SET
            calls = EXCLUDED.calls, failed_calls = EXCLUDED.failed_calls, prompt_tokens = EXCLUDED.prompt_tokens,
            completion_tokens = EXCLUDED.completion_tokens, total_tokens = EXCLUDED.total_tokens,
            cost_usd = EXCLUDED.cost_usd, unpriced_calls = EXCLUDED.unpriced_calls,
            latency_ms_sum = EXCLUDED.latency_ms_sum, latency_hist_keys = EXCLUDED.latency_hist_keys,
            latency_hist_counts = EXCLUDED.latency_hist_counts, updated_at = now()
        WHERE (t.calls, t.failed_calls, t.prompt_tokens, t.completion_tokens, t.cost_usd, t.unpriced_calls,
               t.latency_ms_sum, t.latency_hist_keys, t.latency_hist_counts)
              IS DISTINCT FROM (EXCLUDED.calls, EXCLUDED.failed_calls, EXCLUDED.prompt_tokens, EXCLUDED.completion_tokens,
               EXCLUDED.cost_usd, EXCLUDED.unpriced_calls, EXCLUDED.latency_ms_sum, EXCLUDED.latency_hist_keys,
               EXCLUDED.latency_hist_counts)
    )
    DELETE FROM analytics.llm_usage_user_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day
      AND NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.day = t.day AND f.user_id = t.user_id AND f.provider = t.provider AND f.model = t.model
                        AND f.agent_id IS NOT DISTINCT FROM t.agent_id);
END $$;

CREATE FUNCTION analytics.rollup_stage_dimensions(p_workspace_id uuid, p_from_day date, p_to_day date)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM analytics.local_day_range(p_workspace_id, p_from_day, p_to_day);
    IF r.tz IS NULL THEN RETURN; END IF;

    WITH base AS (
        SELECT (s.started_at AT TIME ZONE r.tz)::date AS day, ar.agent_id, s.name AS stage_name, s.model, s.status,
               s.prompt_tokens, s.completion_tokens, s.total_tokens, s.cost_usd, s.duration_ms,
               analytics.log_hist_key(s.duration_ms::double precision) AS hist_key
        FROM public.run_stages s
        JOIN public.agent_runs ar ON ar.workspace_id = s.workspace_id AND ar.id = s.run_id
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
    ), upserted AS (
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
               EXCLUDED.duration_hist_keys, EXCLUDED.duration_hist_counts)
    )
    DELETE FROM analytics.stage_daily t
    WHERE t.workspace_id = p_workspace_id AND t.day BETWEEN p_from_day AND p_to_day
      AND NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE f.day = t.day AND f.agent_id = t.agent_id AND f.stage_name = t.stage_name
                        AND f.status = t.status AND f.model IS NOT DISTINCT FROM t.model);
END $$;

-- The rollup engine's day-step convention, fn(workspace_id, days date[]) -> integer (lib/rollups/steps.ts):
-- the touched days are split into runs of consecutive days, each recomputed as one range. Returns
-- the number of days recomputed.
CREATE FUNCTION analytics.consecutive_day_ranges(p_days date[])
    RETURNS TABLE (from_day date, to_day date) LANGUAGE sql IMMUTABLE AS $$
    SELECT min(d), max(d)
    FROM (SELECT d, d - (row_number() OVER (ORDER BY d))::integer AS island
          FROM (SELECT DISTINCT d FROM unnest(p_days) AS d WHERE d IS NOT NULL) AS distinct_days) AS numbered
    GROUP BY island
$$;

CREATE FUNCTION analytics.rollup_run_dimensions(p_workspace_id uuid, p_days date[]) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM analytics.consecutive_day_ranges(p_days) LOOP
        PERFORM analytics.rollup_run_dimensions(p_workspace_id, r.from_day, r.to_day);
        n := n + (r.to_day - r.from_day + 1);
    END LOOP;
    RETURN n;
END $$;
CREATE FUNCTION analytics.rollup_llm_dimensions(p_workspace_id uuid, p_days date[]) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM analytics.consecutive_day_ranges(p_days) LOOP
        PERFORM analytics.rollup_llm_dimensions(p_workspace_id, r.from_day, r.to_day);
        n := n + (r.to_day - r.from_day + 1);
    END LOOP;
    RETURN n;
END $$;
CREATE FUNCTION analytics.rollup_stage_dimensions(p_workspace_id uuid, p_days date[]) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM analytics.consecutive_day_ranges(p_days) LOOP
        PERFORM analytics.rollup_stage_dimensions(p_workspace_id, r.from_day, r.to_day);
        n := n + (r.to_day - r.from_day + 1);
    END LOOP;
    RETURN n;
END $$;

REVOKE EXECUTE ON FUNCTION analytics.rollup_run_dimensions(uuid, date[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_llm_dimensions(uuid, date[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_stage_dimensions(uuid, date[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_run_dimensions(uuid, date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_llm_dimensions(uuid, date, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_stage_dimensions(uuid, date, date) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Row-level security, as 0006 does for the other rollups: members (and platform admins) read; the
-- user-level tables are also readable for the tracked users linked to the reader's account
-- ("My usage"). Only the owner (worker, admin CLI) writes.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_hourly', 'run_user_daily', 'llm_usage_hourly', 'llm_usage_user_daily', 'stage_daily'] LOOP
        EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON analytics.%I FROM pulseboard_app', t);
    END LOOP;
END $$;
CREATE POLICY run_hourly_read ON analytics.run_hourly FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY llm_usage_hourly_read ON analytics.llm_usage_hourly FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY stage_daily_read ON analytics.stage_daily FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY run_user_daily_read ON analytics.run_user_daily FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR user_id = ANY (SELECT app.linked_user_ids()));
CREATE POLICY llm_usage_user_daily_read ON analytics.llm_usage_user_daily FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR user_id = ANY (SELECT app.linked_user_ids()));
