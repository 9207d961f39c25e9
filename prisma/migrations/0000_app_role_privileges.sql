-- The app role (created by the migration runner before any migration) owns nothing. It gets plain
-- DML on tables the owner creates from now on; row-level security decides which rows. Objects that
-- must not be reachable directly (materialized views, internal tables) revoke in their migration.
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS app;
GRANT USAGE ON SCHEMA public, analytics, app TO pulseboard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, analytics GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO pulseboard_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, analytics GRANT USAGE, SELECT ON SEQUENCES TO pulseboard_app;
-- Functions are executable by PUBLIC by default; the app's are granted explicitly where it matters.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
