-- The hour pass now queues the platform's hours (analytics.rollup_platform_dirty_hours) in the same
-- transaction as the workspaces' day queue, and the day batches no longer do (lib/rollups/engine.ts:
-- the platform's day batch runs beside the workspace batches instead of after them). Hours that an
-- earlier version's hour pass queued for the workspaces' day steps, but whose day batch has not run
-- yet, would otherwise never reach the platform queue.
INSERT INTO analytics.rollup_platform_dirty_hours (hour)
SELECT DISTINCT hour FROM analytics.rollup_day_dirty_hours
ON CONFLICT (hour) DO NOTHING;
