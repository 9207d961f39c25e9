-- A model call may arrive before the run it belongs to. Until now its run_id stayed NULL for ever:
-- the batch API accepted `runId` of an unknown run silently, and OTLP exporters (a batch span
-- processor exports each span when it ends) routinely send a model call's span in an earlier
-- request than its longer agent span. Now such a call keeps the run's external id in
-- pending_run_external_id, and the batch that creates that run links it (run_id, and agent_id if
-- the call had none) and re-marks the call's hour dirty. A call whose run never arrives simply
-- keeps no run, as before.
-- Storage: the column is NULL for every call whose run was known (nearly all), which costs nothing
-- in a heap tuple; the partial index holds only the waiting calls.
ALTER TABLE public.llm_usage_logs ADD COLUMN pending_run_external_id text;
ALTER TABLE public.llm_usage_logs ADD CONSTRAINT llm_usage_logs_pending_run_length
    CHECK (pending_run_external_id IS NULL OR length(pending_run_external_id) BETWEEN 1 AND 255);
CREATE INDEX idx_llm_usage_logs_pending_run ON public.llm_usage_logs (workspace_id, pending_run_external_id)
    WHERE pending_run_external_id IS NOT NULL;

-- app.ingest_write_batch as in 0094, plus:
--   * pending calls (above): a call stores the run it names when that run is unknown; the batch
--     that creates the run links its waiting calls — behind an existence probe of the partial
--     index, because the UPDATE's cached generic plan cost ~19 ms per batch while linking nothing;
--   * existing runs are updated by primary-key values resolved through agent_run_keys first, so a
--     planner working from stale statistics (every new workspace until its next ANALYZE) cannot
--     hash all of the workspace's runs and compare each with the batch (130–210 ms per 100
--     finishes measured with the join form of 0094);
--   * users and agents the batch names are probed before INSERT … ON CONFLICT DO NOTHING
--     (1,000 existing users: 3.7–4.3 ms → 1.35–1.5 ms);
--   * the LLM call's run lookup (registry joined to agent_runs) carries LIMIT 1: without it the
--     planner flattened the subquery and, for a workspace new at the last ANALYZE, re-joined all
--     of its run keys with their runs for every call before filtering on the external id. The
--     medium bench found it: 2,601 keys × 500 calls, 4 s per batch, which Prisma's transaction
--     limit turned into 503s.
-- (Written during session 2 as five successive migrations, folded into this one before landing.)
CREATE OR REPLACE FUNCTION app.ingest_write_batch(
    p_workspace_id uuid,
    p_users        jsonb,  -- [{external_id, email, first_seen}]
    p_agents       jsonb,  -- [{external_id, name}]
    p_runs         jsonb,  -- [{run_id, agent_ext, user_ext, status, started_at, finished_at, credits, model, error_type, error_message, rating}]
    p_stages       jsonb,  -- [{run_ext, stage_index, name, model, prompt_tokens, completion_tokens, cost_usd, duration_ms, status}]
    p_calls        jsonb,  -- [{run_ext, agent_ext, user_ext, provider, model, prompt_tokens, completion_tokens, cost, latency_ms, ttft_ms, finish_reason, success, error_type, created_at}]
    p_activities   jsonb,  -- [{user_ext, event_type, event_name, page_path, session_id, ip_address, user_agent, referrer, metadata, created_at}]
    p_link_users   text[]  -- external ids of users that carried an e-mail
) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    touched      timestamptz[] := '{}';
    inserted_ids text[] := '{}';
    existing_ids    uuid[];
    existing_starts timestamptz[];
BEGIN
    -- Users: insert the missing ones; update only rows whose e-mail changed (an ON CONFLICT DO
    -- UPDATE would lock every row of the batch).
    INSERT INTO public.users (workspace_id, external_id, email, created_at)
    SELECT p_workspace_id, u.external_id, u.email, u.first_seen
      FROM jsonb_to_recordset(p_users) AS u(external_id text, email text, first_seen timestamptz)
     -- Nearly every user of a batch exists already: an index probe is cheaper than the insert path
     -- (tuple, RLS check, constraints, then the conflict). ON CONFLICT stays for concurrent batches.
     WHERE NOT EXISTS (SELECT 1 FROM public.users x
                        WHERE x.workspace_id = p_workspace_id AND x.external_id = u.external_id)
     ORDER BY u.external_id
    ON CONFLICT (workspace_id, external_id) DO NOTHING;
    IF cardinality(p_link_users) > 0 THEN
        UPDATE public.users t SET email = u.email, created_at = least(t.created_at, u.first_seen), updated_at = now()
          FROM jsonb_to_recordset(p_users) AS u(external_id text, email text, first_seen timestamptz)
         WHERE t.workspace_id = p_workspace_id AND t.external_id = u.external_id
           AND u.email IS NOT NULL AND t.email IS DISTINCT FROM u.email;
    END IF;

    IF jsonb_array_length(p_agents) > 0 THEN
        INSERT INTO public.agents (workspace_id, external_id, name)
        SELECT p_workspace_id, a.external_id, coalesce(a.name, a.external_id)
          FROM jsonb_to_recordset(p_agents) AS a(external_id text, name text)
         WHERE NOT EXISTS (SELECT 1 FROM public.agents x
                            WHERE x.workspace_id = p_workspace_id AND x.external_id = a.external_id)
         ORDER BY a.external_id
        ON CONFLICT (workspace_id, external_id) DO NOTHING;
        UPDATE public.agents t SET name = a.name, updated_at = now()
          FROM jsonb_to_recordset(p_agents) AS a(external_id text, name text)
         WHERE t.workspace_id = p_workspace_id AND t.external_id = a.external_id
           AND a.name IS NOT NULL AND t.name <> a.name;
    END IF;

    IF jsonb_array_length(p_runs) > 0 THEN
        -- New runs: claim each run's key in the registry first (ON CONFLICT DO NOTHING waits for a
        -- concurrent batch claiming the same run to commit, then skips it, so the run is stored
        -- once and the UPDATE below — a new statement, a new snapshot — sees it), then insert the
        -- runs whose key this batch claimed, with the claimed id. The insert trigger finds the keys
        -- already registered for these very runs; the registry's deferred foreign key is checked
        -- at commit.
        WITH batch AS (
            SELECT DISTINCT ON (i.run_id) i.*, a.id AS agent_id, u.id AS user_id
              FROM jsonb_to_recordset(p_runs) AS i(run_id text, agent_ext text, user_ext text, status text,
                       started_at timestamptz, finished_at timestamptz, credits numeric, model text,
                       error_type text, error_message text, rating smallint)
              JOIN LATERAL (SELECT a.id FROM public.agents a
                             WHERE a.workspace_id = p_workspace_id AND a.external_id = i.agent_ext) a ON true
              JOIN LATERAL (SELECT u.id FROM public.users u
                             WHERE u.workspace_id = p_workspace_id AND u.external_id = i.user_ext) u ON true
             ORDER BY i.run_id
        ), claimed AS (
            INSERT INTO public.agent_run_keys (workspace_id, external_id, run_id, started_at)
            SELECT p_workspace_id, b.run_id, gen_random_uuid(), b.started_at FROM batch b ORDER BY b.run_id
            ON CONFLICT (workspace_id, external_id) DO NOTHING
            RETURNING external_id, run_id
        ), ins AS (
            INSERT INTO public.agent_runs (workspace_id, id, external_id, agent_id, user_id, status, started_at, finished_at,
                                           runtime_seconds, credits_consumed, model, error_type, error_message, rating)
            SELECT p_workspace_id, c.run_id, b.run_id, b.agent_id, b.user_id, b.status, b.started_at, b.finished_at,
                   round(extract(epoch FROM b.finished_at - b.started_at), 3), coalesce(b.credits, 0), b.model,
                   b.error_type, b.error_message, b.rating
              FROM claimed c JOIN batch b ON b.run_id = c.external_id
            RETURNING external_id, started_at, finished_at)
        SELECT coalesce(array_agg(external_id), '{}'),
               touched || coalesce(array_agg(started_at), '{}') || coalesce(array_agg(finished_at) FILTER (WHERE finished_at IS NOT NULL), '{}')
          INTO inserted_ids, touched
          FROM ins;

        -- Calls that named one of these runs before it existed (an OTLP exporter sends a model
        -- call's span as soon as it ends, usually before its agent span) get their run now, and
        -- their agent if they had none; their hours are re-marked so the rollups see the link.
        -- Guarded by a probe of the partial index: nearly always nothing waits, and the UPDATE's cached
        -- generic plan (a join over the registry and the runs) costs far more than the probe.
        IF cardinality(inserted_ids) > 0
           AND EXISTS (SELECT 1 FROM public.llm_usage_logs w
                        WHERE w.workspace_id = p_workspace_id AND w.pending_run_external_id = ANY (inserted_ids)) THEN
            WITH linked AS (
                UPDATE public.llm_usage_logs l SET
                       run_id = k.run_id,
                       agent_id = coalesce(l.agent_id, r.agent_id),
                       pending_run_external_id = NULL
                  FROM public.agent_run_keys k
                  JOIN public.agent_runs r ON r.workspace_id = k.workspace_id
                                          AND r.started_at = k.started_at AND r.id = k.run_id
                 WHERE l.workspace_id = p_workspace_id
                   AND l.pending_run_external_id = ANY (inserted_ids)
                   AND k.workspace_id = p_workspace_id AND k.external_id = l.pending_run_external_id
                RETURNING l.created_at)
            SELECT touched || coalesce(array_agg(DISTINCT date_trunc('hour', created_at, 'UTC')), '{}')
              INTO touched FROM linked;
        END IF;

        -- Existing runs: a final status and its finish time stay; other details are filled in. The
        -- run's own started_at is kept, so its hour (possibly long ago) is what gets marked dirty.
        -- The registry gives each run's started_at, so the run is reached by its primary key in one
        -- partition.
        -- The batch's existing runs are resolved through the registry first, one index probe each,
        -- and the UPDATE then names them by primary key values (started_at, id): its plan cannot
        -- degrade into hashing the workspace's whole run history when the statistics are stale
        -- (a new workspace; measured 130–210 ms per 100 finishes before, see docs/notes/scale.md).
        SELECT coalesce(array_agg(k.run_id), '{}'), coalesce(array_agg(k.started_at), '{}')
          INTO existing_ids, existing_starts
          FROM jsonb_to_recordset(p_runs) AS i(run_id text)
          JOIN LATERAL (SELECT k.run_id, k.started_at FROM public.agent_run_keys k
                         WHERE k.workspace_id = p_workspace_id AND k.external_id = i.run_id) k ON true
         WHERE NOT (i.run_id = ANY (inserted_ids));

        WITH upd AS (
            UPDATE public.agent_runs r SET
                   status = CASE WHEN r.status = 'running' THEN i.status ELSE r.status END,
                   finished_at = CASE WHEN r.status = 'running' THEN i.finished_at ELSE r.finished_at END,
                   runtime_seconds = CASE WHEN r.status = 'running'
                                          THEN round(extract(epoch FROM i.finished_at - r.started_at), 3)
                                          ELSE r.runtime_seconds END,
                   credits_consumed = coalesce(i.credits, r.credits_consumed),
                   model = coalesce(i.model, r.model),
                   error_type = coalesce(i.error_type, r.error_type),
                   error_message = coalesce(i.error_message, r.error_message),
                   rating = coalesce(i.rating, r.rating),
                   updated_at = now()
              FROM jsonb_to_recordset(p_runs) AS i(run_id text, status text, finished_at timestamptz, credits numeric,
                       model text, error_type text, error_message text, rating smallint)
             WHERE r.workspace_id = p_workspace_id
               AND r.started_at = ANY (existing_starts) AND r.id = ANY (existing_ids)
               AND r.external_id = i.run_id
            RETURNING r.started_at, r.finished_at)
        SELECT touched || coalesce(array_agg(started_at), '{}') || coalesce(array_agg(finished_at) FILTER (WHERE finished_at IS NOT NULL), '{}')
          INTO touched
          FROM upd;

        IF jsonb_array_length(p_stages) > 0 THEN
            -- The run's id and started_at come from the registry; (workspace_id, started_at, run_id,
            -- stage_index) is run_stages' primary key.
            INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, model, prompt_tokens, completion_tokens,
                                           cost_usd, duration_ms, status, started_at)
            SELECT p_workspace_id, k.run_id, s.stage_index, s.name, s.model, coalesce(s.prompt_tokens, 0),
                   coalesce(s.completion_tokens, 0), s.cost_usd, s.duration_ms, coalesce(s.status, 'completed'), k.started_at
              FROM jsonb_to_recordset(p_stages) AS s(run_ext text, stage_index integer, name text, model text,
                       prompt_tokens integer, completion_tokens integer, cost_usd numeric, duration_ms integer, status text)
              JOIN LATERAL (SELECT k.run_id, k.started_at FROM public.agent_run_keys k
                             WHERE k.workspace_id = p_workspace_id AND k.external_id = s.run_ext) k ON true
             ORDER BY k.run_id, s.stage_index
            ON CONFLICT (workspace_id, started_at, run_id, stage_index) DO UPDATE SET
                   name = EXCLUDED.name, model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
                   completion_tokens = EXCLUDED.completion_tokens, cost_usd = EXCLUDED.cost_usd,
                   duration_ms = EXCLUDED.duration_ms, status = EXCLUDED.status;
        END IF;
    END IF;

    IF jsonb_array_length(p_calls) > 0 THEN
        -- Cost: the reported one, else the workspace's price in force at the call's time, else
        -- unknown (NULL, "unpriced") — never a silent $0.
        WITH i AS (
            SELECT * FROM jsonb_to_recordset(p_calls) AS i(run_ext text, agent_ext text, user_ext text, provider text,
                       model text, prompt_tokens integer, completion_tokens integer, cost numeric, latency_ms integer,
                       ttft_ms integer, finish_reason text, success boolean, error_type text, created_at timestamptz)
        ), candidates AS MATERIALIZED (
            -- Price versions ranked once per distinct (provider, model) of the batch, not once per call.
            SELECT m.provider AS call_provider, m.model AS call_model, c.*
              FROM (SELECT DISTINCT provider, model FROM i WHERE cost IS NULL) m
              CROSS JOIN LATERAL app.price_candidates(p_workspace_id, m.provider, m.model) c
        ), ins AS (
            INSERT INTO public.llm_usage_logs (workspace_id, run_id, agent_id, user_id, provider, model, prompt_tokens,
                                               completion_tokens, input_cost_usd, output_cost_usd, total_cost_usd, cost_source,
                                               latency_ms, time_to_first_token_ms, finish_reason, success, error_type, created_at,
                                               pending_run_external_id)
            SELECT p_workspace_id, r.id, coalesce(a.id, r.agent_id), u.id, i.provider, i.model, i.prompt_tokens,
                   i.completion_tokens,
                   CASE WHEN i.cost IS NULL THEN round(i.prompt_tokens * p.input_usd_per_million / 1000000, 8) END,
                   CASE WHEN i.cost IS NULL THEN round(i.completion_tokens * p.output_usd_per_million / 1000000, 8) END,
                   coalesce(i.cost, round(i.prompt_tokens * p.input_usd_per_million / 1000000, 8)
                                    + round(i.completion_tokens * p.output_usd_per_million / 1000000, 8)),
                   CASE WHEN i.cost IS NOT NULL THEN 'reported'
                        WHEN p.input_usd_per_million IS NOT NULL THEN 'price_table' ELSE 'unpriced' END,
                   i.latency_ms, i.ttft_ms, i.finish_reason, coalesce(i.success, true), i.error_type, i.created_at,
                   CASE WHEN i.run_ext IS NOT NULL AND r.id IS NULL THEN i.run_ext END
              FROM i
              JOIN LATERAL (SELECT u.id FROM public.users u
                             WHERE u.workspace_id = p_workspace_id AND u.external_id = i.user_ext) u ON true
              LEFT JOIN LATERAL (SELECT a.id FROM public.agents a
                                  WHERE i.agent_ext IS NOT NULL
                                    AND a.workspace_id = p_workspace_id AND a.external_id = i.agent_ext) a ON true
              LEFT JOIN LATERAL (SELECT r.id, r.agent_id
                                   FROM public.agent_run_keys k
                                   JOIN public.agent_runs r ON r.workspace_id = k.workspace_id
                                                           AND r.started_at = k.started_at AND r.id = k.run_id
                                  WHERE i.run_ext IS NOT NULL
                                    AND k.workspace_id = p_workspace_id AND k.external_id = i.run_ext
                                  -- LIMIT 1 keeps this two-table subquery from being flattened into
                                  -- the join (see the header): it stays a probe per call.
                                  LIMIT 1) r ON true
              LEFT JOIN LATERAL (
                SELECT c.input_usd_per_million, c.output_usd_per_million FROM candidates c
                 WHERE i.cost IS NULL AND c.call_provider = i.provider AND c.call_model = i.model
                   AND c.effective_from <= i.created_at
                 ORDER BY c.priority, c.effective_from DESC LIMIT 1) p ON true
            RETURNING created_at)
        SELECT touched || coalesce(array_agg(DISTINCT date_trunc('hour', created_at, 'UTC')), '{}') INTO touched FROM ins;
    END IF;

    IF jsonb_array_length(p_activities) > 0 THEN
        WITH ins AS (
            INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, event_name, page_path, session_id,
                                                 ip_address, user_agent, referrer, metadata, created_at)
            SELECT p_workspace_id, u.id, i.event_type, i.event_name, i.page_path, i.session_id, i.ip_address,
                   i.user_agent, i.referrer, coalesce(i.metadata, '{}'::jsonb), i.created_at
              FROM jsonb_to_recordset(p_activities) AS i(user_ext text, event_type text, event_name text, page_path text,
                       session_id uuid, ip_address inet, user_agent text, referrer text, metadata jsonb, created_at timestamptz)
              JOIN LATERAL (SELECT u.id FROM public.users u
                             WHERE u.workspace_id = p_workspace_id AND u.external_id = i.user_ext) u ON true
            RETURNING created_at)
        SELECT touched || coalesce(array_agg(DISTINCT date_trunc('hour', created_at, 'UTC')), '{}') INTO touched FROM ins;
    END IF;

    IF cardinality(p_link_users) > 0 THEN
        PERFORM app.link_tracked_users_to_accounts(p_link_users);
    END IF;

    -- Last, so the hot (workspace, hour) rows are locked only for the moment before commit. DO UPDATE
    -- (not DO NOTHING): if the rollup engine holds the row while recomputing, this waits and then
    -- re-marks it, so a period changed during a recompute is never lost.
    IF cardinality(touched) > 0 THEN
        INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
        SELECT DISTINCT p_workspace_id, date_trunc('hour', t, 'UTC')
          FROM unnest(touched) AS t
         ORDER BY 2
        ON CONFLICT (workspace_id, hour) DO UPDATE SET marked_at = EXCLUDED.marked_at;
    END IF;
END $$;
