-- Hygiene over tables added by later migrations:
-- 1. The rollup engine's own bookkeeping tables are for the owner (worker) only: RLS forced with no
--    policy means the app role reads and writes nothing there (fail closed), and it loses DML grants.
-- 2. Every table with an updated_at column keeps it current through analytics.update_updated_at().
ALTER TABLE analytics.rollup_platform_dirty_hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.rollup_platform_dirty_hours FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics.rollup_rebuild_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.rollup_rebuild_progress FORCE ROW LEVEL SECURITY;
REVOKE ALL ON analytics.rollup_platform_dirty_hours, analytics.rollup_rebuild_progress FROM pulseboard_app;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT n.nspname AS schema_name, c.relname AS table_name
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped
        WHERE n.nspname IN ('public', 'analytics')
          AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND NOT EXISTS (
              SELECT 1 FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
              WHERE tg.tgrelid = c.oid AND p.proname = 'update_updated_at')
    LOOP
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE UPDATE ON %I.%I FOR EACH ROW EXECUTE FUNCTION analytics.update_updated_at()',
            'update_' || t.table_name || '_updated_at', t.schema_name, t.table_name);
    END LOOP;
END $$;
