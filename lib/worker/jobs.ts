import { z } from "zod";
import { runAlertDelivery, runAlertEvaluation } from "@/lib/alerts/job";
import { refreshAllCohorts } from "@/lib/rollups/cohorts";
import { ensurePartitions } from "@/lib/db/partitions";
import { ingestRetentionFromEnv, purgeIngestState } from "@/lib/ingest/retention";
import { rebuildRollups, refreshDirtyRollups } from "@/lib/rollups/engine";
import { registerJob, registeredJobs } from "./registry";

/**
 * The worker's standard jobs. Other features add theirs with one registerJob call here (or before
 * startWorker). Intervals are env-configurable for tests and small machines.
 */
const retentionEnv = z.object({
  RETENTION_RAW_ACTIVITY_DAYS: z.coerce.number().int().min(1).default(90),
  RETENTION_HOURLY_DAYS: z.coerce.number().int().min(1).default(30),
  ROLLUP_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(30).default(15),
  PARTITION_MONTHS_AHEAD: z.coerce.number().int().min(0).max(24).default(3),
});

export function registerDefaultJobs(env: NodeJS.ProcessEnv = process.env): void {
  const config = retentionEnv.parse(env);
  const ingestRetention = ingestRetentionFromEnv(env);
  const has = new Set(registeredJobs().map((job) => job.name));
  const add: typeof registerJob = (name, handler, schedule, options) => {
    if (!has.has(name)) registerJob(name, handler, schedule, options);
  };

  // Freshness: dirty hours are recomputed within ROLLUP_INTERVAL_SECONDS (+ the cycle's own time).
  add(
    "rollups-incremental",
    async ({ pool, log }) => {
      const stats = await refreshDirtyRollups(pool, { log });
      if (stats.claimedHours > 0 || stats.platformHours > 0) {
        log(
          `rollups: ${stats.claimedHours} dirty hour(s) in ${stats.workspaces} workspace(s), ${stats.platformHours} platform hour(s) in ${stats.durationMs} ms`,
        );
      }
      return stats;
    },
    { everySeconds: config.ROLLUP_INTERVAL_SECONDS },
    { retryLimit: 3, retryDelaySeconds: 2, expireInSeconds: 10 * 60 },
  );

  // Safety net once a day: recompute the last two days of every workspace (also picks up tracked
  // users whose signup time was backfilled, which changes total_users of later days).
  add(
    "rollups-daily",
    async ({ pool, log }) => {
      const today = new Date();
      const from = new Date(today.getTime() - 2 * 86_400_000).toISOString().slice(0, 10);
      const stats = await rebuildRollups(pool, { from, to: today.toISOString().slice(0, 10) });
      log(`rollups-daily: rebuilt ${stats.totalDays} scope-day(s) in ${stats.durationMs} ms`);
      return stats;
    },
    { cron: "20 0 * * *" },
    { expireInSeconds: 60 * 60 },
  );

  // Alert rules: evaluated every minute (several workers split the rules, notifications stay
  // exactly-once); retries of failed deliveries go out between evaluations.
  add("alerts-evaluate", runAlertEvaluation, { cron: "* * * * *" }, { retryLimit: 1, expireInSeconds: 5 * 60 });
  add("alerts-deliver", runAlertDelivery, { everySeconds: 15 }, { retryLimit: 1, expireInSeconds: 5 * 60 });

  // Cohort periods complete with the date, not with new data: recompute every workspace's cohorts
  // daily (the per-cycle `cohorts` step only covers workspaces that received data).
  add(
    "cohorts-daily",
    async ({ pool, log }) => {
      const written = await refreshAllCohorts(pool);
      log(`cohorts: ${written} row(s) written`);
      return { written };
    },
    { cron: "30 0 * * *" },
    { expireInSeconds: 60 * 60 },
  );

  add(
    "refresh-materialized-views",
    async ({ pool }) => {
      await pool.query("SELECT analytics.refresh_all_materialized_views()");
    },
    { cron: "*/5 * * * *" },
  );

  // Monthly partitions of the raw tables exist PARTITION_MONTHS_AHEAD months before their first
  // event (0060); daily, so a missed run or two changes nothing.
  add(
    "partitions-maintain",
    async ({ pool, log }) => {
      const created = await ensurePartitions(pool, config.PARTITION_MONTHS_AHEAD);
      if (created > 0) log(`partitions: created ${created} monthly partition(s)`);
      return { created };
    },
    { cron: "10 3 * * *" },
    { expireInSeconds: 30 * 60 },
  );

  // The ingest dedupe set and Idempotency-Key answers (0095): INGEST_DEDUPE_DAYS (default 90).
  add(
    "ingest-state-purge",
    async ({ pool, log }) => {
      const purged = await purgeIngestState(pool, ingestRetention);
      log(`ingest: purged ${purged.eventIds} event id(s), ${purged.idempotencyAnswers} idempotency answer(s)`);
      return purged;
    },
    { cron: "50 3 * * *" },
    { expireInSeconds: 60 * 60 },
  );

  add(
    "retention-cleanup",
    async ({ pool, log }) => {
      const { rows } = await pool.query<{ user_activity_deleted: string; hourly_metrics_deleted: string }>(
        "SELECT * FROM analytics.cleanup_old_data($1, $2)",
        [config.RETENTION_RAW_ACTIVITY_DAYS, config.RETENTION_HOURLY_DAYS],
      );
      log(
        `retention: deleted ${rows[0]?.user_activity_deleted ?? 0} activity event(s), ${rows[0]?.hourly_metrics_deleted ?? 0} hourly row(s)`,
      );
      return rows[0];
    },
    { cron: "40 3 * * *" },
    { expireInSeconds: 60 * 60 },
  );
}
