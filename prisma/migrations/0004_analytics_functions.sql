-- Functions of spec 004 that compile and do what they say (defect 1), plus the updated_at trigger.

-- Continuous percentiles of `vals` (NULLs ignored) at each fraction in `percentiles` (0..1), in
-- one pass: percentile_cont accepts an array of fractions. NULL for an empty input.
-- (004's version does not compile: `values` is reserved and an ordered-set aggregate cannot be
-- called per loop iteration like that.)
CREATE FUNCTION analytics.calculate_percentiles(vals numeric[], percentiles numeric[])
    RETURNS numeric[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT percentile_cont(percentiles::double precision[]) WITHIN GROUP (ORDER BY v::double precision)::numeric[]
    FROM unnest(vals) AS v
$$;

-- Retention (004): raw activity for `raw_activity_days`, hourly rollups for `hourly_days`; daily
-- rollups, token usage and user_daily_activity are kept (they are small and back long ranges).
-- Returns how many rows each delete removed, so the worker can log it.
CREATE FUNCTION analytics.cleanup_old_data(raw_activity_days integer DEFAULT 90, hourly_days integer DEFAULT 30)
    RETURNS TABLE (user_activity_deleted bigint, hourly_metrics_deleted bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    activity_count bigint;
    hourly_count   bigint;
BEGIN
    IF raw_activity_days IS NULL OR raw_activity_days < 1 OR hourly_days IS NULL OR hourly_days < 1 THEN
        RAISE EXCEPTION 'retention days must be at least 1 (got raw_activity_days=%, hourly_days=%)',
            raw_activity_days, hourly_days USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM analytics.user_activity WHERE created_at < now() - make_interval(days => raw_activity_days);
    GET DIAGNOSTICS activity_count = ROW_COUNT;
    DELETE FROM analytics.hourly_metrics WHERE metric_hour < now() - make_interval(days => hourly_days);
    GET DIAGNOSTICS hourly_count = ROW_COUNT;
    RETURN QUERY SELECT activity_count, hourly_count;
END $$;
-- Retention is the worker's (owner's) job, never a request's.
REVOKE EXECUTE ON FUNCTION analytics.cleanup_old_data(integer, integer) FROM PUBLIC;

CREATE FUNCTION analytics.update_updated_at()
    RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END $$;

-- Every table in public/analytics with an updated_at column gets the trigger (004 put it on two).
-- Tables added later must add their own trigger; the analytics-schema test checks that all have one.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.table_schema, c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables tb USING (table_schema, table_name)
        WHERE c.column_name = 'updated_at' AND c.table_schema IN ('public', 'analytics') AND tb.table_type = 'BASE TABLE'
        ORDER BY 1, 2
    LOOP
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE UPDATE ON %I.%I FOR EACH ROW EXECUTE FUNCTION analytics.update_updated_at()',
            'update_' || t.table_name || '_updated_at', t.table_schema, t.table_name);
    END LOOP;
END $$;
