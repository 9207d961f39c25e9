-- Alerting: what 004's alert_rules / alert_history need to be evaluated every minute and notified
-- exactly once. Rules gain a scope, a condition kind, pending / repeat / no-data / error policies and
-- a snooze; channels (with per-endpoint signing secrets kept in a table only admins can read), a
-- state per (rule, series), incidents, notifications (whose unique key is the exactly-once
-- guarantee) and a log of every delivery attempt.

-- ---------------------------------------------------------------------------------------------
-- Rules.
ALTER TABLE analytics.alert_rules
    -- workspace: one series for the whole workspace; agent/model/user: one series filtered to
    -- scope_value; each_agent/each_user: one series (and one alert instance) per agent/user.
    ADD COLUMN scope_kind              text        NOT NULL DEFAULT 'workspace',
    ADD COLUMN scope_value             text,
    -- value: the metric over the window; percent_change: vs the window just before it.
    ADD COLUMN condition_kind          text        NOT NULL DEFAULT 'value',
    ADD COLUMN pending_seconds         integer     NOT NULL DEFAULT 0,
    -- NULL: a firing alert is notified once, never repeated.
    ADD COLUMN repeat_interval_seconds integer,
    ADD COLUMN no_data_policy          text        NOT NULL DEFAULT 'no_data',
    ADD COLUMN error_policy            text        NOT NULL DEFAULT 'error',
    ADD COLUMN snoozed_until           timestamptz,
    -- The minute the evaluator last evaluated this rule for: a second evaluator of the same minute
    -- finds it done (the row lock serialises them) and skips.
    ADD COLUMN last_evaluated_at       timestamptz,
    ADD CONSTRAINT alert_rules_scope_kind CHECK (scope_kind IN ('workspace', 'agent', 'model', 'user', 'each_agent', 'each_user')),
    ADD CONSTRAINT alert_rules_scope_value CHECK ((scope_kind IN ('agent', 'model', 'user')) = (scope_value IS NOT NULL)),
    ADD CONSTRAINT alert_rules_condition_kind CHECK (condition_kind IN ('value', 'percent_change')),
    ADD CONSTRAINT alert_rules_pending_range CHECK (pending_seconds BETWEEN 0 AND 86400),
    ADD CONSTRAINT alert_rules_repeat_range CHECK (repeat_interval_seconds IS NULL OR repeat_interval_seconds BETWEEN 60 AND 604800),
    ADD CONSTRAINT alert_rules_no_data_policy CHECK (no_data_policy IN ('no_data', 'alerting', 'ok', 'keep_last')),
    ADD CONSTRAINT alert_rules_error_policy CHECK (error_policy IN ('error', 'alerting', 'ok', 'keep_last'));

-- ---------------------------------------------------------------------------------------------
-- Channels of a rule. The signing secret of a webhook lives in alert_channel_secrets, which only
-- owners/admins can read: members may see where alerts go, never how to forge them.
CREATE TABLE analytics.alert_channels (
    workspace_id     uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    alert_rule_id    uuid        NOT NULL,
    kind             text        NOT NULL,
    url              text,
    email_recipients text[]     NOT NULL DEFAULT '{}',
    is_enabled       boolean     NOT NULL DEFAULT true,
    -- Why the system disabled it (e.g. the receiver answered 410 Gone).
    disabled_reason  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT alert_channels_id_key UNIQUE (id),
    CONSTRAINT alert_channels_rule_fk FOREIGN KEY (workspace_id, alert_rule_id)
        REFERENCES analytics.alert_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_channels_kind CHECK (kind IN ('webhook', 'slack', 'email')),
    CONSTRAINT alert_channels_target CHECK (
        CASE kind
            WHEN 'email' THEN url IS NULL AND cardinality(email_recipients) BETWEEN 1 AND 50
            ELSE cardinality(email_recipients) = 0 AND url ~ '^https?://' AND length(url) <= 2048
        END)
);
CREATE INDEX idx_alert_channels_rule ON analytics.alert_channels (workspace_id, alert_rule_id);

CREATE TABLE analytics.alert_channel_secrets (
    workspace_id   uuid        NOT NULL,
    alert_channel_id uuid      NOT NULL,
    -- Standard Webhooks secret ("whsec_" + base64 of 32 random bytes), shown once at creation.
    signing_secret text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, alert_channel_id),
    CONSTRAINT alert_channel_secrets_channel_fk FOREIGN KEY (workspace_id, alert_channel_id)
        REFERENCES analytics.alert_channels (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_channel_secrets_format CHECK (signing_secret ~ '^whsec_[A-Za-z0-9+/=]{40,}$')
);

-- ---------------------------------------------------------------------------------------------
-- State per (rule, series). series_key is '' for a single-series rule, else 'agent:<uuid>' /
-- 'user:<uuid>'. Editing a rule's condition deletes its rows (the state starts over).
CREATE TABLE analytics.alert_series_state (
    workspace_id      uuid          NOT NULL,
    alert_rule_id     uuid          NOT NULL,
    series_key        text          NOT NULL,
    series_label      text          NOT NULL,
    state             text          NOT NULL,
    state_since       timestamptz   NOT NULL,
    last_notified_at  timestamptz,
    incident_seq      integer       NOT NULL DEFAULT 0,
    event_seq         integer       NOT NULL DEFAULT 0,
    last_value        numeric(20,6),
    last_error        text,
    last_evaluated_at timestamptz   NOT NULL,
    PRIMARY KEY (workspace_id, alert_rule_id, series_key),
    CONSTRAINT alert_series_state_rule_fk FOREIGN KEY (workspace_id, alert_rule_id)
        REFERENCES analytics.alert_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_series_state_state CHECK (state IN ('ok', 'pending', 'firing', 'no_data', 'error')),
    CONSTRAINT alert_series_state_seqs CHECK (incident_seq >= 0 AND event_seq >= 0)
);

-- ---------------------------------------------------------------------------------------------
-- An incident: one stay of a series in an alerting state (firing, no data, error).
CREATE TABLE analytics.alert_incidents (
    workspace_id  uuid        NOT NULL,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    alert_rule_id uuid        NOT NULL,
    series_key    text        NOT NULL,
    incident_seq  integer     NOT NULL,
    state         text        NOT NULL,
    opened_at     timestamptz NOT NULL,
    resolved_at   timestamptz,
    PRIMARY KEY (workspace_id, id),
    -- Two evaluators that computed the same transition compute the same incident: one row.
    CONSTRAINT alert_incidents_series_seq_key UNIQUE (workspace_id, alert_rule_id, series_key, incident_seq),
    CONSTRAINT alert_incidents_rule_fk FOREIGN KEY (workspace_id, alert_rule_id)
        REFERENCES analytics.alert_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_incidents_state CHECK (state IN ('firing', 'no_data', 'error'))
);

-- ---------------------------------------------------------------------------------------------
-- History: which series, which transition, which incident; more notification statuses.
ALTER TABLE analytics.alert_history
    ADD COLUMN series_key     text,
    ADD COLUMN series_label   text,
    ADD COLUMN previous_state text,
    ADD COLUMN state          text,
    ADD COLUMN incident_id    uuid,
    ADD COLUMN error_message  text,
    ADD CONSTRAINT alert_history_states CHECK (
        (state IS NULL OR state IN ('ok', 'pending', 'firing', 'no_data', 'error'))
        AND (previous_state IS NULL OR previous_state IN ('ok', 'pending', 'firing', 'no_data', 'error'))),
    ADD CONSTRAINT alert_history_incident_fk FOREIGN KEY (workspace_id, incident_id)
        REFERENCES analytics.alert_incidents (workspace_id, id) ON DELETE SET NULL (incident_id),
    DROP CONSTRAINT alert_history_notification_status,
    -- none: a transition that notifies nobody (ok → pending); suppressed: snoozed.
    ADD CONSTRAINT alert_history_notification_status
        CHECK (notification_status IN ('pending', 'sent', 'partial', 'failed', 'none', 'suppressed'));
CREATE INDEX idx_alert_history_incident ON analytics.alert_history (workspace_id, incident_id) WHERE incident_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- One notification = one event of one incident to one channel. The unique key below is the
-- exactly-once guarantee: a second evaluator inserting the same (incident, event_seq, channel)
-- gets ON CONFLICT DO NOTHING and delivers nothing. `id` is the Standard Webhooks message id, kept
-- across retries so receivers can deduplicate too.
CREATE TABLE analytics.alert_notifications (
    workspace_id      uuid        NOT NULL,
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    alert_rule_id     uuid        NOT NULL,
    incident_id       uuid        NOT NULL,
    alert_history_id  uuid,
    alert_channel_id  uuid        NOT NULL,
    event             text        NOT NULL,
    event_seq         integer     NOT NULL,
    status            text        NOT NULL DEFAULT 'pending',
    suppressed_reason text,
    -- Frozen at creation so every retry sends the identical body under the same id.
    payload           jsonb       NOT NULL,
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    -- A deliverer holds a claim until this time; a crashed one's claim simply expires.
    claimed_until     timestamptz,
    delivered_at      timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT alert_notifications_id_key UNIQUE (id),
    CONSTRAINT alert_notifications_once_key UNIQUE (workspace_id, incident_id, event_seq, alert_channel_id),
    CONSTRAINT alert_notifications_incident_fk FOREIGN KEY (workspace_id, incident_id)
        REFERENCES analytics.alert_incidents (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_notifications_history_fk FOREIGN KEY (workspace_id, alert_history_id)
        REFERENCES analytics.alert_history (workspace_id, id) ON DELETE SET NULL (alert_history_id),
    CONSTRAINT alert_notifications_channel_fk FOREIGN KEY (workspace_id, alert_channel_id)
        REFERENCES analytics.alert_channels (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_notifications_rule_fk FOREIGN KEY (workspace_id, alert_rule_id)
        REFERENCES analytics.alert_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_notifications_event CHECK (event IN ('firing', 'repeat', 'resolved', 'no_data', 'error')),
    CONSTRAINT alert_notifications_status CHECK (status IN ('pending', 'retrying', 'delivered', 'failed', 'suppressed', 'disabled')),
    CONSTRAINT alert_notifications_suppressed CHECK ((status = 'suppressed') = (suppressed_reason IS NOT NULL)),
    CONSTRAINT alert_notifications_attempts CHECK (attempts >= 0)
);
-- Partial: the deliverer only ever looks for due, undelivered notifications.
CREATE INDEX idx_alert_notifications_due ON analytics.alert_notifications (next_attempt_at)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX idx_alert_notifications_history ON analytics.alert_notifications (workspace_id, alert_history_id)
    WHERE alert_history_id IS NOT NULL;
CREATE INDEX idx_alert_notifications_channel ON analytics.alert_notifications (workspace_id, alert_channel_id);
CREATE INDEX idx_alert_notifications_rule ON analytics.alert_notifications (workspace_id, alert_rule_id, created_at DESC);

-- Every delivery attempt, including "send test" (notification_id NULL) and refused targets.
CREATE TABLE analytics.alert_delivery_attempts (
    workspace_id     uuid        NOT NULL,
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    alert_rule_id    uuid        NOT NULL,
    alert_channel_id uuid        NOT NULL,
    notification_id  uuid,
    is_test          boolean     NOT NULL DEFAULT false,
    attempt          integer     NOT NULL,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    duration_ms      integer     NOT NULL,
    http_status      integer,
    outcome          text        NOT NULL,
    error            text,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT alert_delivery_attempts_channel_fk FOREIGN KEY (workspace_id, alert_channel_id)
        REFERENCES analytics.alert_channels (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_delivery_attempts_notification_fk FOREIGN KEY (workspace_id, notification_id)
        REFERENCES analytics.alert_notifications (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_delivery_attempts_rule_fk FOREIGN KEY (workspace_id, alert_rule_id)
        REFERENCES analytics.alert_rules (workspace_id, id) ON DELETE CASCADE,
    CONSTRAINT alert_delivery_attempts_outcome CHECK (outcome IN ('delivered', 'retry', 'failed', 'disabled', 'refused')),
    CONSTRAINT alert_delivery_attempts_test CHECK (is_test = (notification_id IS NULL)),
    CONSTRAINT alert_delivery_attempts_attempt CHECK (attempt >= 1 AND duration_ms >= 0)
);
CREATE INDEX idx_alert_delivery_attempts_channel ON analytics.alert_delivery_attempts (workspace_id, alert_channel_id, attempted_at DESC);
CREATE INDEX idx_alert_delivery_attempts_notification ON analytics.alert_delivery_attempts (workspace_id, notification_id)
    WHERE notification_id IS NOT NULL;
CREATE INDEX idx_alert_delivery_attempts_rule ON analytics.alert_delivery_attempts (workspace_id, alert_rule_id, attempted_at DESC);

-- ---------------------------------------------------------------------------------------------
-- Row-level security: members read; owners/admins write (the evaluator and deliverer run on the
-- owner connection). Secrets: owners/admins only, even for reading.
ALTER TABLE analytics.alert_channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_channels FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_channel_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_channel_secrets FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_series_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_series_state FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_incidents ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_incidents FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_notifications FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_delivery_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.alert_delivery_attempts FORCE ROW LEVEL SECURITY;

CREATE POLICY alert_channel_secrets_admin ON analytics.alert_channel_secrets FOR ALL
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_channels', 'alert_series_state', 'alert_incidents', 'alert_notifications', 'alert_delivery_attempts']
    LOOP
        EXECUTE format($f$CREATE POLICY %1$s_read ON analytics.%1$s FOR SELECT
            USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()))$f$, t);
        EXECUTE format($f$CREATE POLICY %1$s_insert ON analytics.%1$s FOR INSERT
            WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))$f$, t);
        EXECUTE format($f$CREATE POLICY %1$s_update ON analytics.%1$s FOR UPDATE
            USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
            WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))$f$, t);
        EXECUTE format($f$CREATE POLICY %1$s_delete ON analytics.%1$s FOR DELETE
            USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))$f$, t);
    END LOOP;
END $$;
