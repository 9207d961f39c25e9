-- The derived rollup tables lose their foreign keys to public.workspaces, public.users and
-- public.agents; statement-level triggers on those three tables delete (and truncate) the rollup
-- rows instead, as ON DELETE CASCADE did.
--
-- Why: every inserted rollup row paid a per-row referential-integrity check (an SPI query locking the
-- parent row FOR KEY SHARE). At medium scale the dimension tables hold about one row per raw row, so
-- a rebuild paid it ~40M times. Measured on the medium world (docs/notes/rollups.md, "Session 6"):
-- the run and LLM dimension, user activity and token usage steps of 2 workspaces × 4 weeks into
-- empty tables took 24.2 s with the keys and 19.6 s without (-19 %; -31 % for user_daily_activity).
-- The check protected nothing a rollup can get wrong: rows are only ever written by the rollup
-- functions, grouped from raw rows whose own foreign keys already guarantee the workspace, user and
-- agent exist.
--
-- What the keys also did, and what replaces it:
--   * DELETE of a workspace / user / agent removed its rollup rows (ON DELETE CASCADE): the AFTER
--     DELETE statement triggers below do the same deletes, from the transition table.
--   * A rollup transaction writing rows for a workspace that was being deleted failed on the key (and
--     was retried after the delete). The triggers now take that workspace's rollup advisory locks (the
--     engine's classes 7202620 and 7202622, lib/rollups/engine.ts) before deleting, so they wait for a
--     running rollup of the workspace, and a rollup starting later skips the workspace (try-lock) until
--     the delete commits, after which its raw rows are gone: no orphan rows either way.
--   * TRUNCATE … CASCADE of workspaces / users / agents (test suites reset worlds this way) emptied the
--     rollup tables: AFTER TRUNCATE triggers truncate them.
-- Platform-wide rows (workspace_id NULL) never had a key and are unaffected.

ALTER TABLE analytics.hourly_metrics DROP CONSTRAINT hourly_metrics_workspace_id_fkey;
ALTER TABLE analytics.daily_metrics DROP CONSTRAINT daily_metrics_workspace_id_fkey;
ALTER TABLE analytics.agent_performance DROP CONSTRAINT agent_performance_workspace_id_fkey;
ALTER TABLE analytics.agent_performance DROP CONSTRAINT agent_performance_agent_fk;
ALTER TABLE analytics.user_cohorts DROP CONSTRAINT user_cohorts_workspace_id_fkey;
ALTER TABLE analytics.user_token_usage DROP CONSTRAINT user_token_usage_workspace_id_fkey;
ALTER TABLE analytics.user_token_usage DROP CONSTRAINT user_token_usage_user_fk;
ALTER TABLE analytics.user_daily_activity DROP CONSTRAINT user_daily_activity_workspace_id_fkey;
ALTER TABLE analytics.user_daily_activity DROP CONSTRAINT user_daily_activity_user_fk;
ALTER TABLE analytics.user_first_active_days DROP CONSTRAINT user_first_active_days_workspace_id_fkey;
ALTER TABLE analytics.user_first_active_days DROP CONSTRAINT user_first_active_days_user_fk;
ALTER TABLE analytics.run_hourly DROP CONSTRAINT run_hourly_workspace_id_fkey;
ALTER TABLE analytics.run_user_daily DROP CONSTRAINT run_user_daily_workspace_id_fkey;
ALTER TABLE analytics.run_daily DROP CONSTRAINT run_daily_workspace_id_fkey;
ALTER TABLE analytics.run_daily_totals DROP CONSTRAINT run_daily_totals_workspace_id_fkey;
ALTER TABLE analytics.llm_usage_hourly DROP CONSTRAINT llm_usage_hourly_workspace_id_fkey;
ALTER TABLE analytics.llm_usage_user_daily DROP CONSTRAINT llm_usage_user_daily_workspace_id_fkey;
ALTER TABLE analytics.llm_usage_daily DROP CONSTRAINT llm_usage_daily_workspace_id_fkey;
ALTER TABLE analytics.llm_usage_daily_totals DROP CONSTRAINT llm_usage_daily_totals_workspace_id_fkey;
ALTER TABLE analytics.stage_daily DROP CONSTRAINT stage_daily_workspace_id_fkey;

-- Waits for (and then keeps out) every rollup writer of these workspaces until the caller commits.
-- Sorted, so two deleting transactions take the keys in the same order.
CREATE FUNCTION analytics.lock_rollups_of_workspaces(p_workspace_ids uuid[])
    RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT count(pg_advisory_xact_lock(k.class, hashtext(k.workspace_id::text)))
    FROM (SELECT DISTINCT w AS workspace_id, c AS class
          FROM unnest(p_workspace_ids) AS w, (VALUES (7202620), (7202622)) AS v(c)
          WHERE w IS NOT NULL
          ORDER BY 1, 2) AS k;
$$;
REVOKE EXECUTE ON FUNCTION analytics.lock_rollups_of_workspaces(uuid[]) FROM PUBLIC;

-- One function for the three parents: the rows of `deleted_rows` (every trigger names its transition
-- table so) are workspaces, users or agents by TG_TABLE_NAME. SECURITY DEFINER: the cascade ran as
-- the tables' owner, past row-level security; so does this.
CREATE FUNCTION analytics.delete_rollups_of_deleted_parents()
    RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids uuid[];
BEGIN
    IF TG_TABLE_NAME = 'workspaces' THEN
        SELECT array_agg(id) INTO ids FROM deleted_rows;
    ELSE
        SELECT array_agg(DISTINCT workspace_id) INTO ids FROM deleted_rows;
    END IF;
    IF ids IS NULL THEN RETURN NULL; END IF;
    PERFORM analytics.lock_rollups_of_workspaces(ids);

    IF TG_TABLE_NAME = 'workspaces' THEN
        DELETE FROM analytics.hourly_metrics WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.daily_metrics WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.agent_performance WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.user_cohorts WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.user_token_usage WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.user_daily_activity WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.user_first_active_days WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.run_hourly WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.run_user_daily WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.run_daily WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.run_daily_totals WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.llm_usage_hourly WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.llm_usage_user_daily WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.llm_usage_daily WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.llm_usage_daily_totals WHERE workspace_id = ANY (ids);
        DELETE FROM analytics.stage_daily WHERE workspace_id = ANY (ids);
    ELSIF TG_TABLE_NAME = 'users' THEN
        -- The tables that had a key to public.users: per-user activity, token usage and first days.
        DELETE FROM analytics.user_daily_activity t USING deleted_rows d
        WHERE t.workspace_id = d.workspace_id AND t.user_id = d.id;
        DELETE FROM analytics.user_token_usage t USING deleted_rows d
        WHERE t.workspace_id = d.workspace_id AND t.user_id = d.id;
        DELETE FROM analytics.user_first_active_days t USING deleted_rows d
        WHERE t.workspace_id = d.workspace_id AND t.user_id = d.id;
    ELSIF TG_TABLE_NAME = 'agents' THEN
        -- The one table that had a key to public.agents.
        DELETE FROM analytics.agent_performance t USING deleted_rows d
        WHERE t.workspace_id = d.workspace_id AND t.agent_id = d.id;
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION analytics.delete_rollups_of_deleted_parents() FROM PUBLIC;

CREATE TRIGGER workspaces_delete_rollups
    AFTER DELETE ON public.workspaces REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.delete_rollups_of_deleted_parents();
CREATE TRIGGER users_delete_rollups
    AFTER DELETE ON public.users REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.delete_rollups_of_deleted_parents();
CREATE TRIGGER agents_delete_rollups
    AFTER DELETE ON public.agents REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.delete_rollups_of_deleted_parents();

-- TRUNCATE (… CASCADE) of a parent empties the tables that referenced it. The platform-wide rows
-- (workspace_id NULL) of hourly_metrics, daily_metrics and user_cohorts go too, as they did: their
-- raw rows are gone with the workspaces. DELETE, not TRUNCATE: a TRUNCATE that names the rollup
-- tables itself (the demo seed's) still has them open when this fires, and a nested TRUNCATE of
-- them fails ("being used by active queries"); those are empty by then and cost nothing to delete.
CREATE FUNCTION analytics.truncate_rollups_of_truncated_parent()
    RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tables text[] := CASE TG_TABLE_NAME
        WHEN 'workspaces' THEN ARRAY['hourly_metrics', 'daily_metrics', 'agent_performance', 'user_cohorts',
            'user_token_usage', 'user_daily_activity', 'user_first_active_days', 'run_hourly', 'run_user_daily',
            'run_daily', 'run_daily_totals', 'llm_usage_hourly', 'llm_usage_user_daily', 'llm_usage_daily',
            'llm_usage_daily_totals', 'stage_daily']
        WHEN 'users' THEN ARRAY['user_token_usage', 'user_daily_activity', 'user_first_active_days']
        WHEN 'agents' THEN ARRAY['agent_performance']
    END;
    t text;
BEGIN
    FOREACH t IN ARRAY coalesce(tables, '{}') LOOP
        EXECUTE format('DELETE FROM analytics.%I', t);
    END LOOP;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION analytics.truncate_rollups_of_truncated_parent() FROM PUBLIC;

CREATE TRIGGER workspaces_truncate_rollups AFTER TRUNCATE ON public.workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.truncate_rollups_of_truncated_parent();
CREATE TRIGGER users_truncate_rollups AFTER TRUNCATE ON public.users
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.truncate_rollups_of_truncated_parent();
CREATE TRIGGER agents_truncate_rollups AFTER TRUNCATE ON public.agents
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.truncate_rollups_of_truncated_parent();
