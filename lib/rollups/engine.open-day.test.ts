import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { refreshDirtyRollups } from "./engine";

/**
 * The open-day throttle (RefreshOptions.openDayRefreshSeconds): hour rows of today are recomputed
 * every cycle, today's day rows at most once per interval, and what is throttled stays dirty until
 * it is done. Closed days are never throttled.
 */
let db: TestDatabase;
const ws = "00000000-0000-4000-8000-0000000000a1";
const user = "00000000-0000-4000-8000-0000000000a2";
const agent = "00000000-0000-4000-8000-0000000000a3";
const tz = "Asia/Kolkata"; // :30 zone: UTC hours straddle local midnight

beforeAll(async () => {
  db = await createTestDatabase();
  await db.owner.query("INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, 'od', 'OD', $2)", [
    ws,
    tz,
  ]);
  await db.owner.query(
    "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, $2, 'u', now() - interval '5 days')",
    [ws, user],
  );
  await db.owner.query("INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, $2, 'a', 'A')", [
    ws,
    agent,
  ]);
});
afterAll(async () => db.drop());

/** What ingest does: a run plus its dirty hour, in one statement. */
async function ingestRun(externalId: string, startedAtSql: string, credits: number) {
  await db.owner.query(
    `WITH run AS (
         INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
                                        runtime_seconds, credits_consumed)
         VALUES ($1, $2, $3, $4, 'completed', ${startedAtSql}, ${startedAtSql}, 0, $5) RETURNING started_at)
     INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
     SELECT $1, date_trunc('hour', started_at, 'UTC') FROM run ON CONFLICT DO NOTHING`,
    [ws, externalId, agent, user, credits],
  );
}

async function todayFigures() {
  const { rows } = await db.owner.query<{ daily: number | null; hourly: number; platform_daily: number | null }>(
    `SELECT (SELECT total_runs FROM analytics.daily_metrics
             WHERE workspace_id = $1 AND metric_date = (now() AT TIME ZONE $2)::date) AS daily,
            (SELECT coalesce(sum(total_runs), 0)::integer FROM analytics.hourly_metrics
             WHERE workspace_id = $1 AND metric_hour >= ((now() AT TIME ZONE $2)::date)::timestamp AT TIME ZONE $2) AS hourly,
            (SELECT total_runs FROM analytics.daily_metrics
             WHERE workspace_id IS NULL AND metric_date = (now() AT TIME ZONE 'UTC')::date) AS platform_daily`,
    [ws, tz],
  );
  return rows[0];
}

/** Hours of the workspace waiting for the hour pass (dirty) and for the day steps (day queue). */
const pendingHours = async () => {
  const { rows } = await db.owner.query<{ dirty: number; day: number }>(
    `SELECT (SELECT count(*) FROM analytics.rollup_dirty_hours WHERE workspace_id = $1)::integer AS dirty,
            (SELECT count(*) FROM analytics.rollup_day_dirty_hours WHERE workspace_id = $1)::integer AS day`,
    [ws],
  );
  return rows[0];
};

describe("open-day throttle", () => {
  it("keeps hourly rows immediate, defers today's day rows while fresh, and keeps the deferred hours queued", async () => {
    await ingestRun("t1", "now()", 1);
    const first = await refreshDirtyRollups(db.owner, { openDayRefreshSeconds: 3600 });
    // No day row yet: computed at once, nothing deferred.
    expect(first.deferredDays).toBe(0);
    expect(await todayFigures()).toEqual({ daily: 1, hourly: 1, platform_daily: 1 });

    await ingestRun("t2", "now()", 1);
    const second = await refreshDirtyRollups(db.owner, { openDayRefreshSeconds: 3600 });
    expect(second.deferredDays).toBeGreaterThanOrEqual(2); // the workspace day and the platform day
    expect(await todayFigures()).toEqual({ daily: 1, hourly: 2, platform_daily: 1 });
    // The hour rows are done (the hour left the dirty queue); the deferred day keeps it in the day queue.
    expect(await pendingHours()).toEqual({ dirty: 0, day: 1 });
    const platformDirty = await db.owner.query(
      "SELECT count(*)::integer AS n FROM analytics.rollup_platform_dirty_hours",
    );
    expect(platformDirty.rows[0].n).toBe(1);

    // Due (interval 0 = every cycle): the pending day is recomputed and the queue drains.
    const third = await refreshDirtyRollups(db.owner, { openDayRefreshSeconds: 0 });
    expect(third.deferredDays).toBe(0);
    expect(await todayFigures()).toEqual({ daily: 2, hourly: 2, platform_daily: 2 });
    expect(await pendingHours()).toEqual({ dirty: 0, day: 0 });
  });

  it("never throttles a closed day", async () => {
    await ingestRun("old1", "now() - interval '3 days'", 1);
    await refreshDirtyRollups(db.owner, { openDayRefreshSeconds: 3600 });
    await ingestRun("old2", "now() - interval '3 days'", 1);
    const stats = await refreshDirtyRollups(db.owner, { openDayRefreshSeconds: 3600 });
    expect(stats.deferredDays).toBe(0);
    const { rows } = await db.owner.query<{ total_runs: number }>(
      `SELECT total_runs FROM analytics.daily_metrics
       WHERE workspace_id = $1 AND metric_date = ((now() - interval '3 days') AT TIME ZONE $2)::date`,
      [ws, tz],
    );
    expect(rows).toEqual([{ total_runs: 2 }]);
    expect(await pendingHours()).toEqual({ dirty: 0, day: 0 });
  });
});
