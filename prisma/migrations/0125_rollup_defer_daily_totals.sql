-- Deferred daily-totals refresh for rebuild chunks (docs/notes/rollups.md, "Session 3: rebuild").
--
-- The statement triggers of 0110/0115/0116 on run_hourly and llm_usage_hourly refresh
-- run_daily/run_daily_totals (llm_usage_daily/llm_usage_daily_totals) of every touched (workspace,
-- local day) after each statement. rollup_run_dimensions / rollup_llm_dimensions write those tables
-- with a DELETE of the recomputed range and then an INSERT, so over existing rollups every rebuild
-- chunk refreshed the same days twice, the first time from a range the DELETE had just emptied.
-- Measured in a 92-day rebuild over existing rollups (20 workspaces, 4M raw rows): the trigger was
-- 119 s of ≈ 330 s of step time (refresh_run_daily 59 s and refresh_llm_usage_daily 56 s in 540
-- calls each); on empty rollups 35 s of ≈ 250 s.
--
-- Now a transaction may defer the refresh: analytics.defer_daily_totals() creates a temp table
-- (dropped at commit or rollback); while it exists the trigger only records the touched (table,
-- workspace, local day) rows there, and analytics.flush_deferred_daily_totals() refreshes each
-- recorded day once, in the trigger's order (dimension day rows, then totals), and drops the table.
-- The result is the trigger's: the refresh functions recompute a day from the hourly rows as they are
-- at the time of the call, so one call after the last write equals the last of several calls, and
-- the recorded days are the union of those every firing would have refreshed. Other sessions
-- (incremental cycles, retention) are unaffected: the temp table is per session and transaction.
-- Only the rebuild uses it, holding the advisory lock of the scope it writes.

-- One (table, workspace, days) refresh in the trigger's order: dimension day rows first, the totals
-- are read from them. Shared by the trigger and the flush.
CREATE OR REPLACE FUNCTION analytics.refresh_daily_dimension_days(p_table text, p_workspace_id uuid, p_days date[])
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_table = 'run_hourly' THEN
        PERFORM analytics.refresh_run_daily(p_workspace_id, p_days);
        PERFORM analytics.refresh_run_daily_totals(p_workspace_id, p_days);
    ELSE
        PERFORM analytics.refresh_llm_usage_daily(p_workspace_id, p_days);
        PERFORM analytics.refresh_llm_usage_daily_totals(p_workspace_id, p_days);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION analytics.defer_daily_totals() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.rollup_deferred_daily_days') IS NULL THEN
        CREATE TEMP TABLE rollup_deferred_daily_days (
            table_name   text NOT NULL,
            workspace_id uuid NOT NULL,
            day          date NOT NULL,
            PRIMARY KEY (table_name, workspace_id, day)
        ) ON COMMIT DROP;
    END IF;
END $$;

-- Refreshes every deferred day once and ends the deferral. Returns the refreshed (table, workspace,
-- day) count.
CREATE OR REPLACE FUNCTION analytics.flush_deferred_daily_totals() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    touched record;
    refreshed integer := 0;
BEGIN
    IF to_regclass('pg_temp.rollup_deferred_daily_days') IS NULL THEN
        RETURN 0;
    END IF;
    FOR touched IN
        SELECT table_name, workspace_id, array_agg(day ORDER BY day) AS days
        FROM pg_temp.rollup_deferred_daily_days GROUP BY table_name, workspace_id ORDER BY table_name, workspace_id
    LOOP
        PERFORM analytics.refresh_daily_dimension_days(touched.table_name, touched.workspace_id, touched.days);
        refreshed := refreshed + cardinality(touched.days);
    END LOOP;
    -- Later writes in this transaction refresh at once again.
    DROP TABLE pg_temp.rollup_deferred_daily_days;
    RETURN refreshed;
END $$;

-- 0116's trigger function with the deferral branch; the refresh itself moved to the helper above.
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
    IF to_regclass('pg_temp.rollup_deferred_daily_days') IS NOT NULL THEN
        -- Deferred (analytics.defer_daily_totals): the same days, refreshed once by the flush.
        INSERT INTO pg_temp.rollup_deferred_daily_days (table_name, workspace_id, day)
        SELECT DISTINCT TG_TABLE_NAME, c.workspace_id, (c.hour AT TIME ZONE w.timezone)::date
        FROM unnest(workspace_ids, hours) AS c(workspace_id, hour)
        JOIN public.workspaces w ON w.id = c.workspace_id
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    FOR touched IN
        SELECT c.workspace_id, array_agg(DISTINCT (c.hour AT TIME ZONE w.timezone)::date) AS days
        FROM unnest(workspace_ids, hours) AS c(workspace_id, hour)
        JOIN public.workspaces w ON w.id = c.workspace_id
        GROUP BY c.workspace_id
    LOOP
        PERFORM analytics.refresh_daily_dimension_days(TG_TABLE_NAME, touched.workspace_id, touched.days);
    END LOOP;
    RETURN NULL;
END $$;

REVOKE EXECUTE ON FUNCTION analytics.defer_daily_totals() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.flush_deferred_daily_totals() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION analytics.refresh_daily_dimension_days(text, uuid, date[]) FROM PUBLIC;
