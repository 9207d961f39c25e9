-- Ingestion: API keys, event-id dedupe, idempotent replies, a shared token bucket, model prices.
--
-- Before a request is authenticated there is no row-level-security context, so the two things that
-- must happen first (look a key up by its hash, take rate-limit tokens) are SECURITY DEFINER
-- functions with a pinned search_path; everything after runs as the app role inside
-- withWorkspaceContext (app.current_workspace_id()) under the policies below.

-- ---------------------------------------------------------------------------------------------
-- API keys. Only sha256(secret) is stored: the secret is 32 random bytes, so a slow password hash
-- would add latency to every request without adding any strength.
CREATE TABLE public.api_keys (
    workspace_id          uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                    uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                  text        NOT NULL,
    -- The non-secret start of the key ("pb_1a2b3c4d"), shown in lists so people can tell keys apart.
    prefix                text        NOT NULL,
    secret_sha256         bytea       NOT NULL,
    scopes                text[]      NOT NULL,
    -- NULL: the server-wide default (INGEST_RATE_LIMIT_PER_SECOND / INGEST_RATE_LIMIT_BURST).
    rate_limit_per_second integer,
    rate_limit_burst      integer,
    created_by            uuid        REFERENCES public.accounts (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    last_used_at          timestamptz,
    revoked_at            timestamptz,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT api_keys_id_key UNIQUE (id),
    CONSTRAINT api_keys_secret_key UNIQUE (secret_sha256),
    CONSTRAINT api_keys_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT api_keys_secret_is_sha256 CHECK (length(secret_sha256) = 32),
    CONSTRAINT api_keys_scopes CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['ingest', 'read']::text[]),
    CONSTRAINT api_keys_rate_limit_positive CHECK (
        (rate_limit_per_second IS NULL OR rate_limit_per_second > 0) AND (rate_limit_burst IS NULL OR rate_limit_burst > 0))
);
CREATE INDEX idx_api_keys_workspace_created ON public.api_keys (workspace_id, created_at DESC);

ALTER TABLE public.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_keys FORCE ROW LEVEL SECURITY;
-- Dashboard users see and manage their workspaces' keys (the server action checks api_keys.manage
-- before it gets here). The ingest context never reads this table directly: it goes through
-- app.verify_api_key().
CREATE POLICY api_keys_read ON public.api_keys FOR SELECT
    USING (workspace_id = ANY ((SELECT app.member_workspace_ids())) OR (SELECT app.is_platform_admin()));
CREATE POLICY api_keys_insert ON public.api_keys FOR INSERT
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']) OR (SELECT app.is_platform_admin()));
CREATE POLICY api_keys_update ON public.api_keys FOR UPDATE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']) OR (SELECT app.is_platform_admin()))
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']) OR (SELECT app.is_platform_admin()));
-- The secret's hash is not for anyone to read back, not even members.
REVOKE SELECT ON public.api_keys FROM pulseboard_app;
GRANT SELECT (workspace_id, id, name, prefix, scopes, rate_limit_per_second, rate_limit_burst, created_by,
              created_at, last_used_at, revoked_at) ON public.api_keys TO pulseboard_app;
REVOKE DELETE ON public.api_keys FROM pulseboard_app; -- keys are revoked, never deleted (audit)

-- Looks a presented key up by its hash. last_used_at is written at most once a minute per key so a
-- busy key does not turn every request into a write on one hot row.
CREATE FUNCTION app.verify_api_key(p_secret_sha256 bytea)
RETURNS TABLE (api_key_id uuid, workspace_id uuid, scopes text[], rate_limit_per_second integer, rate_limit_burst integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN QUERY
        UPDATE public.api_keys k SET last_used_at = now()
         WHERE k.secret_sha256 = p_secret_sha256 AND k.revoked_at IS NULL
           AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
        RETURNING k.id, k.workspace_id, k.scopes, k.rate_limit_per_second, k.rate_limit_burst;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT k.id, k.workspace_id, k.scopes, k.rate_limit_per_second, k.rate_limit_burst
              FROM public.api_keys k
             WHERE k.secret_sha256 = p_secret_sha256 AND k.revoked_at IS NULL;
    END IF;
END $$;
REVOKE ALL ON FUNCTION app.verify_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.verify_api_key(bytea) TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Per-key token bucket, in PostgreSQL so every app process shares it. Tokens are events.
CREATE TABLE public.ingest_rate_buckets (
    workspace_id uuid             NOT NULL,
    api_key_id   uuid             NOT NULL,
    tokens       double precision NOT NULL,
    refilled_at  timestamptz      NOT NULL,
    PRIMARY KEY (workspace_id, api_key_id),
    CONSTRAINT ingest_rate_buckets_key_fk FOREIGN KEY (workspace_id, api_key_id)
        REFERENCES public.api_keys (workspace_id, id) ON DELETE CASCADE
);
ALTER TABLE public.ingest_rate_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ingest_rate_buckets FORCE ROW LEVEL SECURITY;
-- No policy: only app.take_ingest_tokens() (SECURITY DEFINER) touches it.
REVOKE ALL ON public.ingest_rate_buckets FROM pulseboard_app;

-- Takes p_cost tokens from the key's bucket. Returns 0 when granted, else the seconds until enough
-- tokens will have refilled (the Retry-After). A cost above the burst is capped at the burst, so an
-- allowed batch size can never be rejected forever.
CREATE FUNCTION app.take_ingest_tokens(p_api_key_id uuid, p_cost double precision,
                                       p_rate_per_second double precision, p_burst double precision)
RETURNS double precision
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    v_workspace uuid;
    v_available double precision;
    v_cost double precision := least(greatest(p_cost, 0), p_burst);
BEGIN
    IF p_rate_per_second <= 0 OR p_burst <= 0 THEN
        RAISE EXCEPTION 'rate and burst must be positive';
    END IF;
    SELECT k.workspace_id INTO v_workspace FROM public.api_keys k WHERE k.id = p_api_key_id;
    IF v_workspace IS NULL THEN
        RAISE EXCEPTION 'unknown api key %', p_api_key_id;
    END IF;
    INSERT INTO public.ingest_rate_buckets AS b (workspace_id, api_key_id, tokens, refilled_at)
    VALUES (v_workspace, p_api_key_id, p_burst, clock_timestamp())
    ON CONFLICT (workspace_id, api_key_id) DO NOTHING;
    SELECT least(p_burst, b.tokens + p_rate_per_second * extract(epoch FROM clock_timestamp() - b.refilled_at)::double precision)
      INTO v_available
      FROM public.ingest_rate_buckets b
     WHERE b.workspace_id = v_workspace AND b.api_key_id = p_api_key_id
       FOR UPDATE;
    IF v_available >= v_cost THEN
        UPDATE public.ingest_rate_buckets b SET tokens = v_available - v_cost, refilled_at = clock_timestamp()
         WHERE b.workspace_id = v_workspace AND b.api_key_id = p_api_key_id;
        RETURN 0;
    END IF;
    UPDATE public.ingest_rate_buckets b SET tokens = v_available, refilled_at = clock_timestamp()
     WHERE b.workspace_id = v_workspace AND b.api_key_id = p_api_key_id;
    RETURN (v_cost - v_available) / p_rate_per_second;
END $$;
REVOKE ALL ON FUNCTION app.take_ingest_tokens(uuid, double precision, double precision, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.take_ingest_tokens(uuid, double precision, double precision, double precision) TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Client event ids seen per workspace. Inserted with ON CONFLICT DO NOTHING in the same transaction
-- as the rows the events produce, so an id is "seen" exactly when its rows exist.
-- OTLP spans use "otel:<trace id>:<span id>".
CREATE TABLE public.ingest_events (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    event_id     text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, event_id),
    CONSTRAINT ingest_events_id_length CHECK (length(event_id) BETWEEN 1 AND 300)
);
ALTER TABLE public.ingest_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ingest_events FORCE ROW LEVEL SECURITY;
CREATE POLICY ingest_events_ingest ON public.ingest_events
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

-- The first answer to a request carrying an Idempotency-Key, replayed for 24 hours.
CREATE TABLE public.ingest_idempotency_keys (
    workspace_id    uuid        NOT NULL,
    api_key_id      uuid        NOT NULL,
    idempotency_key text        NOT NULL,
    request_sha256  bytea       NOT NULL,
    status_code     integer     NOT NULL,
    response        jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, api_key_id, idempotency_key),
    CONSTRAINT ingest_idempotency_keys_key_fk FOREIGN KEY (workspace_id, api_key_id)
        REFERENCES public.api_keys (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT ingest_idempotency_keys_length CHECK (length(idempotency_key) BETWEEN 1 AND 255)
);
CREATE INDEX idx_ingest_idempotency_keys_created ON public.ingest_idempotency_keys (created_at);
ALTER TABLE public.ingest_idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ingest_idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY ingest_idempotency_keys_ingest ON public.ingest_idempotency_keys
    USING (workspace_id = (SELECT app.current_workspace_id()))
    WITH CHECK (workspace_id = (SELECT app.current_workspace_id()));

-- For the worker (owner): replies older than the replay window are never read again.
CREATE FUNCTION app.purge_expired_ingest_state(p_keep interval DEFAULT interval '24 hours')
RETURNS integer LANGUAGE sql AS $$
    WITH purged AS (DELETE FROM public.ingest_idempotency_keys WHERE created_at < now() - p_keep RETURNING 1)
    SELECT count(*)::integer FROM purged
$$;
REVOKE ALL ON FUNCTION app.purge_expired_ingest_state(interval) FROM PUBLIC;

-- Links tracked users who carry an e-mail to the Pulseboard account of that e-mail (how "My usage"
-- finds a person's rows). SECURITY DEFINER because the ingest context cannot read accounts; it only
-- ever touches the users of the workspace the caller's context is set to.
CREATE FUNCTION app.link_tracked_users_to_accounts(p_external_ids text[])
RETURNS integer LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH linked AS (
        UPDATE public.users u SET account_id = a.id, updated_at = now()
          FROM public.accounts a
         WHERE u.workspace_id = app.current_workspace_id() AND u.external_id = ANY (p_external_ids)
           AND u.email IS NOT NULL AND a.email = lower(u.email) AND u.account_id IS DISTINCT FROM a.id
        RETURNING 1)
    SELECT count(*)::integer FROM linked
$$;
REVOKE ALL ON FUNCTION app.link_tracked_users_to_accounts(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.link_tracked_users_to_accounts(text[]) TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Model prices, USD per 1M tokens, versioned by effective_from. Global defaults (seeded here,
-- maintained by migrations) and per-workspace rows; a workspace's own version chain wins for a
-- model it prices, otherwise the defaults apply.
CREATE TABLE public.default_model_prices (
    id                     uuid          NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    provider               text          NOT NULL,
    model                  text          NOT NULL,
    input_usd_per_million  numeric(12,6) NOT NULL,
    output_usd_per_million numeric(12,6) NOT NULL,
    effective_from         timestamptz   NOT NULL,
    CONSTRAINT default_model_prices_key UNIQUE (model, provider, effective_from),
    CONSTRAINT default_model_prices_lowercase CHECK (provider = lower(provider) AND model = lower(model)),
    CONSTRAINT default_model_prices_nonnegative CHECK (input_usd_per_million >= 0 AND output_usd_per_million >= 0)
);
ALTER TABLE public.default_model_prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.default_model_prices FORCE ROW LEVEL SECURITY;
-- Not tenant data: everyone reads the defaults; only migrations (the owner) change them.
CREATE POLICY default_model_prices_read ON public.default_model_prices FOR SELECT USING (true);
REVOKE INSERT, UPDATE, DELETE ON public.default_model_prices FROM pulseboard_app;

CREATE TABLE public.model_prices (
    workspace_id           uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                     uuid          NOT NULL DEFAULT gen_random_uuid(),
    provider               text          NOT NULL,
    model                  text          NOT NULL,
    input_usd_per_million  numeric(12,6) NOT NULL,
    output_usd_per_million numeric(12,6) NOT NULL,
    effective_from         timestamptz   NOT NULL,
    created_by             uuid          REFERENCES public.accounts (id) ON DELETE SET NULL,
    created_at             timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT model_prices_key UNIQUE (workspace_id, model, provider, effective_from),
    CONSTRAINT model_prices_lowercase CHECK (provider = lower(provider) AND model = lower(model)),
    CONSTRAINT model_prices_names CHECK (length(provider) BETWEEN 1 AND 100 AND length(model) BETWEEN 1 AND 200),
    CONSTRAINT model_prices_nonnegative CHECK (input_usd_per_million >= 0 AND output_usd_per_million >= 0)
);
ALTER TABLE public.model_prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.model_prices FORCE ROW LEVEL SECURITY;
-- Ingest prices calls from it; members read it; owners/admins add versions (a price is changed by
-- adding a newer version, so history keeps the old one) and delete mistaken ones.
CREATE POLICY model_prices_ingest ON public.model_prices FOR SELECT
    USING (workspace_id = (SELECT app.current_workspace_id()));
CREATE POLICY model_prices_read ON public.model_prices FOR SELECT
    USING (workspace_id = ANY ((SELECT app.member_workspace_ids())) OR (SELECT app.is_platform_admin()));
CREATE POLICY model_prices_insert ON public.model_prices FOR INSERT
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']) OR (SELECT app.is_platform_admin()));
CREATE POLICY model_prices_delete ON public.model_prices FOR DELETE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']) OR (SELECT app.is_platform_admin()));

-- "gpt-4o-2024-08-06" and "claude-3-5-sonnet-20241022" are priced like "gpt-4o" / "claude-3-5-sonnet"
-- unless a price names the dated version itself.
CREATE FUNCTION app.model_base_name(p_model text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(lower(p_model), '-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$', '')
$$;

-- The price in force for a call at p_at: the workspace's own rows first, then the defaults; within
-- each, the exact model name before its base name, the same provider before another, newest first.
-- SECURITY INVOKER: the workspace rows it may see are those its caller's context allows.
CREATE FUNCTION app.model_price_at(p_workspace_id uuid, p_provider text, p_model text, p_at timestamptz)
RETURNS TABLE (input_usd_per_million numeric, output_usd_per_million numeric)
LANGUAGE sql STABLE AS $$
    SELECT c.input_usd_per_million, c.output_usd_per_million
      FROM (
            SELECT 0 AS source_rank, p.model, p.provider, p.effective_from, p.input_usd_per_million, p.output_usd_per_million
              FROM public.model_prices p
             WHERE p.workspace_id = p_workspace_id
               AND p.model IN (lower(p_model), app.model_base_name(p_model)) AND p.effective_from <= p_at
            UNION ALL
            SELECT 1, d.model, d.provider, d.effective_from, d.input_usd_per_million, d.output_usd_per_million
              FROM public.default_model_prices d
             WHERE d.model IN (lower(p_model), app.model_base_name(p_model)) AND d.effective_from <= p_at
           ) c
     ORDER BY c.source_rank, (c.model = lower(p_model)) DESC, (c.provider = lower(p_provider)) DESC, c.effective_from DESC
     LIMIT 1
$$;

INSERT INTO public.default_model_prices (provider, model, input_usd_per_million, output_usd_per_million, effective_from)
SELECT provider, model, input, output, timestamptz '2024-01-01 00:00:00+00'
  FROM (VALUES
    ('openai', 'gpt-4o', 2.50, 10.00),
    ('openai', 'gpt-4o-mini', 0.15, 0.60),
    ('openai', 'gpt-4.1', 2.00, 8.00),
    ('openai', 'gpt-4.1-mini', 0.40, 1.60),
    ('openai', 'gpt-4.1-nano', 0.10, 0.40),
    ('openai', 'gpt-4-turbo', 10.00, 30.00),
    ('openai', 'gpt-4', 30.00, 60.00),
    ('openai', 'gpt-3.5-turbo', 0.50, 1.50),
    ('openai', 'o1', 15.00, 60.00),
    ('openai', 'o1-mini', 1.10, 4.40),
    ('openai', 'o3', 2.00, 8.00),
    ('openai', 'o3-mini', 1.10, 4.40),
    ('openai', 'o4-mini', 1.10, 4.40),
    ('openai', 'text-embedding-3-small', 0.02, 0.00),
    ('openai', 'text-embedding-3-large', 0.13, 0.00),
    ('anthropic', 'claude-opus-4', 15.00, 75.00),
    ('anthropic', 'claude-sonnet-4', 3.00, 15.00),
    ('anthropic', 'claude-3-7-sonnet', 3.00, 15.00),
    ('anthropic', 'claude-3-5-sonnet', 3.00, 15.00),
    ('anthropic', 'claude-3-5-haiku', 0.80, 4.00),
    ('anthropic', 'claude-3-opus', 15.00, 75.00),
    ('anthropic', 'claude-3-haiku', 0.25, 1.25),
    ('google', 'gemini-2.5-pro', 1.25, 10.00),
    ('google', 'gemini-2.5-flash', 0.30, 2.50),
    ('google', 'gemini-2.0-flash', 0.10, 0.40),
    ('google', 'gemini-1.5-pro', 1.25, 5.00),
    ('google', 'gemini-1.5-flash', 0.075, 0.30),
    ('mistral', 'mistral-large', 2.00, 6.00),
    ('mistral', 'mistral-small', 0.20, 0.60)
  ) AS defaults (provider, model, input, output);

-- How many calls a re-price from p_from would change (the number shown before the button).
-- Reported costs (the client sent costUsd) are the client's truth and are never re-priced.
CREATE FUNCTION app.count_repriceable_llm_calls(p_workspace_id uuid, p_from timestamptz)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM public.llm_usage_logs l
     WHERE l.workspace_id = p_workspace_id AND l.created_at >= p_from AND l.cost_source <> 'reported'
$$;

-- Re-prices every non-reported call from p_from with the prices now in force at each call's time,
-- and marks each touched hour dirty for the rollup engine, in one statement.
CREATE FUNCTION app.reprice_llm_calls(p_workspace_id uuid, p_from timestamptz)
RETURNS bigint LANGUAGE sql AS $$
    WITH repriced AS (
        UPDATE public.llm_usage_logs l
           SET input_cost_usd  = round(l.prompt_tokens * p.input_usd_per_million / 1000000, 8),
               output_cost_usd = round(l.completion_tokens * p.output_usd_per_million / 1000000, 8),
               total_cost_usd  = CASE WHEN p.input_usd_per_million IS NULL THEN NULL ELSE
                                 round(l.prompt_tokens * p.input_usd_per_million / 1000000, 8)
                               + round(l.completion_tokens * p.output_usd_per_million / 1000000, 8) END,
               cost_source     = CASE WHEN p.input_usd_per_million IS NULL THEN 'unpriced' ELSE 'price_table' END
          FROM public.llm_usage_logs src
          LEFT JOIN LATERAL app.model_price_at(src.workspace_id, src.provider, src.model, src.created_at) p ON true
         WHERE l.workspace_id = p_workspace_id AND l.created_at >= p_from AND l.cost_source <> 'reported'
           AND src.workspace_id = l.workspace_id AND src.id = l.id
        RETURNING l.created_at
    ), marked AS (
        INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
        SELECT DISTINCT p_workspace_id, date_trunc('hour', r.created_at, 'UTC') FROM repriced r
        ORDER BY 2
        ON CONFLICT (workspace_id, hour) DO UPDATE SET marked_at = EXCLUDED.marked_at
    )
    SELECT count(*) FROM repriced
$$;
