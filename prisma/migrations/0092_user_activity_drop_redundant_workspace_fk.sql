-- analytics.user_activity carried two foreign keys that check the same thing: (workspace_id) →
-- workspaces and (workspace_id, user_id) → users, whose workspace_id itself references workspaces
-- (ON DELETE CASCADE both ways). The composite one already proves the workspace exists and a
-- workspace's delete still cascades (workspace → users → activity), so the single-column one only
-- cost every ingested activity row a second RI lookup (400 of a bench batch of 1,000 events).
DO $$
DECLARE
    fk name;
BEGIN
    FOR fk IN
        SELECT c.conname FROM pg_constraint c
         WHERE c.conrelid = 'analytics.user_activity'::regclass AND c.contype = 'f'
           AND c.confrelid = 'public.workspaces'::regclass
           AND c.conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                  WHERE attrelid = 'analytics.user_activity'::regclass AND attname = 'workspace_id')]
    LOOP
        EXECUTE format('ALTER TABLE analytics.user_activity DROP CONSTRAINT %I', fk);
    END LOOP;
END $$;
