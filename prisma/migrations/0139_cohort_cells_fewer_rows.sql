-- cohort_cells_of_workspace (0027) with fewer rows before its aggregates (docs/notes/rollups.md,
-- "Session 5"). Same signature, cells and values (the brute-force test in cohorts.test.ts).
--
-- The incremental cycle's cohorts step recomputes a workspace's cohorts when its last refresh is
-- 10 minutes old: at medium (2,000 users × 90 days per workspace) 2.4–3.4 s per workspace, 68.7 s
-- for 20, and the largest item of a due cycle that pays for it. EXPLAIN of one workspace: the
-- join of every active day with the user's three cohort memberships made 546k rows, sorted into
-- 218k distinct (kind, cohort, user, offset) rows (~1 s), and the first day per user was a min
-- over the workspace's 180k user-days. Most of it, though: last_period (each user's last active
-- period) is referenced once, so PostgreSQL inlined it into the per-cell active_or_later subquery
-- and recomputed it from all active periods for each complete cell (47 × 60 ms for one workspace).
--
-- - last_period MATERIALIZED: computed once per call.
-- - First days from analytics.user_first_active_days (0114, kept by triggers: exactly the min of
--   user_daily_activity) instead of aggregating every user-day.
-- - Active weeks and months are made distinct per user before the join (180k user-days → ~26k
--   user-weeks, ~6k user-months); active days are distinct already. The offset of a period's
--   first day is the period's offset, so the rows are the same distinct rows as before, without
--   a DISTINCT over the join.

CREATE OR REPLACE FUNCTION analytics.cohort_cells_of_workspace(p_workspace_id uuid, p_today date)
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
        -- min(activity_date) per user, kept by the triggers of 0114.
        SELECT f.user_id, f.first_day FROM analytics.user_first_active_days f WHERE f.workspace_id = p_workspace_id
    ), kinds AS (
        SELECT k AS cohort_period FROM unnest(ARRAY['daily', 'weekly', 'monthly']) AS k
    ), members AS (
        SELECT k.cohort_period, analytics.cohort_period_start(k.cohort_period, f.first_day) AS cohort_date, f.user_id
        FROM firsts f CROSS JOIN kinds k
    ), user_periods AS (
        -- Each user's active periods of each kind, as the first day of the period: a (user, day) is
        -- unique already; weeks and months are made distinct per user before the join (not after).
        SELECT 'daily' AS cohort_period, user_id, day FROM active_days
        UNION ALL
        SELECT 'weekly', user_id, w FROM (SELECT DISTINCT user_id, analytics.cohort_period_start('weekly', day) AS w
                                          FROM active_days) x
        UNION ALL
        SELECT 'monthly', user_id, m FROM (SELECT DISTINCT user_id, analytics.cohort_period_start('monthly', day) AS m
                                           FROM active_days) x
    ), active_periods AS (
        -- One row per (kind, cohort, user, offset): a period's first day has that period's offset.
        SELECT m.cohort_period, m.cohort_date, m.user_id,
               analytics.cohort_period_offset(m.cohort_period, m.cohort_date, p.day) AS n
        FROM members m JOIN user_periods p ON p.cohort_period = m.cohort_period AND p.user_id = m.user_id
    ), bounded AS (
        SELECT cohort_period, cohort_date, n, count(*)::integer AS users FROM active_periods GROUP BY 1, 2, 3
    ), last_period AS MATERIALIZED (
        -- Read by the per-cell active_or_later subquery: computed once (inlined, it was recomputed
        -- from all active periods for every complete cell, 60 ms each at medium).
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
