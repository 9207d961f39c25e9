-- Each tracked user's first active day, kept beside analytics.user_daily_activity, so the
-- catalogue's new_users (first active day over the user's whole history inside the bucket; the
-- user_cohorts rule) is an index range count instead of a min over every user-day of the workspace's
-- history (33–42 ms at 2,000 users × 90 days, growing with both).
--
-- Kept by statement-level triggers on user_daily_activity (transition tables), like 0110: inserted
-- user-days lower a user's first day; when deleted user-days held a user's first day, it is read
-- again from user_daily_activity (its (workspace_id, user_id, activity_date) index), and the row
-- goes when the user has no active day left. Writers of one workspace are serialized by the rollup
-- engine's advisory lock.

CREATE TABLE analytics.user_first_active_days (
    workspace_id uuid NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL,
    -- Workspace-local day: the earliest activity_date of the user in user_daily_activity.
    first_day    date NOT NULL,
    PRIMARY KEY (workspace_id, user_id),
    CONSTRAINT user_first_active_days_user_fk FOREIGN KEY (workspace_id, user_id)
        REFERENCES public.users (workspace_id, id) ON DELETE CASCADE
);
-- new_users: users whose first day falls in [from, to).
CREATE INDEX idx_user_first_active_days_day ON analytics.user_first_active_days (workspace_id, first_day);

-- Re-reads the first day of the given users (those whose first day may have been deleted).
CREATE FUNCTION analytics.refresh_user_first_active_days(p_workspace_ids uuid[], p_user_ids uuid[])
    RETURNS void LANGUAGE sql AS $$
    WITH pairs AS (
        SELECT DISTINCT p.workspace_id, p.user_id FROM unnest(p_workspace_ids, p_user_ids) AS p(workspace_id, user_id)
    ), firsts AS (
        SELECT pairs.workspace_id, pairs.user_id,
               (SELECT min(d.activity_date) FROM analytics.user_daily_activity d
                 WHERE d.workspace_id = pairs.workspace_id AND d.user_id = pairs.user_id) AS first_day
        FROM pairs
    ), gone AS (
        DELETE FROM analytics.user_first_active_days f USING firsts
        WHERE f.workspace_id = firsts.workspace_id AND f.user_id = firsts.user_id AND firsts.first_day IS NULL
    )
    INSERT INTO analytics.user_first_active_days AS f (workspace_id, user_id, first_day)
    SELECT workspace_id, user_id, first_day FROM firsts WHERE first_day IS NOT NULL
    ON CONFLICT (workspace_id, user_id) DO UPDATE SET first_day = EXCLUDED.first_day
    WHERE f.first_day IS DISTINCT FROM EXCLUDED.first_day;
$$;

CREATE FUNCTION analytics.user_daily_activity_to_first_days() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    workspace_ids uuid[];
    user_ids uuid[];
BEGIN
    -- Deleted (or moved) user-days that were a user's first day: read that user's first day again.
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT array_agg(o.workspace_id), array_agg(o.user_id) INTO workspace_ids, user_ids
        FROM (SELECT DISTINCT o.workspace_id, o.user_id
              FROM old_rows o
              JOIN analytics.user_first_active_days f
                ON f.workspace_id = o.workspace_id AND f.user_id = o.user_id AND f.first_day = o.activity_date) o;
        IF workspace_ids IS NOT NULL THEN
            PERFORM analytics.refresh_user_first_active_days(workspace_ids, user_ids);
        END IF;
    END IF;
    -- New user-days lower the first day (or give the user one).
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics.user_first_active_days AS f (workspace_id, user_id, first_day)
        SELECT n.workspace_id, n.user_id, min(n.activity_date) FROM new_rows n GROUP BY n.workspace_id, n.user_id
        ON CONFLICT (workspace_id, user_id) DO UPDATE SET first_day = EXCLUDED.first_day
        WHERE EXCLUDED.first_day < f.first_day;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER user_daily_activity_first_days_insert AFTER INSERT ON analytics.user_daily_activity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.user_daily_activity_to_first_days();
CREATE TRIGGER user_daily_activity_first_days_update AFTER UPDATE ON analytics.user_daily_activity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.user_daily_activity_to_first_days();
CREATE TRIGGER user_daily_activity_first_days_delete AFTER DELETE ON analytics.user_daily_activity
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics.user_daily_activity_to_first_days();

-- TRUNCATE has no transition table (DELETE, not TRUNCATE: see 0112).
CREATE FUNCTION analytics.truncate_user_first_active_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM analytics.user_first_active_days;
    RETURN NULL;
END $$;
CREATE TRIGGER user_daily_activity_first_days_truncate AFTER TRUNCATE ON analytics.user_daily_activity
    FOR EACH STATEMENT EXECUTE FUNCTION analytics.truncate_user_first_active_days();

-- Existing activity.
INSERT INTO analytics.user_first_active_days (workspace_id, user_id, first_day)
SELECT workspace_id, user_id, min(activity_date) FROM analytics.user_daily_activity GROUP BY workspace_id, user_id;

-- Row-level security as for user_daily_activity's workspace readers (0006, 0071): members, platform
-- admins, read-scope API keys; only the owner writes (the triggers run as the rollup writer).
ALTER TABLE analytics.user_first_active_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.user_first_active_days FORCE ROW LEVEL SECURITY;
REVOKE INSERT, UPDATE, DELETE ON analytics.user_first_active_days FROM pulseboard_app;
CREATE POLICY user_first_active_days_read ON analytics.user_first_active_days FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY api_key_read ON analytics.user_first_active_days FOR SELECT TO pulseboard_app
    USING (workspace_id = (SELECT app.current_read_workspace_id()));

REVOKE EXECUTE ON FUNCTION analytics.refresh_user_first_active_days(uuid[], uuid[]) FROM PUBLIC;
