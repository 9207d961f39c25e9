-- Pricing a batch of calls one row at a time through app.model_price_at() (two regexes and two
-- index probes per call) cost ~50 µs a row, the largest share of an ingest batch. The ranking of
-- price versions now lives in one set-returning function evaluated once per distinct
-- (provider, model) of a batch; the per-call step just picks the newest version in force.

-- Every price version that could apply to (provider, model), with its priority (lower wins): the
-- workspace's own rows before the defaults, the exact model name before its base name, the same
-- provider before another. Among the best priority, the newest version in force at a call's time applies.
CREATE FUNCTION app.price_candidates(p_workspace_id uuid, p_provider text, p_model text)
RETURNS TABLE (priority integer, effective_from timestamptz, input_usd_per_million numeric, output_usd_per_million numeric)
LANGUAGE sql STABLE AS $$
    WITH wanted AS (SELECT lower(p_model) AS exact, app.model_base_name(p_model) AS base, lower(p_provider) AS provider)
    SELECT 0 + (CASE WHEN p.model = w.exact THEN 0 ELSE 2 END) + (CASE WHEN p.provider = w.provider THEN 0 ELSE 1 END),
           p.effective_from, p.input_usd_per_million, p.output_usd_per_million
      FROM wanted w JOIN public.model_prices p
        ON p.workspace_id = p_workspace_id AND p.model IN (w.exact, w.base)
    UNION ALL
    SELECT 4 + (CASE WHEN d.model = w.exact THEN 0 ELSE 2 END) + (CASE WHEN d.provider = w.provider THEN 0 ELSE 1 END),
           d.effective_from, d.input_usd_per_million, d.output_usd_per_million
      FROM wanted w JOIN public.default_model_prices d ON d.model IN (w.exact, w.base)
$$;

-- Same answer as before, now defined through app.price_candidates (used by re-pricing).
CREATE OR REPLACE FUNCTION app.model_price_at(p_workspace_id uuid, p_provider text, p_model text, p_at timestamptz)
RETURNS TABLE (input_usd_per_million numeric, output_usd_per_million numeric)
LANGUAGE sql STABLE AS $$
    SELECT c.input_usd_per_million, c.output_usd_per_million
      FROM app.price_candidates(p_workspace_id, p_provider, p_model) c
     WHERE c.effective_from <= p_at
     ORDER BY c.priority, c.effective_from DESC
     LIMIT 1
$$;
