-- agent_run_keys is tenant data like its siblings: reference the workspace, so deleting a workspace
-- deletes its keys directly and `TRUNCATE public.workspaces CASCADE` (tests, wipes) empties the
-- registry too. Since 0120 the registry referenced nothing, and keys outlived a TRUNCATE of their
-- workspace (a later run with the same external id then clashed with the stale key). One
-- foreign-key check per new run, against a plain table.
ALTER TABLE public.agent_run_keys ADD CONSTRAINT agent_run_keys_workspace_fk
    FOREIGN KEY (workspace_id) REFERENCES public.workspaces (id) ON DELETE CASCADE;
