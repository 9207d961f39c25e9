-- Stages and registry keys reference the small unpartitioned registry instead of the partitioned
-- agent_runs (0093). Why: a foreign-key check against a partitioned table is expensive in
-- PostgreSQL (each check routes through the partition tree): measured in the ingest write path,
-- a batch of 100 runs with 200 stages spent ~10 ms of ~22 ms in the stage checks alone, plus one
-- deferred check per run against agent_runs at commit. Against the registry each check is a
-- plain btree probe.
--   * run_stages (workspace_id, run_id, started_at) → agent_run_keys (workspace_id, run_id,
--     started_at), ON DELETE CASCADE ON UPDATE CASCADE: a deleted run's key takes its stages
--     along; a key whose started_at changes moves its stages to the new month.
--   * agent_run_keys no longer references agent_runs. Statement-level triggers on agent_runs do
--     what the foreign key's actions did: a deleted run (directly or cascaded from its agent or
--     user) deletes its key (→ its stages, and its calls' run_id set NULL through their foreign
--     key), and an UPDATE of started_at or external_id carries over to the key (→ stages follow).
--     What is given up is the check that every key has a run: keys are written only by the insert
--     trigger of agent_runs and by app.ingest_write_batch, which inserts the run in the same
--     statement that claims its key.
ALTER TABLE public.agent_run_keys DROP CONSTRAINT agent_run_keys_run_fk;
ALTER TABLE public.run_stages DROP CONSTRAINT run_stages_run_fk;

-- (workspace_id, run_id) is already unique; the stages' foreign key needs a unique key over exactly
-- the columns it references, started_at included so ON UPDATE CASCADE carries a new start.
ALTER TABLE public.agent_run_keys
    ADD CONSTRAINT agent_run_keys_run_start_key UNIQUE (workspace_id, run_id, started_at);
ALTER TABLE public.run_stages ADD CONSTRAINT run_stages_run_fk FOREIGN KEY (workspace_id, run_id, started_at)
    REFERENCES public.agent_run_keys (workspace_id, run_id, started_at) ON DELETE CASCADE ON UPDATE CASCADE;

-- An UPDATE of a run carries a new external_id or started_at over to its key.
CREATE OR REPLACE FUNCTION app.rename_updated_run_keys() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE public.agent_run_keys k SET external_id = n.external_id, started_at = n.started_at
      FROM old_runs o JOIN new_runs n ON n.workspace_id = o.workspace_id AND n.id = o.id
     WHERE (n.external_id <> o.external_id OR n.started_at <> o.started_at)
       AND k.workspace_id = o.workspace_id AND k.run_id = o.id;
    RETURN NULL;
END $$;

-- A deleted run's key goes with it (and through the keys' foreign keys its stages, and its calls'
-- run_id). Fires for cascaded deletes too: the cascade from agents/users deletes through the
-- partitioned parent.
CREATE FUNCTION app.unregister_deleted_runs() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM public.agent_run_keys k USING old_runs o
     WHERE k.workspace_id = o.workspace_id AND k.run_id = o.id;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION app.unregister_deleted_runs() FROM PUBLIC;
CREATE TRIGGER agent_runs_unregister_keys_on_delete
    AFTER DELETE ON public.agent_runs
    REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION app.unregister_deleted_runs();
