import type pg from "pg";
import { z } from "zod";

/** What every job handler gets: the owner connection (jobs write every tenant's rows) and a logger. */
export type JobContext = {
  ownerUrl: string;
  pool: pg.Pool;
  log: (line: string) => void;
};

export const jobScheduleSchema = z.union([
  // Sub-minute cadence (pg-boss cron is per minute): the job re-queues itself `everySeconds` after
  // each run; a per-minute cron watchdog restarts the chain if it ever breaks.
  z.object({ everySeconds: z.number().int().min(1).max(3_600) }),
  // A 5-field cron expression (minute precision), evaluated in `tz` (default UTC).
  z.object({ cron: z.string().regex(/^(\S+\s+){4}\S+$/, "cron needs 5 fields"), tz: z.string().optional() }),
]);
export type JobSchedule = z.infer<typeof jobScheduleSchema>;

export const jobOptionsSchema = z.object({
  /** Retries after a failure (exponential backoff from retryDelaySeconds). */
  retryLimit: z.number().int().min(0).max(100).default(5),
  retryDelaySeconds: z.number().int().min(1).max(3_600).default(5),
  /** A run taking longer than this is failed (and retried). */
  expireInSeconds: z
    .number()
    .int()
    .min(5)
    .max(86_400)
    .default(15 * 60),
});
export type JobOptions = z.input<typeof jobOptionsSchema>;

export type JobHandler = (ctx: JobContext) => Promise<unknown>;

export type JobDefinition = {
  name: string;
  handler: JobHandler;
  schedule: JobSchedule;
  options: z.infer<typeof jobOptionsSchema>;
};

const jobs = new Map<string, JobDefinition>();

// pg-boss queue names; kept to lowercase words joined by hyphens so logs and SQL stay readable.
const jobName = z.string().regex(/^[a-z][a-z0-9-]{0,48}$/, "job names are lowercase words joined by hyphens");

/**
 * Registers a background job with the worker (call before startWorker, e.g. from lib/worker/jobs.ts).
 * Failed runs are retried with exponential backoff and logged; nothing is dropped silently.
 */
export function registerJob(name: string, handler: JobHandler, schedule: JobSchedule, options: JobOptions = {}): void {
  const parsedName = jobName.parse(name);
  if (jobs.has(parsedName)) throw new Error(`job "${parsedName}" is already registered`);
  jobs.set(parsedName, {
    name: parsedName,
    handler,
    schedule: jobScheduleSchema.parse(schedule),
    options: jobOptionsSchema.parse(options),
  });
}

export function registeredJobs(): JobDefinition[] {
  return [...jobs.values()];
}

/** For tests: forget every registration. */
export function clearRegisteredJobs(): void {
  jobs.clear();
}
