-- 0110's TRUNCATE trigger emptied the daily totals with TRUNCATE. A TRUNCATE ... CASCADE from
-- public.workspaces (test suites reset their world that way) reaches run_hourly and
-- run_daily_totals in one statement, and truncating a table that statement is already truncating
-- fails ("cannot TRUNCATE ... because it is being used by active queries in this session").
-- DELETE empties it in every case (the table holds one row per workspace and day).
CREATE OR REPLACE FUNCTION analytics.truncate_daily_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'run_hourly' THEN
        DELETE FROM analytics.run_daily_totals;
    ELSE
        DELETE FROM analytics.llm_usage_daily_totals;
    END IF;
    RETURN NULL;
END $$;
