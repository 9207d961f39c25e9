-- Accounts: audit trail, workspace invitations, sign-in throttling, and the SECURITY DEFINER
-- functions the app role needs for what row-level security alone cannot express (a co-member
-- directory for workspace admins, accepting one's own invitations, changing one's own password).
--
-- Who writes what:
--   * audit_log: the app role never INSERTs directly; it calls app.record_audit_event(), which takes
--     the actor from app.current_user_id() (an actor cannot be forged) and refuses workspaces the
--     actor cannot read. Pre-authentication events (sign-in, failed sign-in) are written by the
--     sign-in path on the owner connection, which is the only request-time use of the owner.
--   * sign_in_failures: owner connection only (throttling happens before anyone is authenticated).
--   * workspace_invitations: owners/admins of the workspace, through RLS.

-- ---------------------------------------------------------------------------------------------
-- Workspaces the current account owns or administers (for policies that are admin-only).
CREATE FUNCTION app.managed_workspace_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 10
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.workspace_id
    FROM public.workspace_members m
    WHERE m.account_id = app.current_user_id() AND m.role IN ('owner', 'admin')
$$;
GRANT EXECUTE ON FUNCTION app.managed_workspace_ids() TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- The audit trail. workspace_id NULL = an event about an account rather than a workspace (sign-in,
-- failed sign-in, password change): platform admins read those. Not keyed by workspace_id because
-- of those platform rows; rows of a deleted workspace go with it.
CREATE TABLE public.audit_log (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     uuid        REFERENCES public.workspaces (id) ON DELETE CASCADE,
    actor_account_id uuid        REFERENCES public.accounts (id) ON DELETE SET NULL,
    -- A snapshot (the account may be renamed or deleted later); for a failed sign-in, the e-mail tried.
    actor_email      text,
    action           text        NOT NULL,
    target_type      text,
    target_id        text,
    details          jsonb       NOT NULL DEFAULT '{}',
    ip               inet,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_log_action_format CHECK (action ~ '^[a-z_]+\.[a-z_]+$' AND length(action) <= 64),
    CONSTRAINT audit_log_details_object CHECK (jsonb_typeof(details) = 'object'),
    CONSTRAINT audit_log_target_length CHECK (length(target_type) <= 64 AND length(target_id) <= 256)
);
-- The audit page: one workspace, newest first (id order = insertion order), keyset-paged by id.
CREATE INDEX idx_audit_log_workspace_id ON public.audit_log (workspace_id, id DESC);
CREATE INDEX idx_audit_log_workspace_action ON public.audit_log (workspace_id, action, created_at DESC);
-- Platform events (sign-ins) for platform admins.
CREATE INDEX idx_audit_log_platform_id ON public.audit_log (id DESC) WHERE workspace_id IS NULL;
-- "What did this person do" and the ON DELETE SET NULL of accounts.
CREATE INDEX idx_audit_log_actor ON public.audit_log (actor_account_id, created_at DESC);

ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.audit_log FORCE ROW LEVEL SECURITY;
-- Owners/admins read their workspaces' events; platform admins read everything.
CREATE POLICY audit_log_read ON public.audit_log FOR SELECT
    USING (workspace_id = ANY (SELECT app.managed_workspace_ids()) OR (SELECT app.is_platform_admin()));
-- Append-only for the app: writes go through app.record_audit_event().
REVOKE INSERT, UPDATE, DELETE ON public.audit_log FROM pulseboard_app;

CREATE FUNCTION app.record_audit_event(
    p_workspace_id uuid,
    p_action       text,
    p_target_type  text,
    p_target_id    text,
    p_details      jsonb,
    p_ip           inet
) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid := app.current_user_id();
    v_context_workspace uuid := app.current_workspace_id();
    v_email text;
    v_id bigint;
BEGIN
    IF v_actor IS NULL THEN
        -- An API key acting for its workspace (e.g. a CSV export): only that workspace.
        IF v_context_workspace IS NULL OR p_workspace_id IS DISTINCT FROM v_context_workspace THEN
            RAISE EXCEPTION 'record_audit_event: no account or workspace context' USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSE
        SELECT a.email INTO v_email FROM public.accounts a WHERE a.id = v_actor;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'record_audit_event: unknown account' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_workspace_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM public.workspace_members m WHERE m.workspace_id = p_workspace_id AND m.account_id = v_actor)
           AND NOT app.is_platform_admin() THEN
            RAISE EXCEPTION 'record_audit_event: not a member of the workspace' USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    INSERT INTO public.audit_log (workspace_id, actor_account_id, actor_email, action, target_type, target_id, details, ip)
    VALUES (p_workspace_id, v_actor, v_email, p_action, p_target_type, p_target_id, coalesce(p_details, '{}'::jsonb), p_ip)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION app.record_audit_event(uuid, text, text, text, jsonb, inet) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.record_audit_event(uuid, text, text, text, jsonb, inet) TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Failed sign-ins, for throttling per account (e-mail tried) and per client IP. Owner only.
CREATE TABLE public.sign_in_failures (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text        NOT NULL,
    ip         inet,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sign_in_failures_email_length CHECK (length(email) <= 320)
);
CREATE INDEX idx_sign_in_failures_email ON public.sign_in_failures (email, created_at);
CREATE INDEX idx_sign_in_failures_ip ON public.sign_in_failures (ip, created_at) WHERE ip IS NOT NULL;
-- Purging old rows.
CREATE INDEX idx_sign_in_failures_created ON public.sign_in_failures (created_at);
ALTER TABLE public.sign_in_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.sign_in_failures FORCE ROW LEVEL SECURITY;
REVOKE ALL ON public.sign_in_failures FROM pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Invitations: an owner/admin invites an e-mail with a role. The invitation is accepted when an
-- account with that e-mail signs in (app.accept_pending_invitations), or through the invitation
-- link, which lets a person without an account create one (token_sha256: the link's secret).
CREATE TABLE public.workspace_invitations (
    workspace_id uuid        NOT NULL REFERENCES public.workspaces (id) ON DELETE CASCADE,
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    email        text        NOT NULL,
    role         text        NOT NULL,
    token_sha256 bytea       NOT NULL,
    invited_by   uuid        REFERENCES public.accounts (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '14 days',
    accepted_at  timestamptz,
    accepted_by  uuid        REFERENCES public.accounts (id) ON DELETE SET NULL,
    revoked_at   timestamptz,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT workspace_invitations_id_key UNIQUE (id),
    CONSTRAINT workspace_invitations_token_key UNIQUE (token_sha256),
    CONSTRAINT workspace_invitations_email_lowercase CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    CONSTRAINT workspace_invitations_role CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    CONSTRAINT workspace_invitations_token_is_sha256 CHECK (length(token_sha256) = 32),
    CONSTRAINT workspace_invitations_settled_once CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
-- One open invitation per (workspace, e-mail): inviting again refreshes it.
CREATE UNIQUE INDEX workspace_invitations_pending_key ON public.workspace_invitations (workspace_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
-- Sign-in looks up the open invitations of one e-mail.
CREATE INDEX idx_workspace_invitations_pending_email ON public.workspace_invitations (email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE public.workspace_invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY workspace_invitations_read ON public.workspace_invitations FOR SELECT
    USING (workspace_id = ANY (SELECT app.managed_workspace_ids()) OR (SELECT app.is_platform_admin()));
CREATE POLICY workspace_invitations_insert ON public.workspace_invitations FOR INSERT
    WITH CHECK (workspace_id = ANY (SELECT app.managed_workspace_ids()));
CREATE POLICY workspace_invitations_update ON public.workspace_invitations FOR UPDATE
    USING (workspace_id = ANY (SELECT app.managed_workspace_ids()))
    WITH CHECK (workspace_id = ANY (SELECT app.managed_workspace_ids()));
-- Invitations are revoked or accepted, never deleted (they are part of the trail).
REVOKE DELETE ON public.workspace_invitations FROM pulseboard_app;
-- The token's hash is not for anyone to read back.
REVOKE SELECT ON public.workspace_invitations FROM pulseboard_app;
GRANT SELECT (workspace_id, id, email, role, invited_by, created_at, expires_at, accepted_at, accepted_by, revoked_at)
    ON public.workspace_invitations TO pulseboard_app;

-- Accepts every open, unexpired invitation addressed to the current account's e-mail: adds the
-- memberships (an existing membership keeps its role) and records each in the audit trail.
CREATE FUNCTION app.accept_pending_invitations() RETURNS TABLE (workspace_id uuid, role text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid := app.current_user_id();
    v_email text;
    v_invitation record;
BEGIN
    SELECT a.email INTO v_email FROM public.accounts a WHERE a.id = v_actor;
    IF v_email IS NULL THEN
        RETURN;
    END IF;
    FOR v_invitation IN
        UPDATE public.workspace_invitations i
           SET accepted_at = now(), accepted_by = v_actor
         WHERE i.email = v_email AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
        RETURNING i.workspace_id, i.id, i.role
    LOOP
        INSERT INTO public.workspace_members (workspace_id, account_id, role)
        VALUES (v_invitation.workspace_id, v_actor, v_invitation.role)
        ON CONFLICT ON CONSTRAINT workspace_members_pkey DO NOTHING;
        INSERT INTO public.audit_log (workspace_id, actor_account_id, actor_email, action, target_type, target_id, details)
        VALUES (v_invitation.workspace_id, v_actor, v_email, 'invitation.accepted', 'invitation', v_invitation.id::text,
                jsonb_build_object('role', v_invitation.role));
        workspace_id := v_invitation.workspace_id;
        role := v_invitation.role;
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION app.accept_pending_invitations() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.accept_pending_invitations() TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Co-members with names and e-mails (accounts RLS shows a person only their own row). Only for the
-- workspace's owners/admins and platform admins; anyone else gets no rows.
CREATE FUNCTION app.workspace_member_directory(p_workspace_id uuid)
RETURNS TABLE (account_id uuid, email text, name text, role text, joined_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.id, a.email, a.name, m.role, m.created_at
    FROM public.workspace_members m
    JOIN public.accounts a ON a.id = m.account_id
    WHERE m.workspace_id = p_workspace_id
      AND (app.has_workspace_role(p_workspace_id, ARRAY['owner', 'admin']) OR app.is_platform_admin())
    ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2 ELSE 3 END, a.email
$$;
REVOKE ALL ON FUNCTION app.workspace_member_directory(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.workspace_member_directory(uuid) TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Changing one's own password: the app verifies the current one first (it may read its own row);
-- the app role has no UPDATE on accounts (a self-update policy would allow setting
-- is_platform_admin), so only the hash column of one's own row is written, here.
CREATE FUNCTION app.set_own_password_hash(p_hash text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_hash IS NULL OR p_hash NOT LIKE '$argon2id$%' THEN
        RAISE EXCEPTION 'set_own_password_hash: not an Argon2id hash' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE public.accounts SET password_hash = p_hash, updated_at = now() WHERE id = app.current_user_id();
    RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION app.set_own_password_hash(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.set_own_password_hash(text) TO pulseboard_app;

-- ---------------------------------------------------------------------------------------------
-- Membership guards, in the database so that no code path (server action, raw SQL) can skip them.
-- 1. Only an owner may grant the owner role, or change or remove another owner (the RLS policies
--    let admins manage memberships in general). Enforced for the app role only: the owner
--    connection (admin CLI, seed) and SECURITY DEFINER functions act with the owner's authority.
CREATE FUNCTION app.guard_owner_role() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ws uuid := coalesce(NEW.workspace_id, OLD.workspace_id);
    v_touches_owner boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.workspace_id <> OLD.workspace_id OR NEW.account_id <> OLD.account_id) THEN
        RAISE EXCEPTION 'a membership cannot be moved to another workspace or account' USING ERRCODE = 'check_violation';
    END IF;
    IF current_user <> 'pulseboard_app' THEN
        RETURN coalesce(NEW, OLD);
    END IF;
    v_touches_owner := CASE TG_OP
        WHEN 'INSERT' THEN NEW.role = 'owner'
        WHEN 'UPDATE' THEN NEW.role IS DISTINCT FROM OLD.role AND 'owner' IN (NEW.role, OLD.role)
        -- An owner may leave (the last-owner guard still applies).
        ELSE OLD.role = 'owner' AND OLD.account_id IS DISTINCT FROM app.current_user_id()
    END;
    IF v_touches_owner AND NOT app.has_workspace_role(v_ws, ARRAY['owner']) THEN
        RAISE EXCEPTION 'only an owner can grant, change or remove the owner role' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN coalesce(NEW, OLD);
END
$$;
CREATE TRIGGER workspace_members_guard_owner_role
    BEFORE INSERT OR UPDATE OR DELETE ON public.workspace_members
    FOR EACH ROW EXECUTE FUNCTION app.guard_owner_role();

-- 2. A workspace keeps at least one owner. SECURITY DEFINER: an owner who just left can no longer
--    see the workspace's memberships under RLS, but the check must see them all. A workspace being
--    deleted (the cascade) is exempt.
CREATE FUNCTION app.ensure_workspace_keeps_an_owner() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.role = 'owner'
       AND EXISTS (SELECT 1 FROM public.workspaces w WHERE w.id = OLD.workspace_id)
       AND NOT EXISTS (SELECT 1 FROM public.workspace_members m WHERE m.workspace_id = OLD.workspace_id AND m.role = 'owner') THEN
        RAISE EXCEPTION 'a workspace must keep at least one owner' USING ERRCODE = 'P0001', HINT = 'last_owner';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER workspace_members_keep_an_owner
    AFTER UPDATE OF role OR DELETE ON public.workspace_members
    FOR EACH ROW EXECUTE FUNCTION app.ensure_workspace_keeps_an_owner();
