-- The platform's source tables in `public` (what 004 reads from), plus Pulseboard's own accounts.
--
-- Two kinds of people live here, on purpose kept apart:
--   * public.accounts  — people who sign in to Pulseboard (dashboard viewers, admins).
--   * public.users     — the platform's tracked end users whose usage is measured, one row per
--                        (workspace, the platform's own user id). A tracked user may be linked to an
--                        account (by e-mail at ingest), which is how "My usage" finds its rows.
-- Every tenant table carries workspace_id in its primary key and in every foreign key, so a row can
-- never point across tenants, and so the schema maps 1:1 onto a Citus distribution by workspace_id.

CREATE TABLE public.accounts (
    id                uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    email             text        NOT NULL,
    name              text,
    password_hash     text,
    is_platform_admin boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_email_key UNIQUE (email),
    CONSTRAINT accounts_email_lowercase CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320)
);

CREATE TABLE public.workspaces (
    id         uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    slug       text        NOT NULL,
    name       text        NOT NULL,
    timezone   text        NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workspaces_slug_key UNIQUE (slug),
    CONSTRAINT workspaces_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    CONSTRAINT workspaces_name_length CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE public.workspace_members (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    account_id   uuid        NOT NULL REFERENCES public.accounts (id) ON DELETE CASCADE,
    role         text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, account_id),
    CONSTRAINT workspace_members_role CHECK (role IN ('owner', 'admin', 'member', 'viewer'))
);
-- RLS policies look memberships up by account: keep that an index scan.
CREATE INDEX idx_workspace_members_account ON public.workspace_members (account_id, workspace_id);

CREATE TABLE public.users (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    external_id  text        NOT NULL,
    email        text,
    name         text,
    account_id   uuid        REFERENCES public.accounts (id) ON DELETE SET NULL,
    -- When the platform says the user signed up (first seen, if it never said).
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT users_id_key UNIQUE (id),
    CONSTRAINT users_external_id_key UNIQUE (workspace_id, external_id),
    CONSTRAINT users_external_id_length CHECK (length(external_id) BETWEEN 1 AND 255)
);
CREATE INDEX idx_users_account ON public.users (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX idx_users_email ON public.users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE public.agents (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    external_id  text        NOT NULL,
    name         text        NOT NULL,
    description  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT agents_id_key UNIQUE (id),
    CONSTRAINT agents_external_id_key UNIQUE (workspace_id, external_id),
    CONSTRAINT agents_external_id_length CHECK (length(external_id) BETWEEN 1 AND 255)
);

CREATE TABLE public.agent_runs (
    workspace_id     uuid          NOT NULL,
    id               uuid          NOT NULL DEFAULT gen_random_uuid(),
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
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT agent_runs_external_id_key UNIQUE (workspace_id, external_id),
    CONSTRAINT agent_runs_agent_fk FOREIGN KEY (workspace_id, agent_id)
        REFERENCES public.agents (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT agent_runs_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT agent_runs_status CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
    CONSTRAINT agent_runs_finished_after_start CHECK (finished_at IS NULL OR finished_at >= started_at),
    CONSTRAINT agent_runs_runtime_nonnegative CHECK (runtime_seconds IS NULL OR runtime_seconds >= 0),
    CONSTRAINT agent_runs_credits_nonnegative CHECK (credits_consumed >= 0),
    CONSTRAINT agent_runs_rating_range CHECK (rating IS NULL OR rating BETWEEN 1 AND 5)
);
-- Rollups scan runs of one workspace over a time range; BRIN keeps time scans cheap on append-mostly data.
CREATE INDEX idx_agent_runs_workspace_started ON public.agent_runs (workspace_id, started_at);
CREATE INDEX idx_agent_runs_started_brin ON public.agent_runs USING brin (started_at);
CREATE INDEX idx_agent_runs_agent_started ON public.agent_runs (workspace_id, agent_id, started_at);
CREATE INDEX idx_agent_runs_running ON public.agent_runs (workspace_id, started_at) WHERE status = 'running';

-- The per-pass metrics of 000: a run can have stages (retrieve, extract, validate, ...).
CREATE TABLE public.run_stages (
    workspace_id      uuid          NOT NULL,
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
    -- The run's start, copied so stage rollups bucket by the same time as their run.
    started_at        timestamptz   NOT NULL,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT run_stages_run_index_key UNIQUE (workspace_id, run_id, stage_index),
    CONSTRAINT run_stages_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES public.agent_runs (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT run_stages_status CHECK (status IN ('running', 'completed', 'failed', 'skipped')),
    CONSTRAINT run_stages_tokens_nonnegative CHECK (prompt_tokens >= 0 AND completion_tokens >= 0),
    CONSTRAINT run_stages_duration_nonnegative CHECK (duration_ms IS NULL OR duration_ms >= 0),
    CONSTRAINT run_stages_cost_nonnegative CHECK (cost_usd IS NULL OR cost_usd >= 0)
);
CREATE INDEX idx_run_stages_workspace_started ON public.run_stages (workspace_id, started_at);

-- The per-call LLM log of 001.
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
    PRIMARY KEY (workspace_id, id),
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
);
CREATE INDEX idx_llm_usage_logs_workspace_created ON public.llm_usage_logs (workspace_id, created_at);
CREATE INDEX idx_llm_usage_logs_created_brin ON public.llm_usage_logs USING brin (created_at);
CREATE INDEX idx_llm_usage_logs_run ON public.llm_usage_logs (workspace_id, run_id) WHERE run_id IS NOT NULL;
