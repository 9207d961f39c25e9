-- Row-level security for every table in public and analytics (except the migration ledger).
--
-- Who reads what (the app role, pulseboard_app, connects for every request):
--   * a person (app.current_user_id set, transaction-local) reads the rows of workspaces they are a
--     member of;
--   * a platform admin (public.accounts.is_platform_admin) reads every row. This is the ONE explicit
--     platform-admin path: each SELECT policy ORs (SELECT app.is_platform_admin()); admins get no
--     write policy (admin writes go through the owner connection: admin CLI, worker);
--   * a person who is not a member reads only the rows of the tracked users linked to their account
--     (public.users.account_id) in users, agent_runs, run_stages, llm_usage_logs, user_token_usage
--     and user_daily_activity ("My usage");
--   * the ingest context (app.current_workspace_id set, after an API key was verified) may SELECT,
--     INSERT and UPDATE the raw rows of that one workspace;
--   * rollup rows with a NULL (platform-wide) workspace_id match no membership: platform admins only.
-- With no context set, every helper returns NULL/false/empty and every policy reads nothing.
--
-- Policies call the helpers inside uncorrelated subqueries, `(SELECT app.fn())` and
-- `workspace_id = ANY (SELECT app.member_workspace_ids())`: PostgreSQL evaluates those once per query
-- (InitPlan / hashed SubPlan) instead of once per row, and workspace_id leads every index.
--
-- FORCE ROW LEVEL SECURITY applies policies to the table owner too, unless it is a superuser or has
-- BYPASSRLS. The owner connection (migrations, worker, seed, admin CLI) must read every tenant's rows
-- and the SECURITY DEFINER helpers below read memberships as the owner: refuse to install on an owner
-- that would be locked out instead of failing silently later.
DO $$
BEGIN
    IF NOT (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'the migrating (owner) role % must be a superuser or have BYPASSRLS: row-level security is forced on tenant tables', current_user;
    END IF;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Context helpers. Never an error: an unset or malformed setting is NULL, which matches nothing.
CREATE FUNCTION app.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s::uuid END
    FROM (SELECT current_setting('app.current_user_id', true) AS s) AS setting
$$;

CREATE FUNCTION app.current_workspace_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s::uuid END
    FROM (SELECT current_setting('app.current_workspace_id', true) AS s) AS setting
$$;

-- SECURITY DEFINER: these read accounts/memberships/users as the owner, so policies on those same
-- tables can call them without recursing into their own policies.
CREATE FUNCTION app.is_platform_admin() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT a.is_platform_admin FROM public.accounts a WHERE a.id = app.current_user_id()), false)
$$;

-- The workspaces the current account is a member of (any role); empty without a user context.
CREATE FUNCTION app.member_workspace_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 10
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.workspace_id
    FROM public.workspace_members m
    WHERE m.account_id = app.current_user_id()
$$;

-- Whether the current account has one of `roles` in workspace `ws`.
CREATE FUNCTION app.has_workspace_role(ws uuid, roles text[]) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM public.workspace_members m
        WHERE m.workspace_id = ws AND m.account_id = app.current_user_id() AND m.role = ANY (roles))
$$;

-- The tracked users (public.users.id, unique across workspaces) linked to the current account.
CREATE FUNCTION app.linked_user_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 10
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id
    FROM public.users u
    WHERE u.account_id = app.current_user_id()
$$;

-- ---------------------------------------------------------------------------------------------
-- Enable and force on every table in public and analytics except the migration ledger.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT n.nspname, c.relname
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'analytics') AND c.relname <> '_pulseboard_migrations'
    LOOP
        EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', t.nspname, t.relname);
        EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', t.nspname, t.relname);
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- public.accounts: a person reads their own row; platform admins read all. No app-role writes
-- (sign-up and password changes go through the owner; a self-update policy would let a person set
-- is_platform_admin).
CREATE POLICY accounts_read ON public.accounts FOR SELECT
    USING (id = (SELECT app.current_user_id()) OR (SELECT app.is_platform_admin()));

-- public.workspaces: members (and people with a linked tracked user there, who need its name and
-- time zone for "My usage") read it; the ingest context reads its own; owners/admins rename it.
CREATE POLICY workspaces_read ON public.workspaces FOR SELECT
    USING (id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR id = (SELECT app.current_workspace_id())
        OR EXISTS (SELECT 1 FROM public.users u
                   WHERE u.workspace_id = workspaces.id AND u.id = ANY (SELECT app.linked_user_ids())));
CREATE POLICY workspaces_update ON public.workspaces FOR UPDATE
    USING (app.has_workspace_role(id, ARRAY['owner', 'admin']))
    WITH CHECK (app.has_workspace_role(id, ARRAY['owner', 'admin']));

-- public.workspace_members: members read their workspace's memberships; owners/admins manage them.
-- (has_workspace_role takes the row's workspace, so it is evaluated per row: fine for these few rows.)
CREATE POLICY workspace_members_read ON public.workspace_members FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY workspace_members_insert ON public.workspace_members FOR INSERT
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY workspace_members_update ON public.workspace_members FOR UPDATE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY workspace_members_delete ON public.workspace_members FOR DELETE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));

-- ---------------------------------------------------------------------------------------------
-- Raw tables: members/admins read; the ingest context reads and writes its own workspace's rows.
-- Linked-user reads where a row belongs to one tracked user.
CREATE POLICY users_read ON public.users FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR id = ANY (SELECT app.linked_user_ids()));

CREATE POLICY agents_read ON public.agents FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id()));

CREATE POLICY agent_runs_read ON public.agent_runs FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR user_id = ANY (SELECT app.linked_user_ids()));

-- A stage belongs to the run's user: linked readers see stages of their runs.
CREATE POLICY run_stages_read ON public.run_stages FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR EXISTS (SELECT 1 FROM public.agent_runs r
                   WHERE r.workspace_id = run_stages.workspace_id AND r.id = run_stages.run_id
                     AND r.user_id = ANY (SELECT app.linked_user_ids())));

CREATE POLICY llm_usage_logs_read ON public.llm_usage_logs FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id())
        OR user_id = ANY (SELECT app.linked_user_ids()));

CREATE POLICY user_activity_read ON analytics.user_activity FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id()));

CREATE POLICY rollup_dirty_hours_read ON analytics.rollup_dirty_hours FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR workspace_id = (SELECT app.current_workspace_id()));

-- Ingest writes (INSERT, and UPDATE for upserts), one workspace only.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['public.users', 'public.agents', 'public.agent_runs', 'public.run_stages',
                             'public.llm_usage_logs', 'analytics.user_activity', 'analytics.rollup_dirty_hours']
    LOOP
        EXECUTE format(
            'CREATE POLICY %I ON %s FOR INSERT WITH CHECK (workspace_id = (SELECT app.current_workspace_id()))',
            split_part(t, '.', 2) || '_ingest_insert', t);
        EXECUTE format(
            'CREATE POLICY %I ON %s FOR UPDATE USING (workspace_id = (SELECT app.current_workspace_id()))'
            ' WITH CHECK (workspace_id = (SELECT app.current_workspace_id()))',
            split_part(t, '.', 2) || '_ingest_update', t);
    END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Rollups: read-only for the app (the worker writes them as the owner). NULL workspace = admins only.
CREATE POLICY daily_metrics_read ON analytics.daily_metrics FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY hourly_metrics_read ON analytics.hourly_metrics FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY agent_performance_read ON analytics.agent_performance FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY user_cohorts_read ON analytics.user_cohorts FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY user_token_usage_read ON analytics.user_token_usage FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR user_id = ANY (SELECT app.linked_user_ids()));
CREATE POLICY user_daily_activity_read ON analytics.user_daily_activity FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids())
        OR (SELECT app.is_platform_admin())
        OR user_id = ANY (SELECT app.linked_user_ids()));

-- ---------------------------------------------------------------------------------------------
-- Alerts: members read; owners/admins create, edit, acknowledge and delete.
CREATE POLICY alert_rules_read ON analytics.alert_rules FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY alert_rules_insert ON analytics.alert_rules FOR INSERT
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY alert_rules_update ON analytics.alert_rules FOR UPDATE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY alert_rules_delete ON analytics.alert_rules FOR DELETE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));

CREATE POLICY alert_history_read ON analytics.alert_history FOR SELECT
    USING (workspace_id = ANY (SELECT app.member_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY alert_history_insert ON analytics.alert_history FOR INSERT
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY alert_history_update ON analytics.alert_history FOR UPDATE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']))
    WITH CHECK (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
CREATE POLICY alert_history_delete ON analytics.alert_history FOR DELETE
    USING (app.has_workspace_role(workspace_id, ARRAY['owner', 'admin']));
