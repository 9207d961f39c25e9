-- app.verify_api_key also returns the key's workspace slug and time zone.
--
-- Why: GET /api/v1/metrics with a read-scope key needed both (the time zone to bucket days, the
-- slug to refuse ?workspace=<another>) and fetched them in a read transaction of its own before the
-- metric's transaction: five more round trips and a Prisma interactive transaction per request,
-- about a quarter of a cheap metric request's cost in the load test. The function already reads
-- the key's row as SECURITY DEFINER; joining the workspace row there costs one index lookup.
-- The return type changes, so the function is dropped and created again (same grants as 0010).
DROP FUNCTION app.verify_api_key(bytea);

CREATE FUNCTION app.verify_api_key(p_secret_sha256 bytea)
RETURNS TABLE (api_key_id uuid, workspace_id uuid, scopes text[], rate_limit_per_second integer, rate_limit_burst integer,
               workspace_slug text, workspace_timezone text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    -- last_used_at is written at most once a minute per key (0010), so most calls only read.
    RETURN QUERY
        UPDATE public.api_keys k SET last_used_at = now()
          FROM public.workspaces w
         WHERE k.secret_sha256 = p_secret_sha256 AND k.revoked_at IS NULL AND w.id = k.workspace_id
           AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
        RETURNING k.id, k.workspace_id, k.scopes, k.rate_limit_per_second, k.rate_limit_burst, w.slug, w.timezone;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT k.id, k.workspace_id, k.scopes, k.rate_limit_per_second, k.rate_limit_burst, w.slug, w.timezone
              FROM public.api_keys k JOIN public.workspaces w ON w.id = k.workspace_id
             WHERE k.secret_sha256 = p_secret_sha256 AND k.revoked_at IS NULL;
    END IF;
END $$;
REVOKE ALL ON FUNCTION app.verify_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.verify_api_key(bytea) TO pulseboard_app;
