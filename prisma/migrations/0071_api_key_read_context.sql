-- Reads by an API key with the `read` scope (GET /api/v1/metrics, CSV export). The key is verified
-- by the app (app.verify_api_key); the request then runs in a read-only transaction with
-- app.current_read_workspace_id set. That context may SELECT its one workspace's rollups and the
-- labels they join (workspace, agents, tracked users) — never raw events, secrets or memberships —
-- and it is distinct from the ingest context (app.current_workspace_id), so an ingest-only key
-- reads nothing.
CREATE FUNCTION app.current_read_workspace_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s::uuid END
    FROM (SELECT current_setting('app.current_read_workspace_id', true) AS s) AS setting
$$;

CREATE POLICY api_key_read_workspace ON public.workspaces
    FOR SELECT TO pulseboard_app USING (id = (SELECT app.current_read_workspace_id()));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'public.agents', 'public.users',
        'analytics.daily_metrics', 'analytics.hourly_metrics', 'analytics.agent_performance',
        'analytics.user_daily_activity', 'analytics.user_token_usage', 'analytics.user_cohorts',
        'analytics.run_hourly', 'analytics.run_user_daily', 'analytics.llm_usage_hourly',
        'analytics.llm_usage_user_daily', 'analytics.stage_daily']
    LOOP
        EXECUTE format(
            'CREATE POLICY api_key_read ON %s FOR SELECT TO pulseboard_app USING (workspace_id = (SELECT app.current_read_workspace_id()))',
            t);
    END LOOP;
END $$;
