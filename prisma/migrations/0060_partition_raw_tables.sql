-- Monthly range partitioning of the two leaf raw tables no foreign key references:
-- analytics.user_activity and public.llm_usage_logs, both by created_at (UTC months).
-- Why: retention drops a whole month (a catalog operation, no dead tuples, no vacuum debt) instead
-- of deleting millions of rows; ingest appends to one small hot partition whose indexes stay in
-- memory; rollups' time-range scans are pruned to the partitions of the range.
-- agent_runs and run_stages are not partitioned yet (they are referenced by foreign keys and
-- upserted by (workspace_id, external_id)): see docs/SCALING.md.
--
-- Partitions live in their own schema `raw_partitions`, which the app role cannot even USE: the app
-- reaches rows only through the parent (where RLS is forced), never a partition directly.
-- Primary keys gain the partition key (a unique constraint on a partitioned table must contain it):
-- (workspace_id, created_at, id). Nothing upserts these rows by id (the ingest writes them with a
-- plain INSERT after deduplicating by client event id in ingest_events), so no caller changes.

CREATE SCHEMA raw_partitions;
REVOKE ALL ON SCHEMA raw_partitions FROM PUBLIC;

-- The partitions of a partitioned table with their bounds (NULL bounds for the default partition).
-- pg_get_expr prints the bounds with their UTC offset, so the cast back is exact in any TimeZone.
CREATE FUNCTION app.time_partitions(p_parent regclass)
RETURNS TABLE (partition regclass, range_start timestamptz, range_end timestamptz, is_default boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid::regclass,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz,
           pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = p_parent
$$;
REVOKE EXECUTE ON FUNCTION app.time_partitions(regclass) FROM PUBLIC;

-- Creates the partition of p_parent for the UTC month starting at p_month (no-op if it exists) and
-- returns whether it created one. Built as a plain table and ATTACHed, which locks the parent only
-- SHARE UPDATE EXCLUSIVE (reads and ingest continue). Rows the default partition caught for that
-- month (maintenance ran late) are moved into the new partition first, so the attach succeeds.
CREATE FUNCTION app.create_month_partition(p_parent regclass, p_month timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lo           timestamptz := date_trunc('month', p_month, 'UTC');
    hi           timestamptz := date_trunc('month', p_month, 'UTC') + interval '1 month';
    parent_name  text := (SELECT relname FROM pg_class WHERE oid = p_parent);
    part_name    text := parent_name || '_p' || to_char(date_trunc('month', p_month, 'UTC') AT TIME ZONE 'UTC', 'YYYY_MM');
    default_part regclass;
    cols         text;
BEGIN
    IF EXISTS (SELECT 1 FROM app.time_partitions(p_parent) WHERE range_start = lo) THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE raw_partitions.%I (LIKE %s INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)',
                   part_name, p_parent);
    SELECT partition INTO default_part FROM app.time_partitions(p_parent) WHERE is_default;
    IF default_part IS NOT NULL THEN
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute WHERE attrelid = p_parent AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
        EXECUTE format('WITH moved AS (DELETE FROM %s WHERE created_at >= $1 AND created_at < $2 RETURNING %s) '
                       'INSERT INTO raw_partitions.%I (%s) SELECT %s FROM moved', default_part, cols, part_name, cols, cols)
            USING lo, hi;
    END IF;
    -- A matching CHECK lets ATTACH skip scanning the new table; the bound makes it redundant after.
    EXECUTE format('ALTER TABLE raw_partitions.%I ADD CONSTRAINT %I CHECK (created_at >= %L AND created_at < %L)',
                   part_name, part_name || '_range', lo, hi);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION raw_partitions.%I FOR VALUES FROM (%L) TO (%L)', p_parent, part_name, lo, hi);
    EXECUTE format('ALTER TABLE raw_partitions.%I DROP CONSTRAINT %I', part_name, part_name || '_range');
    RETURN true;
END $$;
REVOKE EXECUTE ON FUNCTION app.create_month_partition(regclass, timestamptz) FROM PUBLIC;

-- Creates the partitions of the current UTC month and the next `months_ahead` months of every
-- time-partitioned raw table; returns how many it created. The worker calls it daily
-- (partitions-maintain job), so a month exists weeks before its first event arrives.
CREATE FUNCTION app.ensure_partitions(months_ahead integer)
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
    FOREACH parent IN ARRAY ARRAY['analytics.user_activity'::regclass, 'public.llm_usage_logs'::regclass] LOOP
        FOR m IN 0..months_ahead LOOP
            IF app.create_month_partition(parent, date_trunc('month', now(), 'UTC') + make_interval(months => m)) THEN
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;
REVOKE EXECUTE ON FUNCTION app.ensure_partitions(integer) FROM PUBLIC;

-- Moves p_old's rows into the partitioned p_new: partitions for every month with data (at most
-- the last 36 months; older rows land in the default partition) plus the current month and 3 ahead.
CREATE FUNCTION pg_temp.partition_from(p_old regclass, p_new regclass)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    first_month timestamptz;
    m           timestamptz;
    cols        text;
BEGIN
    EXECUTE format('SELECT date_trunc(''month'', min(created_at), ''UTC'') FROM %s', p_old) INTO first_month;
    first_month := greatest(least(coalesce(first_month, now()), now()), now() - interval '36 months');
    m := date_trunc('month', first_month, 'UTC');
    WHILE m <= date_trunc('month', now(), 'UTC') + interval '3 months' LOOP
        PERFORM app.create_month_partition(p_new, m);
        m := m + interval '1 month';
    END LOOP;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
      FROM pg_attribute WHERE attrelid = p_new AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
    EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM %s', p_new, cols, cols, p_old);
END $$;

-- ---------------------------------------------------------------------------------------------
-- analytics.user_activity
ALTER TABLE analytics.user_activity RENAME TO user_activity_unpartitioned;
ALTER INDEX analytics.user_activity_pkey RENAME TO user_activity_unpartitioned_pkey;

CREATE TABLE analytics.user_activity (
    workspace_id uuid         NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id           uuid         NOT NULL DEFAULT gen_random_uuid(),
    user_id      uuid         NOT NULL,
    event_type   varchar(50)  NOT NULL,
    event_name   varchar(100),
    page_path    varchar(255),
    session_id   uuid,
    ip_address   inet,
    user_agent   text,
    referrer     text,
    metadata     jsonb        NOT NULL DEFAULT '{}',
    created_at   timestamptz  NOT NULL DEFAULT now(),
    -- The one composite btree: uniqueness, and every rollup's "one workspace, one time range" scan.
    PRIMARY KEY (workspace_id, created_at, id),
    CONSTRAINT user_activity_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT valid_event_type CHECK (event_type IN (
        'page_view', 'agent_run', 'login', 'logout', 'workspace_switch',
        'feature_use', 'error', 'api_call', 'export', 'report_view')),
    CONSTRAINT user_activity_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
) PARTITION BY RANGE (created_at);
-- Safety net: an event outside every monthly partition (a backfill older than the partitions, or
-- maintenance that ran late) is still stored; app.create_month_partition moves such rows out.
CREATE TABLE raw_partitions.user_activity_default PARTITION OF analytics.user_activity DEFAULT;

SELECT pg_temp.partition_from('analytics.user_activity_unpartitioned', 'analytics.user_activity');
DROP TABLE analytics.user_activity_unpartitioned;

-- BRIN on time: platform-wide hour scans (the rollup's platform step) and retention's boundary
-- delete skip old blocks; a few pages per partition.
CREATE INDEX idx_user_activity_created_at_brin ON analytics.user_activity USING brin (created_at);
-- Dropped with the old table, not recreated: (workspace_id, created_at DESC) is the primary key's
-- prefix; (workspace_id, user_id, created_at), (workspace_id, event_type, created_at),
-- (workspace_id, session_id) and the metadata GIN served raw-event reads that no page makes (pages
-- read rollups) and cost every ingested event four index insertions. A user's delete cascades
-- through the primary key's workspace prefix (rare, admin-only).

ALTER TABLE analytics.user_activity ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.user_activity FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.user_activity TO pulseboard_app;
CREATE POLICY user_activity_read ON analytics.user_activity FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY user_activity_ingest_insert ON analytics.user_activity FOR INSERT
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY user_activity_ingest_update ON analytics.user_activity FOR UPDATE
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

-- ---------------------------------------------------------------------------------------------
-- public.llm_usage_logs
ALTER TABLE public.llm_usage_logs RENAME TO llm_usage_logs_unpartitioned;
ALTER INDEX public.llm_usage_logs_pkey RENAME TO llm_usage_logs_unpartitioned_pkey;

CREATE TABLE public.llm_usage_logs (
    workspace_id           uuid          NOT NULL,
    id                     uuid          NOT NULL DEFAULT gen_random_uuid(),
    run_id                 uuid,
    agent_id               uuid,
    user_id                uuid          NOT NULL,
    provider               text          NOT NULL,
    model                  text          NOT NULL,
    prompt_tokens          integer       NOT NULL,
    completion_tokens      integer       NOT NULL,
    total_tokens           integer       GENERATED ALWAYS AS (prompt_tokens + completion_tokens) STORED,
    -- NULL cost means "unpriced" (no price known for the model): never silently $0.
    input_cost_usd         numeric(14,8),
    output_cost_usd        numeric(14,8),
    total_cost_usd         numeric(14,8),
    cost_source            text          NOT NULL DEFAULT 'unpriced',
    latency_ms             integer       NOT NULL,
    time_to_first_token_ms integer,
    finish_reason          text,
    success                boolean       NOT NULL DEFAULT true,
    error_type             text,
    -- Off by default (privacy); only stored when the workspace opts in.
    prompt_text            text,
    completion_text        text,
    created_at             timestamptz   NOT NULL,
    ingested_at            timestamptz   NOT NULL DEFAULT now(),
    -- The one composite btree: uniqueness, every rollup's workspace + time-range scan, re-pricing.
    PRIMARY KEY (workspace_id, created_at, id),
    CONSTRAINT llm_usage_logs_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT llm_usage_logs_agent_fk FOREIGN KEY (workspace_id, agent_id)
        REFERENCES public.agents (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT llm_usage_logs_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES public.agent_runs (workspace_id, id) ON DELETE SET NULL (run_id),
    CONSTRAINT llm_usage_logs_cost_source CHECK (cost_source IN ('reported', 'price_table', 'unpriced')),
    CONSTRAINT llm_usage_logs_cost_matches_source CHECK ((cost_source = 'unpriced') = (total_cost_usd IS NULL)),
    CONSTRAINT llm_usage_logs_tokens_nonnegative CHECK (prompt_tokens >= 0 AND completion_tokens >= 0),
    CONSTRAINT llm_usage_logs_latency_nonnegative CHECK (latency_ms >= 0 AND (time_to_first_token_ms IS NULL OR time_to_first_token_ms >= 0))
) PARTITION BY RANGE (created_at);
CREATE TABLE raw_partitions.llm_usage_logs_default PARTITION OF public.llm_usage_logs DEFAULT;

SELECT pg_temp.partition_from('public.llm_usage_logs_unpartitioned', 'public.llm_usage_logs');
DROP TABLE public.llm_usage_logs_unpartitioned;

-- BRIN on time: platform-wide scans and time-bounded maintenance skip old blocks.
CREATE INDEX idx_llm_usage_logs_created_brin ON public.llm_usage_logs USING brin (created_at);
-- Calls of a run, which has no time bound: the agent-performance rollup sums a run's call tokens,
-- and deleting a run sets run_id NULL in its calls (the foreign key's ON DELETE SET NULL).
CREATE INDEX idx_llm_usage_logs_run ON public.llm_usage_logs (workspace_id, run_id) WHERE run_id IS NOT NULL;
-- Not recreated: (workspace_id, created_at) is the primary key's prefix; (workspace_id, user_id,
-- created_at) served per-user raw reads that now come from rollups (user_token_usage,
-- llm_usage_user_daily).

ALTER TABLE public.llm_usage_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.llm_usage_logs FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.llm_usage_logs TO pulseboard_app;
CREATE POLICY llm_usage_logs_read ON public.llm_usage_logs FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR user_id = ANY (SELECT app.linked_user_ids()));
CREATE POLICY llm_usage_logs_ingest_insert ON public.llm_usage_logs FOR INSERT
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY llm_usage_logs_ingest_update ON public.llm_usage_logs FOR UPDATE
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

ANALYZE analytics.user_activity, public.llm_usage_logs;

-- ---------------------------------------------------------------------------------------------
-- Retention (same signature and result as 0004): whole monthly partitions entirely older than the
-- window are dropped (a catalog operation: no row-by-row delete, no dead tuples); rows are deleted
-- only from the partially expired boundary partition and from the default partition. The count
-- of a dropped partition is taken just before dropping it, so the result still says how many
-- events went.
CREATE OR REPLACE FUNCTION analytics.cleanup_old_data(raw_activity_days integer DEFAULT 90, hourly_days integer DEFAULT 30)
    RETURNS TABLE (user_activity_deleted bigint, hourly_metrics_deleted bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET lock_timeout = '10s'
AS $$
DECLARE
    activity_cutoff timestamptz;
    activity_count  bigint := 0;
    partition_rows  bigint;
    hourly_count    bigint;
    expired         record;
BEGIN
    IF raw_activity_days IS NULL OR raw_activity_days < 1 OR hourly_days IS NULL OR hourly_days < 1 THEN
        RAISE EXCEPTION 'retention days must be at least 1 (got raw_activity_days=%, hourly_days=%)',
            raw_activity_days, hourly_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    activity_cutoff := now() - make_interval(days => raw_activity_days);
    FOR expired IN
        SELECT partition FROM app.time_partitions('analytics.user_activity') WHERE NOT is_default AND range_end <= activity_cutoff
    LOOP
        EXECUTE format('SELECT count(*) FROM %s', expired.partition) INTO partition_rows;
        EXECUTE format('DROP TABLE %s', expired.partition);
        activity_count := activity_count + partition_rows;
    END LOOP;
    -- Pruned to the boundary partition and the default partition.
    DELETE FROM analytics.user_activity WHERE created_at < activity_cutoff;
    GET DIAGNOSTICS partition_rows = ROW_COUNT;
    activity_count := activity_count + partition_rows;
    DELETE FROM analytics.hourly_metrics WHERE metric_hour < now() - make_interval(days => hourly_days);
    GET DIAGNOSTICS hourly_count = ROW_COUNT;
    RETURN QUERY SELECT activity_count, hourly_count;
END $$;
