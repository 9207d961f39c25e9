-- analytics.mv_active_users in one pass over the user-days (same rows, same numbers as 0005).
--
-- Why: 0005 computed each of the 90 days × workspaces with correlated subqueries, a count(DISTINCT)
-- over the 7 and the 30 days ending that day, so every user-day was read up to 37 times, and the
-- refresh of the three views took 34.9 s at the medium bench scale (spec target 30 s). The
-- dashboard's rolling DAU/WAU/MAU loader (lib/dashboards/overview.ts) already counts the same way:
-- a user active on day a is counted in a W-day window on days a .. a+W−1; cut at the user's next
-- active day n (lead), these pieces are disjoint per user, so the count on day d is the running sum
-- of +1 at each piece's start and −1 at its end (least(a + W, n)). Exact, never a sum of daily
-- counts. The pieces that reach the first shown day start at most 29 days before it, so the user-days
-- read are [today − 118, today] and the running sums start there.
-- Dropped and created again (a view's query cannot be replaced in place); nothing depends on it but
-- the SQL functions of 0007, which look it up by name when called. Same unique index (REFRESH …
-- CONCURRENTLY needs it), same privileges (none for the app role).
DROP MATERIALIZED VIEW analytics.mv_active_users;

CREATE MATERIALIZED VIEW analytics.mv_active_users AS
WITH workspace_today AS (
    SELECT w.id AS workspace_id, (now() AT TIME ZONE w.timezone)::date AS local_today
    FROM public.workspaces w
    WHERE EXISTS (
        SELECT 1 FROM analytics.user_daily_activity a
        WHERE a.workspace_id = w.id
          AND a.activity_date >= (now() AT TIME ZONE w.timezone)::date - 118)
), user_days AS (
    SELECT a.workspace_id, a.activity_date AS day,
           lead(a.activity_date) OVER (PARTITION BY a.workspace_id, a.user_id ORDER BY a.activity_date) AS next_day
    FROM workspace_today t
    JOIN analytics.user_daily_activity a
      ON a.workspace_id = t.workspace_id AND a.activity_date BETWEEN t.local_today - 118 AND t.local_today
), starts AS (
    SELECT workspace_id, day, count(*) AS n FROM user_days GROUP BY 1, 2
), week_ends AS (
    SELECT workspace_id, least(day + 7, coalesce(next_day, day + 7)) AS day, count(*) AS n FROM user_days GROUP BY 1, 2
), month_ends AS (
    SELECT workspace_id, least(day + 30, coalesce(next_day, day + 30)) AS day, count(*) AS n FROM user_days GROUP BY 1, 2
), counted AS (
    SELECT d.workspace_id, d.local_today, d.activity_date,
           coalesce(s.n, 0) AS dau,
           sum(coalesce(s.n, 0) - coalesce(we.n, 0)) OVER (PARTITION BY d.workspace_id ORDER BY d.activity_date) AS wau,
           sum(coalesce(s.n, 0) - coalesce(me.n, 0)) OVER (PARTITION BY d.workspace_id ORDER BY d.activity_date) AS mau
    FROM (SELECT t.workspace_id, t.local_today, g::date AS activity_date
          FROM workspace_today t
          CROSS JOIN LATERAL generate_series(t.local_today - 118, t.local_today, interval '1 day') AS g) d
    LEFT JOIN starts s ON s.workspace_id = d.workspace_id AND s.day = d.activity_date
    LEFT JOIN week_ends we ON we.workspace_id = d.workspace_id AND we.day = d.activity_date
    LEFT JOIN month_ends me ON me.workspace_id = d.workspace_id AND me.day = d.activity_date
)
SELECT workspace_id,
       activity_date,
       dau::integer AS daily_active_users,
       wau::integer AS weekly_active_users,
       mau::integer AS monthly_active_users
FROM counted
WHERE activity_date >= local_today - 89;

CREATE UNIQUE INDEX idx_mv_active_users ON analytics.mv_active_users (workspace_id, activity_date);
REVOKE ALL ON analytics.mv_active_users FROM pulseboard_app;
