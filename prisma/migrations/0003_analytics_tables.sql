-- The `analytics` schema of spec 004 (plus user_token_usage of 002 and user_daily_activity), with the
-- spec's table and column names. Deliberate differences from the spec's SQL (see docs/notes/schema.md):
--   * Tenant tables (workspace_id NOT NULL) carry workspace_id in their primary key and every foreign
--     key, so no row can point across tenants.
--   * Rollup tables (daily_metrics, hourly_metrics, user_cohorts) keep a nullable workspace_id where
--     NULL means "platform-wide"; their natural keys are UNIQUE NULLS NOT DISTINCT so ON CONFLICT
--     upserts of platform rows update instead of duplicating (spec defect 6).
--   * created_by / acknowledged_by point at public.accounts (people who sign in), not at tracked users.
--   * Counters are NOT NULL DEFAULT 0 so sums never have to COALESCE.

-- An invalid workspace timezone would make every "workspace-local day" computation (rollups, the
-- mv_active_users refresh) fail for all tenants: reject it when it is written.
CREATE FUNCTION public.validate_workspace_timezone() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION 'unknown time zone "%": use an IANA name such as Europe/Berlin', NEW.timezone
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER workspaces_validate_timezone
    BEFORE INSERT OR UPDATE OF timezone ON public.workspaces
    FOR EACH ROW EXECUTE FUNCTION public.validate_workspace_timezone();

-- ---------------------------------------------------------------------------------------------
-- 1. Raw product events of tracked users.
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
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT user_activity_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT valid_event_type CHECK (event_type IN (
        'page_view', 'agent_run', 'login', 'logout', 'workspace_switch',
        'feature_use', 'error', 'api_call', 'export', 'report_view')),
    CONSTRAINT user_activity_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
-- Dashboards and rollups read one workspace's events over a time range (newest first).
CREATE INDEX idx_user_activity_workspace_time ON analytics.user_activity (workspace_id, created_at DESC);
-- Per-user timelines, the (workspace_id, user_id) foreign key, and the linked-user RLS path.
CREATE INDEX idx_user_activity_composite ON analytics.user_activity (workspace_id, user_id, created_at DESC);
-- Feature-usage breakdowns filter one event type within a workspace and time range.
CREATE INDEX idx_user_activity_event_type ON analytics.user_activity (workspace_id, event_type, created_at DESC);
-- Partial: session reconstruction only concerns events that carry a session.
CREATE INDEX idx_user_activity_session ON analytics.user_activity (workspace_id, session_id) WHERE session_id IS NOT NULL;
-- GIN (jsonb_path_ops) answers metadata @> '{"key": ...}' containment filters without a scan.
CREATE INDEX idx_user_activity_metadata ON analytics.user_activity USING gin (metadata jsonb_path_ops);
-- BRIN: append-only by time, so a tiny index lets retention deletes and platform-wide scans skip old blocks.
CREATE INDEX idx_user_activity_created_at_brin ON analytics.user_activity USING brin (created_at);

-- ---------------------------------------------------------------------------------------------
-- 2./3. Rollups by workspace-local day and by UTC hour; the rollup engine fills both alike.
CREATE TABLE analytics.daily_metrics (
    id                           uuid          NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    metric_date                  date          NOT NULL,
    -- NULL = platform-wide row (all workspaces).
    workspace_id                 uuid          REFERENCES public.workspaces (id) ON DELETE CASCADE,
    -- User metrics
    total_users                  integer       NOT NULL DEFAULT 0,
    active_users                 integer       NOT NULL DEFAULT 0,
    new_users                    integer       NOT NULL DEFAULT 0,
    returning_users              integer       NOT NULL DEFAULT 0,
    -- Session metrics
    total_sessions               integer       NOT NULL DEFAULT 0,
    avg_session_duration_seconds numeric(10,2),
    bounce_rate                  numeric(5,2),
    -- Execution metrics
    total_runs                   integer       NOT NULL DEFAULT 0,
    successful_runs              integer       NOT NULL DEFAULT 0,
    failed_runs                  integer       NOT NULL DEFAULT 0,
    cancelled_runs               integer       NOT NULL DEFAULT 0,
    avg_runtime_seconds          numeric(10,2),
    median_runtime_seconds       numeric(10,2),
    p95_runtime_seconds          numeric(10,2),
    p99_runtime_seconds          numeric(10,2),
    -- Credit metrics
    total_credits_consumed       numeric(15,2) NOT NULL DEFAULT 0,
    avg_credits_per_run          numeric(10,2),
    credits_by_model             jsonb         NOT NULL DEFAULT '{}',
    -- Agent metrics
    unique_agents_run            integer       NOT NULL DEFAULT 0,
    top_agents                   jsonb         NOT NULL DEFAULT '[]',
    -- Error metrics
    total_errors                 integer       NOT NULL DEFAULT 0,
    error_rate                   numeric(5,2),
    errors_by_type               jsonb         NOT NULL DEFAULT '{}',
    -- LLM metrics (from public.llm_usage_logs; not in 004, needed for token/cost dashboards)
    llm_calls                    integer       NOT NULL DEFAULT 0,
    prompt_tokens                bigint        NOT NULL DEFAULT 0,
    completion_tokens            bigint        NOT NULL DEFAULT 0,
    total_tokens                 bigint        NOT NULL DEFAULT 0,
    -- Sum over priced calls only; unpriced calls are counted, never treated as $0.
    llm_cost_usd                 numeric(18,8) NOT NULL DEFAULT 0,
    unpriced_llm_calls           integer       NOT NULL DEFAULT 0,
    created_at                   timestamptz   NOT NULL DEFAULT now(),
    updated_at                   timestamptz   NOT NULL DEFAULT now(),
    -- NULLS NOT DISTINCT: one platform-wide row per date, so ON CONFLICT updates it (defect 6).
    CONSTRAINT unique_daily_metric UNIQUE NULLS NOT DISTINCT (metric_date, workspace_id),
    CONSTRAINT daily_metrics_counts_nonnegative CHECK (
        total_users >= 0 AND active_users >= 0 AND new_users >= 0 AND returning_users >= 0
        AND total_sessions >= 0 AND total_runs >= 0 AND successful_runs >= 0 AND failed_runs >= 0
        AND cancelled_runs >= 0 AND unique_agents_run >= 0 AND total_errors >= 0
        AND llm_calls >= 0 AND unpriced_llm_calls >= 0),
    CONSTRAINT daily_metrics_rates CHECK (
        (bounce_rate IS NULL OR bounce_rate BETWEEN 0 AND 100) AND (error_rate IS NULL OR error_rate BETWEEN 0 AND 100))
);
-- A workspace's dashboard reads its own days, newest first; also serves the RLS workspace filter.
CREATE INDEX idx_daily_metrics_workspace ON analytics.daily_metrics (workspace_id, metric_date DESC);
-- Partial: platform-admin charts read only the platform-wide (NULL workspace) rows.
CREATE INDEX idx_daily_metrics_platform ON analytics.daily_metrics (metric_date DESC) WHERE workspace_id IS NULL;
-- BRIN: rows arrive in date order; cross-workspace date-range scans skip old blocks at almost no cost.
CREATE INDEX idx_daily_metrics_date_brin ON analytics.daily_metrics USING brin (metric_date);

CREATE TABLE analytics.hourly_metrics (
    id                           uuid          NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    -- UTC hour start.
    metric_hour                  timestamptz   NOT NULL,
    -- NULL = platform-wide row (all workspaces).
    workspace_id                 uuid          REFERENCES public.workspaces (id) ON DELETE CASCADE,
    -- User metrics
    total_users                  integer       NOT NULL DEFAULT 0,
    active_users                 integer       NOT NULL DEFAULT 0,
    new_users                    integer       NOT NULL DEFAULT 0,
    returning_users              integer       NOT NULL DEFAULT 0,
    -- Session metrics
    total_sessions               integer       NOT NULL DEFAULT 0,
    avg_session_duration_seconds numeric(10,2),
    bounce_rate                  numeric(5,2),
    -- Execution metrics
    total_runs                   integer       NOT NULL DEFAULT 0,
    successful_runs              integer       NOT NULL DEFAULT 0,
    failed_runs                  integer       NOT NULL DEFAULT 0,
    cancelled_runs               integer       NOT NULL DEFAULT 0,
    avg_runtime_seconds          numeric(10,2),
    median_runtime_seconds       numeric(10,2),
    p95_runtime_seconds          numeric(10,2),
    p99_runtime_seconds          numeric(10,2),
    -- Credit metrics (004 names the hourly total `total_credits`)
    total_credits                numeric(15,2) NOT NULL DEFAULT 0,
    avg_credits_per_run          numeric(10,2),
    credits_by_model             jsonb         NOT NULL DEFAULT '{}',
    unique_agents_run            integer       NOT NULL DEFAULT 0,
    -- Error metrics
    total_errors                 integer       NOT NULL DEFAULT 0,
    error_rate                   numeric(5,2),
    errors_by_type               jsonb         NOT NULL DEFAULT '{}',
    -- LLM metrics
    llm_calls                    integer       NOT NULL DEFAULT 0,
    prompt_tokens                bigint        NOT NULL DEFAULT 0,
    completion_tokens            bigint        NOT NULL DEFAULT 0,
    total_tokens                 bigint        NOT NULL DEFAULT 0,
    llm_cost_usd                 numeric(18,8) NOT NULL DEFAULT 0,
    unpriced_llm_calls           integer       NOT NULL DEFAULT 0,
    -- Performance (LLM call latency)
    avg_response_time_ms         integer,
    p95_response_time_ms         integer,
    created_at                   timestamptz   NOT NULL DEFAULT now(),
    updated_at                   timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT unique_hourly_metric UNIQUE NULLS NOT DISTINCT (metric_hour, workspace_id),
    CONSTRAINT hourly_metrics_is_hour CHECK (metric_hour = date_trunc('hour', metric_hour, 'UTC')),
    CONSTRAINT hourly_metrics_counts_nonnegative CHECK (
        total_users >= 0 AND active_users >= 0 AND new_users >= 0 AND returning_users >= 0
        AND total_sessions >= 0 AND total_runs >= 0 AND successful_runs >= 0 AND failed_runs >= 0
        AND cancelled_runs >= 0 AND unique_agents_run >= 0 AND total_errors >= 0
        AND llm_calls >= 0 AND unpriced_llm_calls >= 0),
    CONSTRAINT hourly_metrics_rates CHECK (
        (bounce_rate IS NULL OR bounce_rate BETWEEN 0 AND 100) AND (error_rate IS NULL OR error_rate BETWEEN 0 AND 100))
);
-- Real-time charts read one workspace's recent hours.
CREATE INDEX idx_hourly_metrics_workspace ON analytics.hourly_metrics (workspace_id, metric_hour DESC);
-- Partial: platform-wide hourly rows for the admin view.
CREATE INDEX idx_hourly_metrics_platform ON analytics.hourly_metrics (metric_hour DESC) WHERE workspace_id IS NULL;
-- BRIN: retention deletes (metric_hour < cutoff) touch only the oldest blocks.
CREATE INDEX idx_hourly_metrics_hour_brin ON analytics.hourly_metrics USING brin (metric_hour);

-- ---------------------------------------------------------------------------------------------
-- 4. Per-agent, per-local-day performance.
CREATE TABLE analytics.agent_performance (
    workspace_id           uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                     uuid          NOT NULL DEFAULT gen_random_uuid(),
    agent_id               uuid          NOT NULL,
    metric_date            date          NOT NULL,
    -- Execution stats
    total_runs             integer       NOT NULL DEFAULT 0,
    successful_runs        integer       NOT NULL DEFAULT 0,
    failed_runs            integer       NOT NULL DEFAULT 0,
    cancelled_runs         integer       NOT NULL DEFAULT 0,
    -- Performance metrics
    avg_runtime_seconds    numeric(10,2),
    min_runtime_seconds    numeric(10,2),
    max_runtime_seconds    numeric(10,2),
    p50_runtime_seconds    numeric(10,2),
    p75_runtime_seconds    numeric(10,2),
    p95_runtime_seconds    numeric(10,2),
    p99_runtime_seconds    numeric(10,2),
    -- Resource usage (bigint: a busy agent passes 2^31 tokens)
    total_credits          numeric(15,2) NOT NULL DEFAULT 0,
    avg_credits_per_run    numeric(10,2),
    total_tokens_used      bigint        NOT NULL DEFAULT 0,
    avg_tokens_per_run     integer,
    -- User interaction
    unique_users           integer       NOT NULL DEFAULT 0,
    avg_user_rating        numeric(3,2),
    total_feedback_count   integer       NOT NULL DEFAULT 0,
    -- Error tracking
    error_types            jsonb         NOT NULL DEFAULT '{}',
    common_failure_reasons jsonb         NOT NULL DEFAULT '[]',
    created_at             timestamptz   NOT NULL DEFAULT now(),
    updated_at             timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT unique_agent_performance UNIQUE (workspace_id, agent_id, metric_date),
    CONSTRAINT agent_performance_agent_fk FOREIGN KEY (workspace_id, agent_id)
        REFERENCES public.agents (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT agent_performance_counts_nonnegative CHECK (
        total_runs >= 0 AND successful_runs >= 0 AND failed_runs >= 0 AND cancelled_runs >= 0
        AND total_tokens_used >= 0 AND unique_users >= 0 AND total_feedback_count >= 0),
    CONSTRAINT agent_performance_rating_range CHECK (avg_user_rating IS NULL OR avg_user_rating BETWEEN 1 AND 5)
);
-- Leaderboards: a workspace's agents for a date range ordered by volume.
CREATE INDEX idx_agent_performance_composite ON analytics.agent_performance (workspace_id, metric_date DESC, total_runs DESC);
-- (unique_agent_performance (workspace_id, agent_id, metric_date) already serves one agent's history.)

-- ---------------------------------------------------------------------------------------------
-- 5. Retention cohorts.
CREATE TABLE analytics.user_cohorts (
    id                   uuid          NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    cohort_period        varchar(20)   NOT NULL,
    cohort_date          date          NOT NULL,
    -- NULL = platform-wide cohort.
    workspace_id         uuid          REFERENCES public.workspaces (id) ON DELETE CASCADE,
    initial_users        integer       NOT NULL,
    -- {"day_1": 95, "day_7": 80, ...} (percent of initial_users still active)
    retention_data       jsonb         NOT NULL,
    ltv_estimate         numeric(10,2),
    avg_revenue_per_user numeric(10,2),
    churn_rate           numeric(5,2),
    created_at           timestamptz   NOT NULL DEFAULT now(),
    updated_at           timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT unique_cohort UNIQUE NULLS NOT DISTINCT (cohort_period, cohort_date, workspace_id),
    CONSTRAINT user_cohorts_period CHECK (cohort_period IN ('daily', 'weekly', 'monthly')),
    CONSTRAINT user_cohorts_initial_users_nonnegative CHECK (initial_users >= 0),
    CONSTRAINT user_cohorts_retention_object CHECK (jsonb_typeof(retention_data) = 'object'),
    CONSTRAINT user_cohorts_churn_range CHECK (churn_rate IS NULL OR churn_rate BETWEEN 0 AND 100)
);
-- The retention grid reads one workspace's cohorts of one period kind, newest first.
CREATE INDEX idx_user_cohorts_workspace ON analytics.user_cohorts (workspace_id, cohort_period, cohort_date DESC);

-- ---------------------------------------------------------------------------------------------
-- 6./7. Alerts.
CREATE TABLE analytics.alert_rules (
    workspace_id              uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                        uuid          NOT NULL DEFAULT gen_random_uuid(),
    name                      varchar(255)  NOT NULL,
    description               text,
    is_active                 boolean       NOT NULL DEFAULT true,
    metric_type               varchar(50)   NOT NULL,
    condition                 varchar(20)   NOT NULL,
    -- (16,4), not 004's (10,2): cost thresholds such as $0.0050 per run must not round to 0.
    threshold_value           numeric(16,4) NOT NULL,
    evaluation_window_minutes integer       NOT NULL DEFAULT 5,
    notification_channels     jsonb         NOT NULL DEFAULT '[]',
    notification_recipients   jsonb         NOT NULL DEFAULT '[]',
    last_triggered_at         timestamptz,
    trigger_count             integer       NOT NULL DEFAULT 0,
    created_at                timestamptz   NOT NULL DEFAULT now(),
    updated_at                timestamptz   NOT NULL DEFAULT now(),
    created_by                uuid          REFERENCES public.accounts (id) ON DELETE SET NULL,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT alert_rules_id_key UNIQUE (id),
    CONSTRAINT alert_rules_name_length CHECK (length(name) BETWEEN 1 AND 255),
    CONSTRAINT alert_rules_metric_type_format CHECK (metric_type ~ '^[a-z][a-z0-9_]{0,49}$'),
    CONSTRAINT alert_rules_condition CHECK (condition IN (
        'greater_than', 'less_than', 'equals', 'greater_than_or_equal', 'less_than_or_equal')),
    CONSTRAINT alert_rules_window_range CHECK (evaluation_window_minutes BETWEEN 1 AND 10080),
    CONSTRAINT alert_rules_channels_array CHECK (
        jsonb_typeof(notification_channels) = 'array' AND jsonb_typeof(notification_recipients) = 'array'),
    CONSTRAINT alert_rules_trigger_count_nonnegative CHECK (trigger_count >= 0)
);
-- Partial: the evaluator only ever scans active rules.
CREATE INDEX idx_alert_rules_active ON analytics.alert_rules (workspace_id) WHERE is_active;
-- Partial: keeps ON DELETE SET NULL of an account an index lookup; most rules keep their creator.
CREATE INDEX idx_alert_rules_created_by ON analytics.alert_rules (created_by) WHERE created_by IS NOT NULL;

CREATE TABLE analytics.alert_history (
    workspace_id        uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                  uuid          NOT NULL DEFAULT gen_random_uuid(),
    alert_rule_id       uuid          NOT NULL,
    triggered_at        timestamptz   NOT NULL DEFAULT now(),
    metric_value        numeric(16,4),
    threshold_value     numeric(16,4),
    notifications_sent  jsonb         NOT NULL DEFAULT '[]',
    notification_status varchar(20)   NOT NULL DEFAULT 'pending',
    acknowledged_by     uuid          REFERENCES public.accounts (id) ON DELETE SET NULL,
    acknowledged_at     timestamptz,
    notes               text,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT alert_history_rule_fk FOREIGN KEY (workspace_id, alert_rule_id)
        REFERENCES analytics.alert_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_history_notification_status CHECK (notification_status IN ('pending', 'sent', 'partial', 'failed')),
    CONSTRAINT alert_history_notifications_array CHECK (jsonb_typeof(notifications_sent) = 'array'),
    -- Whoever acknowledged did so at some time (the account may later be deleted, leaving the time).
    CONSTRAINT alert_history_acknowledged_pair CHECK (acknowledged_by IS NULL OR acknowledged_at IS NOT NULL)
);
-- A rule's firing history, newest first; also the (workspace_id, alert_rule_id) foreign key.
CREATE INDEX idx_alert_history_rule ON analytics.alert_history (workspace_id, alert_rule_id, triggered_at DESC);
-- The workspace's alert feed, newest first.
CREATE INDEX idx_alert_history_workspace ON analytics.alert_history (workspace_id, triggered_at DESC);
-- Partial: the "needs attention" list is only unacknowledged alerts, a small fraction of history.
CREATE INDEX idx_alert_history_unacknowledged ON analytics.alert_history (workspace_id, triggered_at DESC) WHERE acknowledged_at IS NULL;
-- Partial: keeps ON DELETE SET NULL of an account an index lookup.
CREATE INDEX idx_alert_history_acknowledged_by ON analytics.alert_history (acknowledged_by) WHERE acknowledged_by IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Token usage per tracked user and period (spec 002), attributed to the user who started the run
-- or call (defect 8). Periods are workspace-local: period_start is the local midnight as timestamptz.
CREATE TABLE analytics.user_token_usage (
    workspace_id            uuid          NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id                      uuid          NOT NULL DEFAULT gen_random_uuid(),
    user_id                 uuid          NOT NULL,
    period_start            timestamptz   NOT NULL,
    period_end              timestamptz   NOT NULL,
    period_type             varchar(10)   NOT NULL,
    total_prompt_tokens     bigint        NOT NULL DEFAULT 0,
    total_completion_tokens bigint        NOT NULL DEFAULT 0,
    total_tokens            bigint        NOT NULL DEFAULT 0,
    -- Sum over priced calls; unpriced_calls says how many calls had no known price.
    total_cost_usd          numeric(18,8) NOT NULL DEFAULT 0,
    unpriced_calls          integer       NOT NULL DEFAULT 0,
    -- = LLM calls in the period.
    message_count           integer       NOT NULL DEFAULT 0,
    -- = distinct runs in the period.
    conversation_count      integer       NOT NULL DEFAULT 0,
    agent_ids               uuid[]        NOT NULL DEFAULT '{}',
    last_activity           timestamptz,
    created_at              timestamptz   NOT NULL DEFAULT now(),
    updated_at              timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT user_token_usage_period_key UNIQUE (workspace_id, user_id, period_type, period_start),
    CONSTRAINT user_token_usage_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT user_token_usage_period_type CHECK (period_type IN ('daily', 'weekly', 'monthly')),
    CONSTRAINT user_token_usage_period_order CHECK (period_end > period_start),
    CONSTRAINT user_token_usage_counts_nonnegative CHECK (
        total_prompt_tokens >= 0 AND total_completion_tokens >= 0 AND total_tokens >= 0 AND total_cost_usd >= 0
        AND unpriced_calls >= 0 AND message_count >= 0 AND conversation_count >= 0)
);
-- "Who used the most tokens this week": one workspace, one period kind and start, all users.
CREATE INDEX idx_token_usage_period ON analytics.user_token_usage (workspace_id, period_type, period_start DESC);
-- (user_token_usage_period_key (workspace_id, user_id, ...) serves one user's history and the linked-user RLS path.)

-- ---------------------------------------------------------------------------------------------
-- One row per active tracked user per workspace-local day: exact distinct active-user counts over
-- any range (DAU/WAU/MAU, custom ranges) without rescanning raw events. Filled by the rollup engine.
CREATE TABLE analytics.user_daily_activity (
    workspace_id    uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    -- Workspace-local day.
    activity_date   date        NOT NULL,
    user_id         uuid        NOT NULL,
    activity_events integer     NOT NULL DEFAULT 0,
    runs            integer     NOT NULL DEFAULT 0,
    llm_calls       integer     NOT NULL DEFAULT 0,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, activity_date, user_id),
    CONSTRAINT user_daily_activity_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT user_daily_activity_counts CHECK (
        activity_events >= 0 AND runs >= 0 AND llm_calls >= 0 AND activity_events + runs + llm_calls > 0),
    CONSTRAINT user_daily_activity_seen_order CHECK (last_seen_at >= first_seen_at)
);
-- One user's active days (retention, "last active"), the foreign key, and the linked-user RLS path.
CREATE INDEX idx_user_daily_activity_user ON analytics.user_daily_activity (workspace_id, user_id, activity_date);

-- ---------------------------------------------------------------------------------------------
-- Indexes on the raw public tables for the RLS "linked tracked user" path and per-user rollups.
-- A non-member's "My usage" reads runs of the tracked users linked to their account.
CREATE INDEX idx_agent_runs_user_started ON public.agent_runs (workspace_id, user_id, started_at);
-- Same for LLM calls; also per-user token rollups.
CREATE INDEX idx_llm_usage_logs_user_created ON public.llm_usage_logs (workspace_id, user_id, created_at);
-- (run_stages are found by run through run_stages_run_index_key (workspace_id, run_id, stage_index).)
