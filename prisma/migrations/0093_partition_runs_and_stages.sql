-- Monthly range partitioning of public.agent_runs and public.run_stages by started_at (UTC months),
-- like 0060 did for user_activity and llm_usage_logs, so all four raw tables are partitioned.
--
-- What stood in the way, and how each is handled:
--   * A unique constraint of a partitioned table must contain the partition key, so the run's
--     identity (workspace_id, external_id), which the ingest upserts by, cannot stay on agent_runs.
--     It moves to a small unpartitioned registry, public.agent_run_keys (workspace_id, external_id)
--     → (run_id, started_at). Every existing writer keeps its plain INSERT INTO public.agent_runs
--     (seed COPY, bench loaders, tests): a statement-level AFTER INSERT trigger registers the new
--     runs and raises unique_violation (23505) when an external_id already belongs to another run.
--     The ingest (0094) claims the key in the registry first, then inserts the run.
--   * Foreign keys must name the referenced table's whole unique key: run_stages references
--     (workspace_id, started_at, id) — a stage already carries its run's started_at (0001) — with
--     ON UPDATE CASCADE, so a run whose started_at changes moves its stages (PostgreSQL 15+ runs a
--     cross-partition UPDATE of a referenced table as one update at the root). The registry
--     references the run the same way (deleted with it, follows its started_at).
--   * llm_usage_logs.run_id referenced agent_runs (workspace_id, id), which is no longer unique on
--     its own: it now references the registry's UNIQUE (workspace_id, run_id) with ON DELETE SET
--     NULL (run_id). Deleting a run cascades to its registry row, which nulls its calls' run_id —
--     declaratively, no trigger, and a call can only name a run that exists. (A call does not carry
--     its run's started_at, so referencing the partitioned table itself would mean a new column in
--     every call row and in every writer.)
--
-- Same layout as 0060: partitions in schema raw_partitions (the app role cannot USE it), a default
-- partition as a safety net, partitions created ahead by app.ensure_partitions (now all four
-- tables), RLS re-created on the parents with the policy text of 0006.

-- ---------------------------------------------------------------------------------------------
-- Partition maintenance for any partition key (0060's version assumed created_at).
-- Same signature and result. New: a parent that foreign keys reference (agent_runs) cannot have
-- rows moved out of its default partition — a DELETE there fires the referencing keys' ON DELETE
-- actions (the stages and the registry row would go with it) and no deferral helps (the check is
-- made against the partition the row left). Such a month is skipped with a WARNING and its rows
-- stay, correct and readable, in the default partition. It only happens for rows more than
-- PARTITION_MONTHS_AHEAD months in the future (the ingest refuses anything over a day ahead) or for
-- a past month created by hand; docs/SCALING.md says how to move them.
CREATE OR REPLACE FUNCTION app.create_month_partition(p_parent regclass, p_month timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lo           timestamptz := date_trunc('month', p_month, 'UTC');
    hi           timestamptz := date_trunc('month', p_month, 'UTC') + interval '1 month';
    parent_name  text := (SELECT relname FROM pg_class WHERE oid = p_parent);
    part_name    text := parent_name || '_p' || to_char(date_trunc('month', p_month, 'UTC') AT TIME ZONE 'UTC', 'YYYY_MM');
    key_column   name;
    default_part regclass;
    default_rows boolean := false;
    cols         text;
BEGIN
    SELECT a.attname INTO key_column
      FROM pg_partitioned_table pt JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
     WHERE pt.partrelid = p_parent;
    IF key_column IS NULL THEN
        RAISE EXCEPTION '% is not a partitioned table', p_parent USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM app.time_partitions(p_parent) WHERE range_start = lo) THEN
        RETURN false;
    END IF;
    SELECT partition INTO default_part FROM app.time_partitions(p_parent) WHERE is_default;
    IF default_part IS NOT NULL THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= $1 AND %I < $2)', default_part, key_column, key_column)
            INTO default_rows USING lo, hi;
    END IF;
    IF default_rows AND EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND confrelid = p_parent) THEN
        RAISE WARNING 'month % of % not created: its default partition % holds rows of that month, which cannot be moved out while foreign keys reference %',
            to_char(lo AT TIME ZONE 'UTC', 'YYYY-MM'), p_parent, default_part, p_parent;
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE raw_partitions.%I (LIKE %s INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)',
                   part_name, p_parent);
    IF default_rows THEN
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute WHERE attrelid = p_parent AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
        EXECUTE format('WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING %s) '
                       'INSERT INTO raw_partitions.%I (%s) SELECT %s FROM moved',
                       default_part, key_column, key_column, cols, part_name, cols, cols)
            USING lo, hi;
    END IF;
    -- A matching CHECK lets ATTACH skip scanning the new table; the bound makes it redundant after.
    EXECUTE format('ALTER TABLE raw_partitions.%I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)',
                   part_name, part_name || '_range', key_column, lo, key_column, hi);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION raw_partitions.%I FOR VALUES FROM (%L) TO (%L)', p_parent, part_name, lo, hi);
    EXECUTE format('ALTER TABLE raw_partitions.%I DROP CONSTRAINT %I', part_name, part_name || '_range');
    RETURN true;
END $$;
REVOKE EXECUTE ON FUNCTION app.create_month_partition(regclass, timestamptz) FROM PUBLIC;

-- Same signature and result as 0060, for all four raw tables. Runs before stages (and both before
-- nothing else): a stage partition's ATTACH checks its foreign key against agent_runs.
CREATE OR REPLACE FUNCTION app.ensure_partitions(months_ahead integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Never queue behind a long query while holding a lock others then queue behind; retry next run.
SET lock_timeout = '10s'
AS $$
DECLARE
    parent  regclass;
    m       integer;
    created integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 24 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 24 (got %)', months_ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH parent IN ARRAY ARRAY['analytics.user_activity'::regclass, 'public.llm_usage_logs'::regclass,
                                  'public.agent_runs'::regclass, 'public.run_stages'::regclass] LOOP
        FOR m IN 0..months_ahead LOOP
            IF app.create_month_partition(parent, date_trunc('month', now(), 'UTC') + make_interval(months => m)) THEN
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;
REVOKE EXECUTE ON FUNCTION app.ensure_partitions(integer) FROM PUBLIC;

-- Partitions of p_new for every month from p_first (at most 36 months back; older rows land in the
-- default partition) to three months ahead.
CREATE FUNCTION pg_temp.create_months_from(p_new regclass, p_first timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    m timestamptz := date_trunc('month', greatest(least(coalesce(p_first, now()), now()), now() - interval '36 months'), 'UTC');
BEGIN
    WHILE m <= date_trunc('month', now(), 'UTC') + interval '3 months' LOOP
        PERFORM app.create_month_partition(p_new, m);
        m := m + interval '1 month';
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Objects that depend on the old tables: the two materialized views that read agent_runs (0005,
-- recreated unchanged at the end) and the calls' foreign key (replaced below).
DROP MATERIALIZED VIEW analytics.mv_top_agents;
DROP MATERIALIZED VIEW analytics.mv_workspace_summary;
ALTER TABLE public.llm_usage_logs DROP CONSTRAINT llm_usage_logs_run_fk;

ALTER TABLE public.run_stages RENAME TO run_stages_unpartitioned;
ALTER INDEX public.run_stages_pkey RENAME TO run_stages_unpartitioned_pkey;
ALTER TABLE public.agent_runs RENAME TO agent_runs_unpartitioned;
ALTER INDEX public.agent_runs_pkey RENAME TO agent_runs_unpartitioned_pkey;

-- ---------------------------------------------------------------------------------------------
-- public.agent_runs
CREATE TABLE public.agent_runs (
    workspace_id     uuid          NOT NULL,
    id               uuid          NOT NULL DEFAULT gen_random_uuid(),
    -- The platform's run id. Unique per workspace through public.agent_run_keys.
    external_id      text          NOT NULL,
    agent_id         uuid          NOT NULL,
    user_id          uuid          NOT NULL,
    status           text          NOT NULL,
    started_at       timestamptz   NOT NULL,
    finished_at      timestamptz,
    -- finished_at - started_at, kept as a column because every rollup and percentile reads it.
    runtime_seconds  numeric(12,3),
    credits_consumed numeric(15,4) NOT NULL DEFAULT 0,
    -- The run's main model (from its stages or calls); credits are broken down by it.
    model            text,
    error_type       text,
    error_message    text,
    rating           smallint,
    feedback         text,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    -- The one composite btree: uniqueness, every rollup's and metric's "one workspace, one time
    -- range" scan, and the target of the stages' and the registry's foreign keys.
    PRIMARY KEY (workspace_id, started_at, id),
    CONSTRAINT agent_runs_agent_fk FOREIGN KEY (workspace_id, agent_id)
        REFERENCES public.agents (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT agent_runs_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT agent_runs_status CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
    CONSTRAINT agent_runs_finished_after_start CHECK (finished_at IS NULL OR finished_at >= started_at),
    CONSTRAINT agent_runs_runtime_nonnegative CHECK (runtime_seconds IS NULL OR runtime_seconds >= 0),
    CONSTRAINT agent_runs_credits_nonnegative CHECK (credits_consumed >= 0),
    CONSTRAINT agent_runs_rating_range CHECK (rating IS NULL OR rating BETWEEN 1 AND 5)
) PARTITION BY RANGE (started_at);
-- Safety net for runs outside every monthly partition (a backfill older than the partitions).
CREATE TABLE raw_partitions.agent_runs_default PARTITION OF public.agent_runs DEFAULT;

SELECT pg_temp.create_months_from('public.agent_runs', (SELECT min(started_at) FROM public.agent_runs_unpartitioned));
INSERT INTO public.agent_runs (workspace_id, id, external_id, agent_id, user_id, status, started_at, finished_at,
                               runtime_seconds, credits_consumed, model, error_type, error_message, rating, feedback,
                               created_at, updated_at)
SELECT workspace_id, id, external_id, agent_id, user_id, status, started_at, finished_at,
       runtime_seconds, credits_consumed, model, error_type, error_message, rating, feedback, created_at, updated_at
  FROM public.agent_runs_unpartitioned;

-- ---------------------------------------------------------------------------------------------
-- public.run_stages
CREATE TABLE public.run_stages (
    workspace_id      uuid          NOT NULL,
    -- Kept (writers set it, readers may show it) but no longer a key: nothing references a stage
    -- by id, and the natural key below is what the ingest upserts by.
    id                uuid          NOT NULL DEFAULT gen_random_uuid(),
    run_id            uuid          NOT NULL,
    stage_index       integer       NOT NULL,
    name              text          NOT NULL,
    model             text,
    prompt_tokens     integer       NOT NULL DEFAULT 0,
    completion_tokens integer       NOT NULL DEFAULT 0,
    total_tokens      integer       GENERATED ALWAYS AS (prompt_tokens + completion_tokens) STORED,
    cost_usd          numeric(14,8),
    duration_ms       integer,
    status            text          NOT NULL DEFAULT 'completed',
    -- The run's start (the foreign key makes it equal), so a stage buckets and partitions with its run.
    started_at        timestamptz   NOT NULL,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    -- The one composite btree: the ingest's upsert key (a run's stage_index is unique because the
    -- run's started_at is fixed by the foreign key), every stage rollup's workspace + time-range
    -- scan, and the lookup of a run's stages by the foreign key's ON DELETE / ON UPDATE actions.
    PRIMARY KEY (workspace_id, started_at, run_id, stage_index),
    CONSTRAINT run_stages_status CHECK (status IN ('running', 'completed', 'failed', 'skipped')),
    CONSTRAINT run_stages_tokens_nonnegative CHECK (prompt_tokens >= 0 AND completion_tokens >= 0),
    CONSTRAINT run_stages_duration_nonnegative CHECK (duration_ms IS NULL OR duration_ms >= 0),
    CONSTRAINT run_stages_cost_nonnegative CHECK (cost_usd IS NULL OR cost_usd >= 0)
) PARTITION BY RANGE (started_at);
CREATE TABLE raw_partitions.run_stages_default PARTITION OF public.run_stages DEFAULT;

-- Stages take their run's started_at: 0001 only documented that they copy it, nothing enforced it,
-- and the new foreign key does (a stage whose copy drifted now buckets with its run, as intended).
SELECT pg_temp.create_months_from('public.run_stages', (SELECT min(started_at) FROM public.agent_runs_unpartitioned));
INSERT INTO public.run_stages (workspace_id, id, run_id, stage_index, name, model, prompt_tokens, completion_tokens,
                               cost_usd, duration_ms, status, started_at, created_at)
SELECT s.workspace_id, s.id, s.run_id, s.stage_index, s.name, s.model, s.prompt_tokens, s.completion_tokens,
       s.cost_usd, s.duration_ms, s.status, r.started_at, s.created_at
  FROM public.run_stages_unpartitioned s
  JOIN public.agent_runs_unpartitioned r ON r.workspace_id = s.workspace_id AND r.id = s.run_id;

-- ---------------------------------------------------------------------------------------------
-- public.agent_run_keys: one row per run, the run's identity.
CREATE TABLE public.agent_run_keys (
    workspace_id uuid        NOT NULL,
    external_id  text        NOT NULL,
    run_id       uuid        NOT NULL,
    -- The run's partition key, so a lookup by external id reaches the run by its primary key.
    started_at   timestamptz NOT NULL,
    -- The ingest's upsert key (0094) and every lookup by the platform's run id.
    PRIMARY KEY (workspace_id, external_id),
    -- Run ids stay unique per workspace (agent_runs' key also holds started_at); the target of
    -- llm_usage_logs' foreign key; the lookup of the foreign key's actions below.
    CONSTRAINT agent_run_keys_run_key UNIQUE (workspace_id, run_id),
    CONSTRAINT agent_run_keys_external_id_length CHECK (length(external_id) BETWEEN 1 AND 255)
);
INSERT INTO public.agent_run_keys (workspace_id, external_id, run_id, started_at)
SELECT workspace_id, external_id, id, started_at FROM public.agent_runs_unpartitioned;

DROP TABLE public.run_stages_unpartitioned;
DROP TABLE public.agent_runs_unpartitioned;

-- Foreign keys, added after the data so each is validated once, in one pass.
-- The registry row is deleted with its run and follows its started_at. Deferred: the ingest claims
-- a key before it inserts the run (so a concurrent batch with the same run waits instead of
-- failing); the check runs at commit. (Only the check is deferred: ON DELETE/UPDATE actions are
-- immediate.)
ALTER TABLE public.agent_run_keys ADD CONSTRAINT agent_run_keys_run_fk FOREIGN KEY (workspace_id, started_at, run_id)
    REFERENCES public.agent_runs (workspace_id, started_at, id) ON DELETE CASCADE ON UPDATE CASCADE
    DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE public.run_stages ADD CONSTRAINT run_stages_run_fk FOREIGN KEY (workspace_id, started_at, run_id)
    REFERENCES public.agent_runs (workspace_id, started_at, id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE public.llm_usage_logs ADD CONSTRAINT llm_usage_logs_run_fk FOREIGN KEY (workspace_id, run_id)
    REFERENCES public.agent_run_keys (workspace_id, run_id) ON DELETE SET NULL (run_id);

-- ---------------------------------------------------------------------------------------------
-- Indexes beyond the primary keys, each for a reader that has no time bound.
-- BRIN on time: the platform-wide rollup step (0021 compute_period_metrics with no workspace) and
-- the materialized views scan runs by started_at alone; a few pages per partition.
CREATE INDEX idx_agent_runs_started_brin ON public.agent_runs USING brin (started_at);
-- Runs by id without their started_at: the stage rollup joins stages to runs on (workspace_id, id)
-- (0029 rollup_stage_dimensions) and the linked-user RLS path of 0006 did too. Droppable once
-- every such join also matches started_at (then the primary key serves it).
CREATE INDEX idx_agent_runs_id ON public.agent_runs (workspace_id, id);
-- Stages of a run without its started_at: the agent-performance rollup sums a run's stage tokens
-- (0021 rollup_agent_performance joins stages to runs on run_id). Same note as above.
CREATE INDEX idx_run_stages_run ON public.run_stages (workspace_id, run_id);
-- Not recreated: agent_runs (workspace_id, started_at) (the primary key's prefix),
-- (workspace_id, agent_id, started_at), (workspace_id, user_id, started_at) and the partial
-- (workspace_id, started_at) WHERE status = 'running' — no rollup, metric, alert or page reads raw
-- runs by agent, by user or by status without the workspace + time range the primary key serves
-- (pages read rollups; "My usage" reads run_user_daily). Cost: deleting one agent or tracked user
-- cascades through the primary key's workspace prefix (rare, admin-only). run_stages
-- (workspace_id, started_at) is the primary key's prefix; BRIN on stages has no reader (no stage
-- query runs without a workspace).

-- ---------------------------------------------------------------------------------------------
-- Row-level security: the policy text of 0006; the stages' linked-user path also matches the
-- run's started_at so it reaches the run through its primary key in one partition.
ALTER TABLE public.agent_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.agent_runs FORCE ROW LEVEL SECURITY;
ALTER TABLE public.run_stages ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.run_stages FORCE ROW LEVEL SECURITY;
ALTER TABLE public.agent_run_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.agent_run_keys FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.agent_runs, public.run_stages, public.agent_run_keys TO pulseboard_app;

CREATE POLICY agent_runs_read ON public.agent_runs FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR user_id = ANY (SELECT app.linked_user_ids()));
CREATE POLICY agent_runs_ingest_insert ON public.agent_runs FOR INSERT
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY agent_runs_ingest_update ON public.agent_runs FOR UPDATE
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

CREATE POLICY run_stages_read ON public.run_stages FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR EXISTS (SELECT 1 FROM public.agent_runs r
                   WHERE r.workspace_id = run_stages.workspace_id AND r.started_at = run_stages.started_at
                     AND r.id = run_stages.run_id
                     AND r.user_id = ANY (SELECT app.linked_user_ids())));
CREATE POLICY run_stages_ingest_insert ON public.run_stages FOR INSERT
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY run_stages_ingest_update ON public.run_stages FOR UPDATE
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

-- The registry is the ingest's business (and members', like the runs it names).
CREATE POLICY agent_run_keys_read ON public.agent_run_keys FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY agent_run_keys_ingest_insert ON public.agent_run_keys FOR INSERT
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY agent_run_keys_ingest_update ON public.agent_run_keys FOR UPDATE
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

-- ---------------------------------------------------------------------------------------------
-- Triggers. All statement-level with transition tables (allowed on a partitioned table, and they
-- see rows of every partition, including rows an UPDATE moved between partitions): a batch of
-- 10,000 runs costs one statement each, not 10,000.

-- 0020's trigger, recreated on the new table: an update re-marks the hours of the old and new start.
CREATE TRIGGER agent_runs_mark_dirty_on_update
    AFTER UPDATE ON public.agent_runs
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.mark_updated_runs_dirty();

-- Registers inserted runs in agent_run_keys. A key the ingest already claimed for the same run is
-- left as is; a key that belongs to another run (or two new runs with one external id) is the
-- unique violation the old UNIQUE (workspace_id, external_id) raised, with the same SQLSTATE.
-- SECURITY DEFINER: it must see every registered key of the workspace, whatever the caller's RLS
-- context; it only writes keys of rows the caller was just allowed to insert.
CREATE FUNCTION app.register_inserted_runs() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    clash record;
BEGIN
    INSERT INTO public.agent_run_keys (workspace_id, external_id, run_id, started_at)
    SELECT workspace_id, external_id, id, started_at FROM new_runs
     ORDER BY workspace_id, external_id
    ON CONFLICT (workspace_id, external_id) DO NOTHING;
    SELECT n.workspace_id, n.external_id, n.id AS new_run, k.run_id AS registered_run INTO clash
      FROM new_runs n
      JOIN public.agent_run_keys k ON k.workspace_id = n.workspace_id AND k.external_id = n.external_id
     WHERE k.run_id <> n.id
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'duplicate run: external_id "%" already belongs to run % in workspace %',
                clash.external_id, clash.registered_run, clash.workspace_id
            USING ERRCODE = 'unique_violation', SCHEMA = 'public', TABLE = 'agent_runs',
                  CONSTRAINT = 'agent_run_keys_pkey',
                  HINT = 'Update the existing run (its id is in public.agent_run_keys) instead of inserting another.';
    END IF;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION app.register_inserted_runs() FROM PUBLIC;
CREATE TRIGGER agent_runs_register_keys_on_insert
    AFTER INSERT ON public.agent_runs
    REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION app.register_inserted_runs();

-- An UPDATE that changes a run's external_id renames its key (a clash raises the registry's own
-- unique violation). started_at changes follow through the foreign key's ON UPDATE CASCADE.
CREATE FUNCTION app.rename_updated_run_keys() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE public.agent_run_keys k SET external_id = n.external_id
      FROM old_runs o JOIN new_runs n ON n.workspace_id = o.workspace_id AND n.id = o.id
     WHERE n.external_id <> o.external_id
       AND k.workspace_id = o.workspace_id AND k.external_id = o.external_id AND k.run_id = o.id;
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION app.rename_updated_run_keys() FROM PUBLIC;
CREATE TRIGGER agent_runs_rename_keys_on_update
    AFTER UPDATE ON public.agent_runs
    REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION app.rename_updated_run_keys();

-- ---------------------------------------------------------------------------------------------
-- The materialized views of 0005, unchanged, with their indexes and 0007's revoke.
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
CREATE UNIQUE INDEX idx_mv_top_agents ON analytics.mv_top_agents (workspace_id, agent_id);
CREATE INDEX idx_mv_top_agents_workspace ON analytics.mv_top_agents (workspace_id, total_runs_30d DESC);

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
CREATE UNIQUE INDEX idx_mv_workspace_summary ON analytics.mv_workspace_summary (workspace_id);

REVOKE ALL ON analytics.mv_top_agents, analytics.mv_workspace_summary FROM pulseboard_app;

ANALYZE public.agent_runs, public.run_stages, public.agent_run_keys;
