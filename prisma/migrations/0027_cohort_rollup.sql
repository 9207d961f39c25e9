-- analytics.user_cohorts: daily, weekly (ISO, Monday) and monthly retention cohorts.
--
-- Cohort membership: a tracked user belongs to the cohort of the period holding their first active
-- day in analytics.user_daily_activity (an activity event, a run or an LLM call; workspace-local
-- days). Signup time (public.users.created_at) is deliberately not used: a user who signed up but
-- never did anything has not started using the product, and counting them would make period 0 less
-- than 100 % and mix acquisition with retention. Users with no active day are in no cohort.
--
-- retention_data (jsonb):
--   {"as_of": "2026-11-22",              -- the workspace-local day completeness was judged on
--    "credits": 1234.5,                  -- credits_consumed of all runs of the cohort's users
--    "periods": [{"n": 0, "complete": true,
--                 "active": 40, "active_pct": 100.00,               -- bounded: active in period n
--                 "active_or_later": 40, "active_or_later_pct": 100.00}, -- unbounded: active in n or later
--                ...]}
-- with n = 0..30 (daily), 0..26 (weekly), 0..24 (monthly). Period n is complete when it ended on
-- or before the start of today (workspace-local); for incomplete periods every count and percentage
-- is null. "Active in n or later" counts activity up to now, including beyond the last n listed.
-- Percentages are of initial_users, 0..100, two decimals.
--
-- churn_rate = 100 − active_or_later_pct of period 1: the share of the cohort never active again
--   after its first period; null while period 1 is incomplete.
-- avg_revenue_per_user = credits / initial_users (credits are the platform's revenue unit).
-- ltv_estimate = (avg_revenue_per_user / elapsed periods) / (churn_rate / 100): credits per user per
--   period times the expected lifetime in periods of a geometric churn model; null when churn is
--   null or 0. A rough projection, documented as such.
--
-- Platform-wide rows (workspace_id NULL) add up the workspace rows of the same period and cohort
-- date: counts and credits sum (tracked users belong to one workspace), a period is complete only if
-- it is complete in every workspace that has the cohort, and percentages are recomputed.

CREATE FUNCTION analytics.cohort_period_start(p_period text, p_day date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_period
        WHEN 'daily' THEN p_day
        WHEN 'weekly' THEN date_trunc('week', p_day::timestamp)::date
        WHEN 'monthly' THEN date_trunc('month', p_day::timestamp)::date
    END $$;

-- Start of period n of a cohort whose period starts on p_cohort_date.
CREATE FUNCTION analytics.cohort_period_add(p_period text, p_cohort_date date, p_n integer) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_period
        WHEN 'daily' THEN p_cohort_date + p_n
        WHEN 'weekly' THEN p_cohort_date + 7 * p_n
        WHEN 'monthly' THEN (p_cohort_date + make_interval(months => p_n))::date
    END $$;

-- Which period n of the cohort holds p_day.
CREATE FUNCTION analytics.cohort_period_offset(p_period text, p_cohort_date date, p_day date) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_period
        WHEN 'daily' THEN p_day - p_cohort_date
        WHEN 'weekly' THEN (analytics.cohort_period_start('weekly', p_day) - p_cohort_date) / 7
        WHEN 'monthly' THEN ((extract(year FROM p_day) - extract(year FROM p_cohort_date)) * 12
                             + extract(month FROM p_day) - extract(month FROM p_cohort_date))::integer
    END $$;

CREATE FUNCTION analytics.cohort_max_offset(p_period text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE p_period WHEN 'daily' THEN 30 WHEN 'weekly' THEN 26 WHEN 'monthly' THEN 24 END $$;

-- One row per (period kind, cohort, offset n) of one workspace: the cohort's size and credits, and
-- for complete periods the bounded and unbounded active counts (NULL when incomplete).
CREATE FUNCTION analytics.cohort_cells_of_workspace(p_workspace_id uuid, p_today date)
    RETURNS TABLE (cohort_period text, cohort_date date, n integer, initial_users integer, credits numeric,
                   elapsed_periods integer, as_of date, complete boolean, active integer, active_or_later integer)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH today AS (
        SELECT coalesce(p_today, (now() AT TIME ZONE analytics.workspace_timezone(p_workspace_id))::date) AS day
    ), active_days AS (
        SELECT a.user_id, a.activity_date AS day
        FROM analytics.user_daily_activity a WHERE a.workspace_id = p_workspace_id
    ), firsts AS (
        SELECT user_id, min(day) AS first_day FROM active_days GROUP BY user_id
    ), kinds AS (
        SELECT k AS cohort_period FROM unnest(ARRAY['daily', 'weekly', 'monthly']) AS k
    ), members AS (
        SELECT k.cohort_period, analytics.cohort_period_start(k.cohort_period, f.first_day) AS cohort_date, f.user_id
        FROM firsts f CROSS JOIN kinds k
    ), active_periods AS (
        SELECT DISTINCT m.cohort_period, m.cohort_date, m.user_id,
               analytics.cohort_period_offset(m.cohort_period, m.cohort_date, d.day) AS n
        FROM members m JOIN active_days d ON d.user_id = m.user_id
    ), bounded AS (
        SELECT cohort_period, cohort_date, n, count(*)::integer AS users FROM active_periods GROUP BY 1, 2, 3
    ), last_period AS (
        SELECT cohort_period, cohort_date, max(n) AS last_n, count(*) AS users
        FROM (SELECT cohort_period, cohort_date, user_id, max(n) AS n FROM active_periods GROUP BY 1, 2, 3) AS per_user
        GROUP BY cohort_period, cohort_date, n
    ), user_credits AS (
        SELECT r.user_id, sum(r.credits_consumed) AS credits
        FROM public.agent_runs r WHERE r.workspace_id = p_workspace_id GROUP BY r.user_id
    ), cohorts AS (
        SELECT m.cohort_period, m.cohort_date, count(*)::integer AS initial_users, coalesce(sum(c.credits), 0) AS credits
        FROM members m LEFT JOIN user_credits c ON c.user_id = m.user_id
        GROUP BY m.cohort_period, m.cohort_date
    )
    SELECT c.cohort_period, c.cohort_date, o.n, c.initial_users, c.credits,
           greatest(analytics.cohort_period_offset(c.cohort_period, c.cohort_date, today.day) + 1, 1) AS elapsed_periods,
           today.day AS as_of,
           done.complete,
           CASE WHEN done.complete THEN coalesce(b.users, 0) END AS active,
           CASE WHEN done.complete THEN
               (SELECT coalesce(sum(l.users), 0)::integer FROM last_period l
                WHERE l.cohort_period = c.cohort_period AND l.cohort_date = c.cohort_date AND l.last_n >= o.n)
           END AS active_or_later
    FROM cohorts c
    CROSS JOIN today
    CROSS JOIN LATERAL generate_series(0, analytics.cohort_max_offset(c.cohort_period)) AS o(n)
    CROSS JOIN LATERAL (SELECT analytics.cohort_period_add(c.cohort_period, c.cohort_date, o.n + 1) <= today.day AS complete) AS done
    LEFT JOIN bounded b ON b.cohort_period = c.cohort_period AND b.cohort_date = c.cohort_date AND b.n = o.n
$$;

-- The same cells for the platform, added up from the workspace rows already in user_cohorts.
CREATE FUNCTION analytics.cohort_cells_of_platform()
    RETURNS TABLE (cohort_period text, cohort_date date, n integer, initial_users integer, credits numeric,
                   elapsed_periods integer, as_of date, complete boolean, active integer, active_or_later integer)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.cohort_period::text, c.cohort_date, (p ->> 'n')::integer,
           sum(c.initial_users)::integer, sum((c.retention_data ->> 'credits')::numeric),
           max(greatest(analytics.cohort_period_offset(c.cohort_period, c.cohort_date, (c.retention_data ->> 'as_of')::date) + 1, 1)),
           min((c.retention_data ->> 'as_of')::date),
           bool_and((p ->> 'complete')::boolean),
           CASE WHEN bool_and((p ->> 'complete')::boolean) THEN sum((p ->> 'active')::integer)::integer END,
           CASE WHEN bool_and((p ->> 'complete')::boolean) THEN sum((p ->> 'active_or_later')::integer)::integer END
    FROM analytics.user_cohorts c
    CROSS JOIN LATERAL jsonb_array_elements(c.retention_data -> 'periods') AS p
    WHERE c.workspace_id IS NOT NULL
    GROUP BY c.cohort_period, c.cohort_date, (p ->> 'n')::integer
$$;

-- Recomputes every cohort of one workspace (or, with NULL, the platform-wide rows from the workspace
-- rows): upserts them and deletes cohorts that no longer exist. Returns the rows written.
-- p_today overrides "today" (the workspace-local day completeness is judged on) for backfills and
-- tests; by default it is the current local day. Platform rows take completeness from their inputs.
CREATE FUNCTION analytics.rollup_cohorts(p_workspace_id uuid, p_today date DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    written integer;
BEGIN
    WITH cells AS (
        SELECT * FROM analytics.cohort_cells_of_workspace(p_workspace_id, p_today) WHERE p_workspace_id IS NOT NULL
        UNION ALL
        SELECT * FROM analytics.cohort_cells_of_platform() WHERE p_workspace_id IS NULL
    ), cohorts AS (
        SELECT cohort_period, cohort_date, min(initial_users) AS initial_users, min(credits) AS credits,
               min(elapsed_periods) AS elapsed_periods, min(as_of) AS as_of,
               -- Period 1 decides churn; NULL while it is incomplete.
               min(active_or_later) FILTER (WHERE n = 1) AS returned_after_first,
               jsonb_agg(jsonb_build_object(
                   'n', n, 'complete', complete,
                   'active', active,
                   'active_pct', round(100.0 * active / nullif(initial_users, 0), 2),
                   'active_or_later', active_or_later,
                   'active_or_later_pct', round(100.0 * active_or_later / nullif(initial_users, 0), 2)
               ) ORDER BY n) AS periods
        FROM cells
        GROUP BY cohort_period, cohort_date
    ), fresh AS (
        SELECT cohort_period, cohort_date, initial_users,
               jsonb_build_object('as_of', as_of, 'credits', credits, 'periods', periods) AS retention_data,
               round(credits / initial_users, 2) AS avg_revenue_per_user,
               round(100 - 100.0 * returned_after_first / initial_users, 2) AS churn_rate,
               elapsed_periods
        FROM cohorts
        WHERE initial_users > 0
    ), finished AS (
        SELECT f.*,
               CASE WHEN f.churn_rate > 0 THEN
                   least(round(f.avg_revenue_per_user * 100 / (f.elapsed_periods * f.churn_rate), 2), 99999999.99)
               END AS ltv_estimate
        FROM fresh f
    ), upserted AS (
        INSERT INTO analytics.user_cohorts AS t (cohort_period, cohort_date, workspace_id, initial_users, retention_data,
                                                 ltv_estimate, avg_revenue_per_user, churn_rate)
        SELECT cohort_period, cohort_date, p_workspace_id, initial_users, retention_data, ltv_estimate,
               avg_revenue_per_user, churn_rate
        FROM finished
        ON CONFLICT ON CONSTRAINT unique_cohort DO UPDATE SET
            initial_users = EXCLUDED.initial_users, retention_data = EXCLUDED.retention_data,
            ltv_estimate = EXCLUDED.ltv_estimate, avg_revenue_per_user = EXCLUDED.avg_revenue_per_user,
            churn_rate = EXCLUDED.churn_rate, updated_at = now()
        WHERE (t.initial_users, t.retention_data, t.ltv_estimate, t.avg_revenue_per_user, t.churn_rate)
              IS DISTINCT FROM (EXCLUDED.initial_users, EXCLUDED.retention_data, EXCLUDED.ltv_estimate,
                                EXCLUDED.avg_revenue_per_user, EXCLUDED.churn_rate)
        RETURNING 1
    ), deleted AS (
        DELETE FROM analytics.user_cohorts t
        WHERE t.workspace_id IS NOT DISTINCT FROM p_workspace_id
          AND NOT EXISTS (SELECT 1 FROM finished f
                          WHERE f.cohort_period = t.cohort_period AND f.cohort_date = t.cohort_date)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM deleted) INTO written;
    RETURN written;
END $$;

-- When each scope's cohorts were last recomputed, so the engine's
-- per-cycle workspace step can recompute cohorts at most every few minutes: a full recompute reads
-- every active day of the workspace, and retention only changes meaningfully when a day completes.
CREATE TABLE analytics.cohort_refreshes (
    -- A workspace id as text, or 'platform'. (No foreign key: a deleted workspace's row is harmless.)
    scope        text        NOT NULL PRIMARY KEY,
    refreshed_at timestamptz NOT NULL
);
ALTER TABLE analytics.cohort_refreshes ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.cohort_refreshes FORCE ROW LEVEL SECURITY;
REVOKE ALL ON analytics.cohort_refreshes FROM pulseboard_app; -- internal bookkeeping

-- The engine's workspace step: rollup_cohorts when the last recompute of this scope is older than
-- p_min_interval (claimed under a row lock, so two workers never recompute the same scope at once).
-- Returns the rows written, 0 when not due.
CREATE FUNCTION analytics.rollup_cohorts_when_due(p_workspace_id uuid, p_min_interval interval DEFAULT interval '10 minutes')
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claimed integer;
BEGIN
    INSERT INTO analytics.cohort_refreshes AS r (scope, refreshed_at)
    VALUES (coalesce(p_workspace_id::text, 'platform'), now())
    ON CONFLICT (scope) DO UPDATE SET refreshed_at = now()
    WHERE r.refreshed_at <= now() - p_min_interval;
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed = 0 THEN
        RETURN 0;
    END IF;
    RETURN analytics.rollup_cohorts(p_workspace_id);
END $$;

REVOKE EXECUTE ON FUNCTION analytics.rollup_cohorts(uuid, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.rollup_cohorts_when_due(uuid, interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.cohort_cells_of_workspace(uuid, date) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.cohort_cells_of_platform() FROM PUBLIC;
