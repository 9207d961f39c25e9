-- Which (workspace, hour) periods changed since the rollup engine last looked. Ingest (and anything
-- else that writes raw rows) upserts here in the same transaction as the raw rows; the rollup job
-- claims rows with FOR UPDATE SKIP LOCKED, recomputes those periods, and deletes what it claimed.
-- `hour` is a UTC hour start; the engine maps it to the workspace's local day itself.
CREATE TABLE analytics.rollup_dirty_hours (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    hour         timestamptz NOT NULL,
    marked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, hour),
    CONSTRAINT rollup_dirty_hours_is_hour CHECK (hour = date_trunc('hour', hour, 'UTC'))
);
