-- The scheduled cohort recompute. The engine's per-cycle `cohorts` step only runs for workspaces
-- that received data, so a quiet workspace's cohorts would never see a period become complete (that
-- depends on the date alone). A daily job — and the end of a backfill — calls this: every workspace
-- that has active days or cohort rows, then the platform rows from them. Returns the rows written.
CREATE FUNCTION analytics.rollup_all_cohorts()
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ws      uuid;
    written integer := 0;
BEGIN
    FOR ws IN
        SELECT w.id FROM public.workspaces w
        WHERE EXISTS (SELECT 1 FROM analytics.user_daily_activity a WHERE a.workspace_id = w.id)
           OR EXISTS (SELECT 1 FROM analytics.user_cohorts c WHERE c.workspace_id = w.id)
        ORDER BY w.id
    LOOP
        written := written + analytics.rollup_cohorts(ws);
        INSERT INTO analytics.cohort_refreshes (scope, refreshed_at) VALUES (ws::text, now())
        ON CONFLICT (scope) DO UPDATE SET refreshed_at = now();
    END LOOP;
    written := written + analytics.rollup_cohorts(NULL);
    INSERT INTO analytics.cohort_refreshes (scope, refreshed_at) VALUES ('platform', now())
    ON CONFLICT (scope) DO UPDATE SET refreshed_at = now();
    RETURN written;
END $$;
REVOKE EXECUTE ON FUNCTION analytics.rollup_all_cohorts() FROM PUBLIC;
