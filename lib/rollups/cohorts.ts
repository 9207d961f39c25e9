import type pg from "pg";
import { z } from "zod";

const writtenSchema = z.object({ written: z.coerce.number().int().nonnegative() });

/**
 * Recomputes the cohorts of every workspace and then the platform-wide rows (analytics.rollup_all_cohorts).
 * For the scheduler: once a day shortly after midnight UTC (periods become complete with the date,
 * not with new data) and after a backfill. Runs in one transaction as the owner; returns rows written.
 */
export async function refreshAllCohorts(owner: pg.Pool): Promise<number> {
  const { rows } = await owner.query("SELECT analytics.rollup_all_cohorts() AS written");
  return writtenSchema.parse(rows[0]).written;
}
