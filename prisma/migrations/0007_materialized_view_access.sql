-- Materialized views cannot have row-level security, so the app role may not read them directly
-- (default privileges of 0000 granted it SELECT). It reads them through these SECURITY DEFINER
-- functions, which apply the same rule as the table policies: members of the workspace and platform
-- admins; anyone else (or no context) gets no rows.
REVOKE ALL ON analytics.mv_active_users, analytics.mv_top_agents, analytics.mv_workspace_summary FROM pulseboard_app;

-- Whether the current context may read workspace `ws`'s dashboards (member or platform admin).
CREATE FUNCTION app.can_read_workspace(ws uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ws IN (SELECT app.member_workspace_ids()) OR app.is_platform_admin()
$$;

-- DAU / rolling WAU / rolling MAU of one workspace for local dates p_from..p_to (inclusive).
CREATE FUNCTION analytics.get_active_users(p_workspace_id uuid, p_from date, p_to date)
    RETURNS TABLE (
        workspace_id uuid,
        activity_date date,
        daily_active_users integer,
        weekly_active_users integer,
        monthly_active_users integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.workspace_id, m.activity_date, m.daily_active_users, m.weekly_active_users, m.monthly_active_users
    FROM analytics.mv_active_users m
    WHERE m.workspace_id = p_workspace_id
      AND m.activity_date BETWEEN p_from AND p_to
      AND app.can_read_workspace(p_workspace_id)
    ORDER BY m.activity_date
$$;

-- One workspace's agents by 30-day run count (idle agents included with 0), at most p_limit rows
-- (clamped to 0..1000).
CREATE FUNCTION analytics.get_top_agents(p_workspace_id uuid, p_limit integer)
    RETURNS TABLE (
        agent_id uuid,
        agent_name text,
        workspace_id uuid,
        total_runs_30d integer,
        successful_runs_30d integer,
        success_rate numeric,
        avg_runtime numeric,
        median_runtime numeric,
        total_credits_30d numeric,
        unique_users_30d integer,
        last_run_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.agent_id, t.agent_name, t.workspace_id, t.total_runs_30d, t.successful_runs_30d, t.success_rate,
           t.avg_runtime, t.median_runtime, t.total_credits_30d, t.unique_users_30d, t.last_run_at
    FROM analytics.mv_top_agents t
    WHERE t.workspace_id = p_workspace_id
      AND app.can_read_workspace(p_workspace_id)
    ORDER BY t.total_runs_30d DESC, t.agent_name, t.agent_id
    LIMIT least(greatest(coalesce(p_limit, 10), 0), 1000)
$$;

-- The summaries of every workspace the caller may read (all of them for a platform admin).
CREATE FUNCTION analytics.get_workspace_summaries()
    RETURNS TABLE (
        workspace_id uuid,
        workspace_name text,
        total_members integer,
        total_tracked_users integer,
        total_agents integer,
        total_runs_30d integer,
        total_credits_30d numeric,
        avg_runtime_30d numeric,
        active_users_30d integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.workspace_id, s.workspace_name, s.total_members, s.total_tracked_users, s.total_agents,
           s.total_runs_30d, s.total_credits_30d, s.avg_runtime_30d, s.active_users_30d
    FROM analytics.mv_workspace_summary s
    WHERE s.workspace_id IN (SELECT app.member_workspace_ids()) OR app.is_platform_admin()
    ORDER BY s.workspace_name, s.workspace_id
$$;

REVOKE EXECUTE ON FUNCTION analytics.get_active_users(uuid, date, date), analytics.get_top_agents(uuid, integer),
    analytics.get_workspace_summaries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analytics.get_active_users(uuid, date, date), analytics.get_top_agents(uuid, integer),
    analytics.get_workspace_summaries() TO pulseboard_app;
