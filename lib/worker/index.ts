import PgBoss from "pg-boss";
import pg from "pg";
import { registerDefaultJobs } from "./jobs";
import { registeredJobs, type JobContext, type JobDefinition } from "./registry";

export { registerJob, registeredJobs, type JobContext, type JobSchedule, type JobHandler } from "./registry";

/** pg-boss keeps its tables in this schema of the same database. */
export const WORKER_SCHEMA = "pgboss";

export type WorkerOptions = {
  ownerUrl: string;
  log?: (line: string) => void;
  /** Register the standard jobs (rollups, MV refresh, retention). Default true. */
  defaultJobs?: boolean;
};

export type StopWorker = () => Promise<void>;

/**
 * Starts pg-boss on the owner database and works every registered job. Returns a stop function
 * that lets running jobs finish (graceful, up to 30 s) and closes the connections.
 *
 * Sub-minute jobs chain themselves: each run queues the next `everySeconds` later in a "stately"
 * queue (at most one waiting and one running job), so any number of worker processes keep exactly
 * one chain; a per-minute cron sends to the same queue as a watchdog, deduplicated by the policy.
 */
export async function startWorker(options: WorkerOptions): Promise<StopWorker> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (options.defaultJobs !== false) registerDefaultJobs();
  const boss = new PgBoss({
    connectionString: options.ownerUrl,
    schema: WORKER_SCHEMA,
    application_name: "pulseboard-worker",
    max: 4,
    // Keep finished jobs a week for inspection (pgboss.archive), then delete.
    archiveCompletedAfterSeconds: 60 * 60,
    deleteAfterDays: 7,
  });
  boss.on("error", (error) => log(`worker: pg-boss error: ${error.message}`));
  await boss.start();
  // 5: the incremental cycle's hour pass alone takes 3 (its claim plus two helpers computing the
  // halves in parallel, lib/rollups/engine.ts); with fewer free it falls back to one connection and
  // one core. The rest serve the jobs running beside it (alerts, view refreshes, maintenance).
  const pool = new pg.Pool({ connectionString: options.ownerUrl, max: 5, application_name: "pulseboard-jobs" });
  // An idle connection dropped by the server (restart, shutdown) must not crash the process: log it;
  // the pool opens a new connection on the next job.
  pool.on("error", (error) => log(`worker: idle database connection lost: ${error.message}`));
  const ctx: JobContext = { ownerUrl: options.ownerUrl, pool, log };
  let stopping = false;

  const ensureQueue = async (job: JobDefinition) => {
    const queue = {
      name: job.name,
      policy: "everySeconds" in job.schedule ? ("stately" as const) : ("standard" as const),
      retryLimit: job.options.retryLimit,
      retryDelay: job.options.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: job.options.expireInSeconds,
    };
    if (await boss.getQueue(job.name)) await boss.updateQueue(job.name, queue);
    else await boss.createQueue(job.name, queue);
  };

  for (const job of registeredJobs()) {
    await ensureQueue(job);
    const every = "everySeconds" in job.schedule ? job.schedule.everySeconds : null;
    await boss.work(
      job.name,
      { batchSize: 1, pollingIntervalSeconds: every === null ? 2 : 1, includeMetadata: true },
      async ([task]) => {
        const started = Date.now();
        try {
          const result = await job.handler(ctx);
          return result ?? null;
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          const attempt = task ? task.retryCount + 1 : 1;
          log(
            `worker: job ${job.name} failed (attempt ${attempt} of ${job.options.retryLimit + 1}) after ${Date.now() - started} ms: ${message}`,
          );
          throw error; // pg-boss records the failure and retries with backoff
        } finally {
          if (every !== null && !stopping) {
            await boss.send(job.name, {}, { startAfter: every }).catch((error: Error) => {
              log(`worker: could not queue the next ${job.name}: ${error.message}`);
            });
          }
        }
      },
    );
    if (every !== null) {
      await boss.send(job.name, {});
      await boss.schedule(job.name, "* * * * *", {}, { tz: "UTC" });
    } else if ("cron" in job.schedule) {
      await boss.schedule(job.name, job.schedule.cron, {}, { tz: job.schedule.tz ?? "UTC" });
    }
  }
  log(
    `worker: started ${registeredJobs().length} job(s): ${registeredJobs()
      .map((j) => j.name)
      .join(", ")}`,
  );

  let stopped: Promise<void> | null = null;
  return () => {
    stopped ??= (async () => {
      stopping = true;
      await boss.stop({ graceful: true, timeout: 30_000, wait: true });
      await pool.end();
      log("worker: stopped");
    })();
    return stopped;
  };
}
