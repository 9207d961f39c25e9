-- The three materialized views of 004, fixed (defects 3, 4, 5). The worker (owner) refreshes them
-- with analytics.refresh_all_materialized_views(); the app role reads them only through the
-- SECURITY DEFINER functions of 0007 (a materialized view cannot have row-level security).

-- Active users per workspace and workspace-local day, for the last 90 local days (today included,
-- quiet days too, so the rolling numbers have no holes):
--   daily_active_users   distinct users active that day
--   weekly_active_users  distinct users active in the 7 days ending that day   (rolling, defect 5)
--   monthly_active_users distinct users active in the 30 days ending that day  (rolling, defect 5)
-- "Active" = an activity event, a run or an LLM call: exactly the rows of analytics.user_daily_activity,
-- which is already one row per (workspace, local day, user), so every count is an index range scan.
CREATE MATERIALIZED VIEW analytics.mv_active_users AS
WITH workspace_today AS (
    SELECT w.id AS workspace_id, (now() AT TIME ZONE w.timezone)::date AS local_today
    FROM public.workspaces w
    WHERE EXISTS (
        SELECT 1 FROM analytics.user_daily_activity a
        WHERE a.workspace_id = w.id
          AND a.activity_date >= (now() AT TIME ZONE w.timezone)::date - 118)
), days AS (
    SELECT t.workspace_id, d::date AS activity_date
    FROM workspace_today t
    CROSS JOIN LATERAL generate_series(t.local_today - 89, t.local_today, interval '1 day') AS d
)
SELECT
    days.workspace_id,
    days.activity_date,
    (SELECT count(*) FROM analytics.user_daily_activity a
      WHERE a.workspace_id = days.workspace_id AND a.activity_date = days.activity_date)::integer AS daily_active_users,
    (SELECT count(DISTINCT a.user_id) FROM analytics.user_daily_activity a
      WHERE a.workspace_id = days.workspace_id
        AND a.activity_date BETWEEN days.activity_date - 6 AND days.activity_date)::integer AS weekly_active_users,
    (SELECT count(DISTINCT a.user_id) FROM analytics.user_daily_activity a
      WHERE a.workspace_id = days.workspace_id
        AND a.activity_date BETWEEN days.activity_date - 29 AND days.activity_date)::integer AS monthly_active_users
FROM days;
-- Unique: required by REFRESH ... CONCURRENTLY; also the lookup of get_active_users (workspace, date range).
CREATE UNIQUE INDEX idx_mv_active_users ON analytics.mv_active_users (workspace_id, activity_date);

-- Every agent with its last-30-days numbers. The 30-day filter is part of the LEFT JOIN, so agents
-- with no recent runs appear with 0 runs (defect 3: 004 filtered in WHERE, dropping them).
CREATE MATERIALIZED VIEW analytics.mv_top_agents AS
SELECT
    a.id AS agent_id,
    a.name AS agent_name,
    a.workspace_id,
    count(ar.id)::integer AS total_runs_30d,
    (count(ar.id) FILTER (WHERE ar.status = 'completed'))::integer AS successful_runs_30d,
    round(coalesce((count(ar.id) FILTER (WHERE ar.status = 'completed'))::numeric
        / nullif(count(ar.id), 0) * 100, 0), 2) AS success_rate,
    round(avg(ar.runtime_seconds), 3) AS avg_runtime,
    round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ar.runtime_seconds))::numeric, 3) AS median_runtime,
    coalesce(sum(ar.credits_consumed), 0) AS total_credits_30d,
    count(DISTINCT ar.user_id)::integer AS unique_users_30d,
    max(ar.started_at) AS last_run_at
FROM public.agents a
LEFT JOIN public.agent_runs ar
    ON ar.workspace_id = a.workspace_id
   AND ar.agent_id = a.id
   AND ar.started_at >= now() - interval '30 days'
GROUP BY a.workspace_id, a.id, a.name;
-- Unique: required by REFRESH ... CONCURRENTLY.
CREATE UNIQUE INDEX idx_mv_top_agents ON analytics.mv_top_agents (workspace_id, agent_id);
-- get_top_agents reads one workspace's agents by volume.
CREATE INDEX idx_mv_top_agents_workspace ON analytics.mv_top_agents (workspace_id, total_runs_30d DESC);

-- One row per workspace. Each side (members, tracked users, agents, recent runs) is aggregated in
-- its own subquery and joined 1:1 on workspace_id, so no sum is multiplied by another side's row
-- count (defect 4: 004's members × agents × runs join reported 4 runs × 5 credits as 60, not 20).
CREATE MATERIALIZED VIEW analytics.mv_workspace_summary AS
SELECT
    w.id AS workspace_id,
    w.name AS workspace_name,
    coalesce(m.total_members, 0)::integer AS total_members,
    coalesce(u.total_tracked_users, 0)::integer AS total_tracked_users,
    coalesce(ag.total_agents, 0)::integer AS total_agents,
    coalesce(r.total_runs_30d, 0)::integer AS total_runs_30d,
    coalesce(r.total_credits_30d, 0) AS total_credits_30d,
    r.avg_runtime_30d,
    coalesce(r.active_users_30d, 0)::integer AS active_users_30d
FROM public.workspaces w
LEFT JOIN (
    SELECT workspace_id, count(*) AS total_members FROM public.workspace_members GROUP BY workspace_id
) m ON m.workspace_id = w.id
LEFT JOIN (
    SELECT workspace_id, count(*) AS total_tracked_users FROM public.users GROUP BY workspace_id
) u ON u.workspace_id = w.id
LEFT JOIN (
    SELECT workspace_id, count(*) AS total_agents FROM public.agents GROUP BY workspace_id
) ag ON ag.workspace_id = w.id
LEFT JOIN (
    SELECT workspace_id,
           count(*) AS total_runs_30d,
           sum(credits_consumed) AS total_credits_30d,
           round(avg(runtime_seconds), 3) AS avg_runtime_30d,
           count(DISTINCT user_id) AS active_users_30d
    FROM public.agent_runs
    WHERE started_at >= now() - interval '30 days'
    GROUP BY workspace_id
) r ON r.workspace_id = w.id;
-- Unique: required by REFRESH ... CONCURRENTLY; also the lookup by workspace.
CREATE UNIQUE INDEX idx_mv_workspace_summary ON analytics.mv_workspace_summary (workspace_id);

-- CONCURRENTLY: readers keep seeing the previous contents while a refresh runs (needs the unique
-- indexes above, and a populated view, which WITH DATA at creation guarantees).
CREATE FUNCTION analytics.refresh_all_materialized_views()
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_active_users;
    REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_top_agents;
    REFRESH MATERIALIZED VIEW CONCURRENTLY analytics.mv_workspace_summary;
END $$;
-- Only the owner (worker) refreshes; the app role could not anyway (it owns no view).
REVOKE EXECUTE ON FUNCTION analytics.refresh_all_materialized_views() FROM PUBLIC;
