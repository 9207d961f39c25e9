import type pg from "pg";
import { z } from "zod";

/**
 * Retention of the ingest bookkeeping (migration 0095): Idempotency-Key answers outlive their 24-hour
 * replay window by nothing, and client event ids (the dedupe set) are remembered for
 * INGEST_DEDUPE_DAYS — by default as long as raw activity is kept, so an event re-sent while its
 * rows still exist is always recognised.
 */
export const ingestRetentionEnv = z.object({
  INGEST_DEDUPE_DAYS: z.coerce
    .number({ error: "INGEST_DEDUPE_DAYS must be a whole number of days" })
    .int("INGEST_DEDUPE_DAYS must be a whole number of days")
    .min(1, "INGEST_DEDUPE_DAYS must be at least 1")
    .max(3650, "INGEST_DEDUPE_DAYS must be at most 3650")
    .default(90),
});

export type IngestRetention = { eventIdsKeepDays: number };
export type IngestPurgeResult = { idempotencyAnswers: number; eventIds: number };

export function ingestRetentionFromEnv(env: Record<string, string | undefined> = process.env): IngestRetention {
  const parsed = ingestRetentionEnv.safeParse(env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => issue.message).join("; "));
  return { eventIdsKeepDays: parsed.data.INGEST_DEDUPE_DAYS };
}

/** Deletes expired Idempotency-Key answers and event ids; run by the worker's daily job as the owner. */
export async function purgeIngestState(pool: pg.Pool, retention: IngestRetention): Promise<IngestPurgeResult> {
  const { rows } = await pool.query<{ idempotency_answers: number; event_ids: number }>(
    "SELECT idempotency_answers, event_ids FROM app.purge_ingest_state(interval '24 hours', make_interval(days => $1))",
    [retention.eventIdsKeepDays],
  );
  return { idempotencyAnswers: rows[0]?.idempotency_answers ?? 0, eventIds: rows[0]?.event_ids ?? 0 };
}
