import pg from "pg";
import { z } from "zod";
import { rollupSteps, type RollupStep } from "./steps";

/**
 * The rollup engine: turns dirty (workspace, UTC hour) marks into recomputed rollup rows.
 *
 * Incremental (`refreshDirtyRollups`): per workspace, one transaction takes a per-workspace advisory
 * lock (a second worker skips that workspace instead of racing), claims dirty hours with
 * `FOR UPDATE SKIP LOCKED` by deleting them, maps them to the workspace-local days they touch, runs
 * every registered step, and queues the UTC hours for the platform-wide rows — all in the same
 * transaction, so a failed recompute rolls the claim back and the hours stay dirty. Platform-wide
 * rows then follow the same pattern from analytics.rollup_platform_dirty_hours.
 *
 * Backfill (`rebuildRollups`): set-based, one call per step per chunk of days, progress recorded in
 * analytics.rollup_rebuild_progress so an interrupted rebuild continues where it stopped.
 * All aggregation happens in the SQL step functions (migration 0020 and later).
 */

export type RollupSource = string | pg.Pool;

// Advisory lock classes (two-key form): (class, hashtext(workspace id)) per workspace, one key for
// the platform-wide rows. Backfills take the same locks, so they never race the incremental job.
const WORKSPACE_LOCK_CLASS = 7_202_620;
const PLATFORM_LOCK_CLASS = 7_202_621;
// Rebuilds only: (class, hashtext(workspace id)) = "writes this workspace's hour-step rows". A
// whole-platform rebuild writes every workspace's hourly_metrics from its platform chunks (grouped
// function, under the platform lock, which already keeps the incremental hour pass out) while its
// workspace chunks run in the other lane under the workspace locks; this key keeps a concurrent
// single-workspace rebuild's hour steps from writing the same rows at the same time, without making
// the platform chunk wait for the workspace chunks. Neither the platform chunk nor a workspace chunk
// holds one of these while waiting for a lock of another class, so they add no deadlock.
const HOUR_ROWS_LOCK_CLASS = 7_202_622;

async function withPool<T>(source: RollupSource, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  if (typeof source !== "string") return fn(source);
  const pool = new pg.Pool({ connectionString: source, max: 4 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/**
 * `monthDays`: in a rebuild, the days handed to `rebuildPeriod: "month"` steps (the rebuilt days of
 * the months this chunk completes); absent in the incremental cycle, where every step gets `days`.
 */
type Periods = { hours: string[]; days: string[]; monthDays?: string[] };

/** Runs every step for one scope (a workspace id, or null = platform-wide rows). */
async function runSteps(
  client: pg.PoolClient,
  steps: RollupStep[],
  workspaceId: string | null,
  periods: Periods,
  includeWorkspaceSteps: boolean,
): Promise<Record<string, number>> {
  const written: Record<string, number> = {};
  for (const step of steps) {
    if (workspaceId === null && !step.platform) continue;
    // step.sqlFunction passed the registry's identifier regex: safe to interpolate.
    let result: pg.QueryResult<{ n: number | null }>;
    if (step.grain === "hour") {
      if (periods.hours.length === 0) continue;
      result = await client.query(`SELECT ${step.sqlFunction}($1::uuid, $2::timestamptz[])::integer AS n`, [
        workspaceId,
        periods.hours,
      ]);
    } else if (step.grain === "day") {
      const days = step.rebuildPeriod === "month" && periods.monthDays ? periods.monthDays : periods.days;
      if (days.length === 0) continue;
      result = await client.query(`SELECT ${step.sqlFunction}($1::uuid, $2::date[])::integer AS n`, [
        workspaceId,
        days,
      ]);
    } else {
      if (!includeWorkspaceSteps) continue;
      result = await client.query(`SELECT ${step.sqlFunction}($1::uuid) IS NOT NULL AS n`, [workspaceId]);
    }
    written[step.name] = (written[step.name] ?? 0) + Number(result.rows[0]?.n ?? 0);
  }
  return written;
}

function addCounts(into: Record<string, number>, from: Record<string, number>) {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

export type RefreshStats = {
  workspaces: number;
  claimedHours: number;
  workspaceDays: number;
  platformHours: number;
  platformDays: number;
  /** Open (not yet ended) days whose day-grain steps were throttled; their hours stay dirty. */
  deferredDays: number;
  /** Workspaces another worker held the lock of (they are processed by that worker). */
  skippedLocked: number;
  /** Hour-pass islands computed in two halves on two helper connections (0 = one connection). */
  splitHourIslands: number;
  rowsWritten: Record<string, number>;
  durationMs: number;
};

export type RefreshOptions = {
  /** Dirty hours claimed per workspace per transaction (bounds transaction length). */
  batchHours?: number;
  /** Workspaces recomputed at the same time (default 2); each uses one connection. */
  concurrency?: number;
  steps?: RollupStep[];
  /**
   * Recompute the day-grain rows of a day that has not ended yet at most every this many seconds
   * per scope (hour rows stay immediate). 0 = every cycle. Default: ROLLUP_OPEN_DAY_REFRESH_SECONDS,
   * else 0. Freshness of daily rows is then this + the cycle interval + one cycle.
   */
  openDayRefreshSeconds?: number;
  /**
   * Compute the hour pass's grouped steps in two halves on two more pool connections (one snapshot,
   * two cores) when two are spare; otherwise, or with false, in one statement. Default true.
   */
  splitHourPass?: boolean;
  log?: (line: string) => void;
};

const openDayRefreshEnv = z.object({
  ROLLUP_OPEN_DAY_REFRESH_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(45, "ROLLUP_OPEN_DAY_REFRESH_SECONDS above 45 would break the 60 s freshness of daily rows")
    .default(0),
});

/**
 * SQL tail mapping the `claimed` hours to islands of nearby hours (a gap over 26 h starts a new one,
 * so no local day spans two islands): per island its UTC hour strings and local days (zone = tz).
 * Steps run once per island, so a late event from last month does not make the recompute scan the
 * whole month in between.
 */
const periodsOfClaim = (tzParam: string) => `
  , numbered AS (
      SELECT hour, sum(CASE WHEN hour - prev > interval '26 hours' THEN 1 ELSE 0 END) OVER (ORDER BY hour) AS island
      FROM (SELECT hour, lag(hour) OVER (ORDER BY hour) AS prev FROM claimed) c
  ), periods AS (
      SELECT island,
             array_agg(to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ORDER BY hour) AS hours,
             array(SELECT DISTINCT ((n2.hour + o.offset_from_start) AT TIME ZONE ${tzParam}::text)::date::text
                   FROM numbered n2, (VALUES (interval '0'), (interval '1 hour' - interval '1 microsecond')) AS o(offset_from_start)
                   WHERE n2.island = numbered.island ORDER BY 1) AS days
      FROM numbered GROUP BY island
  )`;

/** Runs the steps once per island; workspace-grain steps once, after the last island. */
async function runStepsPerIsland(
  client: pg.PoolClient,
  steps: RollupStep[],
  workspaceId: string | null,
  islands: Periods[],
): Promise<{ hours: number; days: number; written: Record<string, number> }> {
  const written: Record<string, number> = {};
  let hours = 0;
  let days = 0;
  for (const [index, island] of islands.entries()) {
    addCounts(written, await runSteps(client, steps, workspaceId, island, index === islands.length - 1));
    hours += island.hours.length;
    days += island.days.length;
  }
  return { hours, days, written };
}

type BatchResult = { hours: number; days: number; deferredDays: number; written: Record<string, number> };

/**
 * Open-day throttle. The day-grain steps recompute a whole local day from raw rows (exact distinct
 * counts and percentiles need every row), so at high ingest their cost grows with the day's volume,
 * while hour steps only read the touched hours. For a day that has not ended yet ("open": its local
 * end is after now) whose daily_metrics row was written less than `minIntervalSeconds` ago, the day
 * steps are skipped this cycle and the claimed hours of that day are put back into the dirty queue
 * (same transaction): the pending work is the dirty mark itself, so nothing is lost on a crash, and
 * the next cycle re-runs the (cheap, idempotent) hour steps and re-checks. Closed days (late events,
 * status changes of old runs) are never throttled. Returns the deferred days of the claim.
 */
async function deferOpenDays(
  client: pg.PoolClient,
  workspaceId: string | null,
  tz: string,
  islands: Periods[],
  minIntervalSeconds: number,
): Promise<Set<string>> {
  if (minIntervalSeconds <= 0 || islands.length === 0) return new Set();
  const days = islands.flatMap((island) => island.days);
  const hours = islands.flatMap((island) => island.hours);
  const { rows } = await client.query<{ day: string }>(
    `SELECT d::text AS day FROM unnest($2::date[]) AS d
     WHERE (d + 1)::timestamp AT TIME ZONE $3::text > now()
       AND EXISTS (SELECT 1 FROM analytics.daily_metrics m
                   WHERE m.workspace_id IS NOT DISTINCT FROM $1::uuid AND m.metric_date = d
                     AND m.updated_at > now() - make_interval(secs => $4::double precision))`,
    [workspaceId, days, tz, minIntervalSeconds],
  );
  const deferred = new Set(rows.map((row) => row.day));
  if (deferred.size === 0) return deferred;
  // An hour belongs to the local day of its first and of its last instant (an hour can straddle
  // local midnight in :30/:45 zones): it stays dirty if either day was deferred.
  const hourOfDeferredDay = `SELECT h FROM unnest($1::timestamptz[]) AS h
     WHERE (h AT TIME ZONE $2::text)::date = ANY ($3::date[])
        OR ((h + interval '1 hour' - interval '1 microsecond') AT TIME ZONE $2::text)::date = ANY ($3::date[])`;
  if (workspaceId === null) {
    await client.query(
      `INSERT INTO analytics.rollup_platform_dirty_hours (hour) ${hourOfDeferredDay} ON CONFLICT (hour) DO NOTHING`,
      [hours, tz, [...deferred]],
    );
  } else {
    await client.query(
      `INSERT INTO analytics.rollup_day_dirty_hours (workspace_id, hour)
       SELECT $4::uuid, h FROM (${hourOfDeferredDay}) AS deferred_hours ON CONFLICT DO NOTHING`,
      [hours, tz, [...deferred], workspaceId],
    );
  }
  return deferred;
}

/** Claimed islands with the deferred days removed from their day lists (hour steps still run). */
function withoutDeferredDays(islands: Periods[], deferred: Set<string>): Periods[] {
  if (deferred.size === 0) return islands;
  return islands.map((island) => ({ hours: island.hours, days: island.days.filter((day) => !deferred.has(day)) }));
}

/**
 * Claims one batch of one workspace's hours from the day queue (their hour rows are done) and runs
 * the day and workspace steps for them. null = locked by another worker.
 */
async function refreshWorkspaceBatch(
  pool: pg.Pool,
  workspaceId: string,
  steps: RollupStep[],
  batchHours: number,
  openDayRefreshSeconds: number,
): Promise<BatchResult | null> {
  return inTransaction(pool, async (client) => {
    const locked = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok", [
      WORKSPACE_LOCK_CLASS,
      workspaceId,
    ]);
    if (!locked.rows[0].ok) return null;
    const tz = await timezoneOf(client, workspaceId);
    const claim = await client.query<Periods>(
      `WITH picked AS (
           SELECT hour FROM analytics.rollup_day_dirty_hours WHERE workspace_id = $1
           ORDER BY hour LIMIT $2 FOR UPDATE SKIP LOCKED
       ), claimed AS (
           DELETE FROM analytics.rollup_day_dirty_hours d USING picked
           WHERE d.workspace_id = $1 AND d.hour = picked.hour
           RETURNING d.hour
       ) ${periodsOfClaim("$3")}
       SELECT hours, days FROM periods ORDER BY island`,
      [workspaceId, batchHours, tz],
    );
    const deferred = await deferOpenDays(client, workspaceId, tz, claim.rows, openDayRefreshSeconds);
    // The dimension steps rewrite run_hourly / llm_usage_hourly by DELETE + INSERT; their statement
    // triggers would refresh the daily tables of the touched days after each (0125): once at the end.
    await client.query("SELECT analytics.defer_daily_totals()");
    const result = await runStepsPerIsland(client, steps, workspaceId, withoutDeferredDays(claim.rows, deferred));
    await client.query("SELECT analytics.flush_deferred_daily_totals()");
    return { ...result, deferredDays: deferred.size };
  });
}

type HourPassResult = {
  workspaces: string[];
  hours: number;
  skippedLocked: number;
  /** Islands whose grouped step ran as two halves on two helper connections. */
  splitIslands: number;
  written: Record<string, number>;
};

/**
 * Connections the pool can hand out right now without waiting. The hour pass asks for helpers only
 * when two are spare: waiting for one while holding the claim could deadlock against a holder of a
 * pool connection that waits for our locks (a rebuild chunk blocks on the platform lock).
 */
function spareConnections(pool: pg.Pool): number {
  const max = pool.options.max ?? 10; // pg-pool's default
  return pool.idleCount + Math.max(0, max - pool.totalCount) - pool.waitingCount;
}

// What pg_export_snapshot() returns (e.g. 00000003-0000001B-1); checked before it is interpolated
// into SET TRANSACTION SNAPSHOT, which takes no bind parameters.
const SNAPSHOT_ID = /^[0-9A-F]+(-[0-9A-F]+)+$/i;

async function closeReader(client: pg.PoolClient): Promise<void> {
  try {
    // Read-only: nothing to commit. A failed ROLLBACK means a broken connection: drop it.
    await client.query("ROLLBACK");
    client.release();
  } catch (error) {
    client.release(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Two read-only helper transactions that see exactly what `owner` (the claim transaction) sees now:
 * the owner exports its snapshot, each helper imports it into a REPEATABLE READ READ ONLY
 * transaction (its own statements then all read that one snapshot; the owner's, in READ COMMITTED,
 * would each take a newer one, so the owner computes no half itself). The helpers write nothing and
 * take only the share locks of their reads, none of the claim's locks. null = fewer than two
 * connections spare (the caller computes in one statement instead).
 */
async function openSnapshotReaders(
  pool: pg.Pool,
  owner: pg.PoolClient,
): Promise<[pg.PoolClient, pg.PoolClient] | null> {
  if (spareConnections(pool) < 2) return null;
  // Both requests are queued in this tick, while the pool has room for both: neither waits.
  const settled = await Promise.allSettled([pool.connect(), pool.connect()]);
  const clients = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  if (clients.length < 2) {
    // E.g. the server's connection limit: compute in one statement rather than fail the cycle.
    for (const client of clients) client.release();
    return null;
  }
  const readers: [pg.PoolClient, pg.PoolClient] = [clients[0], clients[1]];
  try {
    const { rows } = await owner.query<{ snapshot: string }>("SELECT pg_export_snapshot() AS snapshot");
    const snapshot = rows[0].snapshot;
    if (!SNAPSHOT_ID.test(snapshot)) throw new Error(`unexpected snapshot id ${JSON.stringify(snapshot)}`);
    await Promise.all(
      readers.map(async (reader) => {
        await reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        await reader.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
      }),
    );
  } catch (error) {
    await Promise.all(readers.map(closeReader));
    throw error;
  }
  return readers;
}

/** Runs both queries, waits for both (a connection is released only when idle), then throws the first failure. */
async function bothSettled<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "rejected") throw a.reason;
  if (b.status === "rejected") throw b.reason;
  return [a.value, b.value];
}

/** Splits sorted UTC hour strings into runs with gaps of at most `maxGapHours` (one range scan each). */
function hourIslands(sortedHours: string[], maxGapHours: number): string[][] {
  const islands: string[][] = [];
  let previous = Number.NEGATIVE_INFINITY;
  for (const hour of sortedHours) {
    const at = Date.parse(hour);
    if (at - previous > maxGapHours * 3_600_000 || islands.length === 0) islands.push([]);
    islands[islands.length - 1].push(hour);
    previous = at;
  }
  return islands;
}

/**
 * The hour pass of a cycle: one transaction that claims the dirty hours of every workspace it can
 * lock (skipping those another worker or a rebuild holds), recomputes the hour-grain rows of those
 * workspaces and of the platform, and moves the claimed hours to analytics.rollup_day_dirty_hours
 * for the day steps. Steps with a groupedFunction read each island of hours once for all
 * workspaces and the platform (interleaved ingest puts every workspace on the same pages, so one
 * statement per workspace re-read them N + 1 times). Holding the platform lock serialises hour
 * passes and platform rebuild chunks; null = another holds it (its owner processes the hours).
 * A step with a groupedSplit (and `splitAllowed`, and two spare pool connections) has its two halves
 * computed at the same time on two helper connections reading this transaction's snapshot, so the
 * pass uses two cores; only this transaction writes.
 */
async function refreshHourPass(
  pool: pg.Pool,
  steps: RollupStep[],
  batchHours: number,
  splitAllowed: boolean,
): Promise<HourPassResult | null> {
  return inTransaction(pool, async (client) => {
    const platformLock = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1, 0) AS ok", [
      PLATFORM_LOCK_CLASS,
    ]);
    if (!platformLock.rows[0].ok) return null;
    const { rows: candidates } = await client.query<{ workspace_id: string }>(
      "SELECT DISTINCT workspace_id::text FROM analytics.rollup_dirty_hours ORDER BY 1",
    );
    if (candidates.length === 0) return { workspaces: [], hours: 0, skippedLocked: 0, splitIslands: 0, written: {} };
    // Same lock keys as the per-workspace batches and rebuilds (hashtext of the id's text form).
    const { rows: lockedRows } = await client.query<{ workspace_id: string }>(
      `SELECT w AS workspace_id FROM unnest($2::text[]) AS w WHERE pg_try_advisory_xact_lock($1, hashtext(w))`,
      [WORKSPACE_LOCK_CLASS, candidates.map((c) => c.workspace_id)],
    );
    const locked = lockedRows.map((row) => row.workspace_id);
    const skippedLocked = candidates.length - locked.length;
    if (locked.length === 0) return { workspaces: [], hours: 0, skippedLocked, splitIslands: 0, written: {} };
    const { rows: claimed } = await client.query<{ workspace_id: string; hours: string[] }>(
      `WITH picked AS (
           SELECT workspace_id, hour FROM analytics.rollup_dirty_hours WHERE workspace_id = ANY ($1::uuid[])
           ORDER BY hour, workspace_id LIMIT $2 FOR UPDATE SKIP LOCKED
       ), claimed AS (
           DELETE FROM analytics.rollup_dirty_hours d USING picked
           WHERE d.workspace_id = picked.workspace_id AND d.hour = picked.hour
           RETURNING d.workspace_id, d.hour
       ), queued_for_days AS (
           INSERT INTO analytics.rollup_day_dirty_hours (workspace_id, hour)
           SELECT workspace_id, hour FROM claimed ORDER BY workspace_id, hour
           ON CONFLICT (workspace_id, hour) DO NOTHING
       ), queued_for_platform AS (
           -- Here, not in the day batches: the platform's day rows are computed from raw rows, so the
           -- platform batch can run beside the workspace batches instead of after them.
           INSERT INTO analytics.rollup_platform_dirty_hours (hour)
           SELECT DISTINCT hour FROM claimed ORDER BY hour
           ON CONFLICT (hour) DO NOTHING
       )
       SELECT workspace_id::text,
              array_agg(to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ORDER BY hour) AS hours
       FROM claimed GROUP BY workspace_id ORDER BY workspace_id`,
      [locked, batchHours * locked.length],
    );
    const written: Record<string, number> = {};
    const workspaces = claimed.map((row) => row.workspace_id);
    const allHours = [...new Set(claimed.flatMap((row) => row.hours))].sort();
    let hours = 0;
    for (const row of claimed) hours += row.hours.length;
    if (allHours.length === 0) return { workspaces, hours, skippedLocked, splitIslands: 0, written };
    // A gap of more than 3 hours starts a new range scan: a late event from last week does not make
    // the pass read the week in between.
    const islands = hourIslands(allHours, 3);
    let splitIslands = 0;
    // Opened at the first split step, closed before the claim commits (or rolls back).
    let readers: [pg.PoolClient, pg.PoolClient] | null | undefined;
    try {
      for (const step of steps) {
        if (step.grain !== "hour") continue;
        let n = 0;
        // step.sqlFunction / groupedFunction / groupedSplit passed the registry's identifier regex:
        // safe to interpolate.
        const split = splitAllowed ? step.groupedSplit : undefined;
        if (split && readers === undefined) readers = await openSnapshotReaders(pool, client);
        if (step.groupedFunction && split && readers) {
          // Two cores: each helper computes one half for every scope of the island from the claim's
          // snapshot; the claim holder combines and upserts. A failing half throws here and rolls the
          // claim back (the helpers wrote nothing): the hours stay dirty.
          for (const island of islands) {
            const [first, second] = await bothSettled(
              readers[0].query<{ half: string }>(`SELECT ${split.halfFunctions[0]}($1::timestamptz[])::text AS half`, [
                island,
              ]),
              readers[1].query<{ half: string }>(`SELECT ${split.halfFunctions[1]}($1::timestamptz[])::text AS half`, [
                island,
              ]),
            );
            // jsonb crosses as text: numeric values stay exact (no JavaScript numbers in between).
            const result = await client.query<{ n: number | null }>(
              `SELECT ${split.combineFunction}($1::timestamptz[], $2::uuid[], $3::jsonb, $4::jsonb)::integer AS n`,
              [island, workspaces, first.rows[0].half, second.rows[0].half],
            );
            n += Number(result.rows[0]?.n ?? 0);
            splitIslands += 1;
          }
        } else if (step.groupedFunction) {
          for (const island of islands) {
            const result = await client.query<{ n: number | null }>(
              `SELECT ${step.groupedFunction}($1::timestamptz[], $2::uuid[])::integer AS n`,
              [island, workspaces],
            );
            n += Number(result.rows[0]?.n ?? 0);
          }
        } else {
          for (const row of claimed) {
            for (const island of hourIslands(row.hours, 3)) {
              const result = await client.query<{ n: number | null }>(
                `SELECT ${step.sqlFunction}($1::uuid, $2::timestamptz[])::integer AS n`,
                [row.workspace_id, island],
              );
              n += Number(result.rows[0]?.n ?? 0);
            }
          }
          if (step.platform) {
            for (const island of islands) {
              const result = await client.query<{ n: number | null }>(
                `SELECT ${step.sqlFunction}(NULL::uuid, $1::timestamptz[])::integer AS n`,
                [island],
              );
              n += Number(result.rows[0]?.n ?? 0);
            }
          }
        }
        written[step.name] = (written[step.name] ?? 0) + n;
      }
    } finally {
      if (readers) await Promise.all(readers.map(closeReader));
    }
    return { workspaces, hours, skippedLocked, splitIslands, written };
  });
}

async function timezoneOf(client: pg.PoolClient, workspaceId: string | null): Promise<string> {
  const { rows } = await client.query<{ tz: string }>("SELECT analytics.workspace_timezone($1::uuid) AS tz", [
    workspaceId,
  ]);
  return rows[0].tz;
}

async function refreshPlatformBatch(
  pool: pg.Pool,
  steps: RollupStep[],
  batchHours: number,
  openDayRefreshSeconds: number,
): Promise<BatchResult | null> {
  return inTransaction(pool, async (client) => {
    const locked = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1, 0) AS ok", [
      PLATFORM_LOCK_CLASS,
    ]);
    if (!locked.rows[0].ok) return null;
    const claim = await client.query<Periods>(
      `WITH picked AS (
           SELECT hour FROM analytics.rollup_platform_dirty_hours ORDER BY hour LIMIT $1 FOR UPDATE SKIP LOCKED
       ), claimed AS (
           DELETE FROM analytics.rollup_platform_dirty_hours d USING picked WHERE d.hour = picked.hour
           RETURNING d.hour
       ) ${periodsOfClaim("$2")}
       SELECT hours, days FROM periods ORDER BY island`,
      [batchHours, "UTC"],
    );
    const deferred = await deferOpenDays(client, null, "UTC", claim.rows, openDayRefreshSeconds);
    const result = await runStepsPerIsland(client, steps, null, withoutDeferredDays(claim.rows, deferred));
    return { ...result, deferredDays: deferred.size };
  });
}

/** The platform's workspace-grain steps, under the platform lock. null = locked by another worker. */
async function refreshPlatformWorkspaceSteps(
  pool: pg.Pool,
  steps: RollupStep[],
): Promise<Record<string, number> | null> {
  return inTransaction(pool, async (client) => {
    const locked = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock($1, 0) AS ok", [
      PLATFORM_LOCK_CLASS,
    ]);
    if (!locked.rows[0].ok) return null;
    return runSteps(client, steps, null, { hours: [], days: [] }, true);
  });
}

/**
 * One incremental cycle: recompute every period marked dirty, for every workspace, then the
 * platform-wide rows. Safe to run concurrently (other workers skip locked workspaces) and
 * repeatedly (recomputes are idempotent). A workspace whose recompute fails keeps its dirty hours;
 * the others still complete, and the cycle throws at the end so the job is retried.
 */
export async function refreshDirtyRollups(source: RollupSource, options: RefreshOptions = {}): Promise<RefreshStats> {
  const started = Date.now();
  const steps = options.steps ?? rollupSteps();
  const batchHours = options.batchHours ?? 500;
  const concurrency = Math.max(1, Math.min(8, options.concurrency ?? 2));
  const openDayRefreshSeconds = Math.max(
    0,
    options.openDayRefreshSeconds ?? openDayRefreshEnv.parse(process.env).ROLLUP_OPEN_DAY_REFRESH_SECONDS,
  );
  const stats: RefreshStats = {
    workspaces: 0,
    claimedHours: 0,
    workspaceDays: 0,
    platformHours: 0,
    platformDays: 0,
    deferredDays: 0,
    skippedLocked: 0,
    splitHourIslands: 0,
    rowsWritten: {},
    durationMs: 0,
  };
  const failures: string[] = [];
  const touchedWorkspaces = new Set<string>();
  // Hour steps run in the hour pass only; the day batches and the platform batch run the rest.
  const laterSteps = steps.filter((step) => step.grain !== "hour");
  await withPool(source, async (pool) => {
    // 1. Hour pass: all lockable workspaces and the platform together, in bounded transactions;
    //    hours marked meanwhile wait for the next cycle.
    try {
      for (let pass = 0; pass < 100; pass += 1) {
        const hourPass = await refreshHourPass(pool, steps, batchHours, options.splitHourPass ?? true);
        if (hourPass === null) {
          stats.skippedLocked += 1;
          break;
        }
        if (pass === 0) stats.skippedLocked += hourPass.skippedLocked;
        if (hourPass.hours === 0) break;
        stats.claimedHours += hourPass.hours;
        stats.splitHourIslands += hourPass.splitIslands;
        for (const workspaceId of hourPass.workspaces) touchedWorkspaces.add(workspaceId);
        addCounts(stats.rowsWritten, hourPass.written);
        if (hourPass.hours < batchHours * Math.max(1, hourPass.workspaces.length)) break;
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      failures.push(`hour pass: ${message}`);
      options.log?.(`rollup hour pass failed (its hours stay dirty): ${message}`);
    }
    // 2. Day steps of the platform and day and workspace steps per workspace, from the day queues.
    //    The platform's day rows are computed from raw rows, not from workspace rows, so its batch is
    //    one more item for the lanes; it goes first, being the largest (it reads every workspace's
    //    rows: ~6 s of a 44 s cycle at medium scale, during which one core idled when it ran last).
    const { rows } = await pool.query<{ workspace_id: string }>(
      "SELECT DISTINCT workspace_id FROM analytics.rollup_day_dirty_hours ORDER BY workspace_id",
    );
    const dayGrainSteps = laterSteps.filter((step) => step.grain === "day");
    const platformWorkspaceSteps = laterSteps.filter((step) => step.grain === "workspace" && step.platform);
    const queue: (string | null)[] = [null, ...rows.map((row) => row.workspace_id)];
    const refreshWorkspace = async (workspaceId: string) => {
      try {
        // Drain this workspace in bounded transactions; hours queued meanwhile wait for the next cycle.
        for (let pass = 0; pass < 100; pass += 1) {
          const batch = await refreshWorkspaceBatch(pool, workspaceId, laterSteps, batchHours, openDayRefreshSeconds);
          if (batch === null) {
            stats.skippedLocked += 1;
            break;
          }
          if (batch.hours === 0) break;
          touchedWorkspaces.add(workspaceId);
          stats.workspaceDays += batch.days;
          stats.deferredDays += batch.deferredDays;
          addCounts(stats.rowsWritten, batch.written);
          if (batch.hours < batchHours) break;
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`workspace ${workspaceId}: ${message}`);
        options.log?.(`rollup of workspace ${workspaceId} failed (its hours stay queued): ${message}`);
      }
    };
    let platformClaimed = false;
    const refreshPlatformDays = async () => {
      try {
        for (let pass = 0; pass < 100; pass += 1) {
          const batch = await refreshPlatformBatch(pool, dayGrainSteps, batchHours, openDayRefreshSeconds);
          if (batch === null || batch.hours === 0) break;
          platformClaimed = true;
          stats.platformHours += batch.hours;
          stats.platformDays += batch.days;
          stats.deferredDays += batch.deferredDays;
          addCounts(stats.rowsWritten, batch.written);
          if (batch.hours < batchHours) break;
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`platform: ${message}`);
      }
    };
    // Scopes are independent (own lock, own rows): a few lanes use the server's cores.
    const lane = async () => {
      while (queue.length > 0) {
        const next = queue.shift();
        if (next === null) await refreshPlatformDays();
        else if (next !== undefined) await refreshWorkspace(next);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, lane));
    // 3. The platform's workspace-grain steps (cohorts: platform rows from the workspace rows just
    //    written), after every lane.
    if (platformWorkspaceSteps.length > 0 && (platformClaimed || touchedWorkspaces.size > 0)) {
      try {
        addCounts(stats.rowsWritten, (await refreshPlatformWorkspaceSteps(pool, platformWorkspaceSteps)) ?? {});
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`platform: ${message}`);
      }
    }
  });
  stats.workspaces = touchedWorkspaces.size;
  stats.durationMs = Date.now() - started;
  if (failures.length > 0) {
    throw new Error(`rollup cycle failed for ${failures.length} scope(s): ${failures.join("; ")}`);
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Backfill

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "dates are YYYY-MM-DD")
  // Round-trip so 2026-02-30 is refused here, not by PostgreSQL mid-rebuild.
  .refine((s) => !Number.isNaN(Date.parse(s)) && new Date(Date.parse(s)).toISOString().slice(0, 10) === s, {
    message: "not a calendar date",
  });

export const rebuildOptionsSchema = z
  .object({
    from: isoDate,
    to: isoDate,
    workspaceId: z.guid().optional(),
    /** Days per statement: larger chunks are faster per day but hold locks longer. */
    chunkDays: z.number().int().min(1).max(366).default(7),
    /** Scopes (workspaces, platform) rebuilt at the same time; each uses one connection. */
    concurrency: z.number().int().min(1).max(16).default(2),
  })
  .refine((o) => o.from <= o.to, { message: "--from must not be after --to", path: ["from"] })
  .refine((o) => (Date.parse(o.to) - Date.parse(o.from)) / 86_400_000 <= 3_660, {
    message: "a rebuild covers at most 10 years",
    path: ["to"],
  });
export type RebuildOptions = z.input<typeof rebuildOptionsSchema>;

export type RebuildProgress = { doneDays: number; totalDays: number; scope: string; throughDay: string };

export type RebuildStats = {
  scopes: number;
  totalDays: number;
  /** Days already done by an earlier, interrupted run with the same arguments. */
  resumedDays: number;
  rowsWritten: Record<string, number>;
  /** Of durationMs: the closing VACUUM (ANALYZE) of the rewritten tables. */
  vacuumMs: number;
  durationMs: number;
};

/**
 * Recomputes every rollup for local days [from, to] of one workspace (or all), plus the platform-wide
 * rows of those UTC days. Resumable: progress per scope is committed with each chunk, and a rerun
 * with the same arguments skips finished chunks. Finished rebuilds leave no progress behind.
 *
 * Scheduling (docs/notes/rollups.md, "Session 3: rebuild"): the platform scope is started first, so
 * the lanes end together with workspace scopes instead of the platform scope running alone at the
 * end. In a whole-platform rebuild (no workspaceId) the platform chunks also compute every
 * workspace's hourly rows through the hour steps' groupedFunction (one read of the raw rows for all
 * workspaces and the platform, hours widened at the ends to cover every workspace's local days), and
 * the workspace chunks skip those steps. The platform's workspace-grain steps (cohorts, derived from
 * the workspace rows) run last, after every scope. Each chunk defers the daily-totals triggers of
 * the dimension tables to one refresh per touched day (0125).
 */
export async function rebuildRollups(
  source: RollupSource,
  options: RebuildOptions & { onProgress?: (progress: RebuildProgress) => void; steps?: RollupStep[] },
): Promise<RebuildStats> {
  const parsed = rebuildOptionsSchema.parse(options);
  const steps = options.steps ?? rollupSteps();
  const started = Date.now();
  const rebuildKey = `${parsed.from}..${parsed.to}@${parsed.workspaceId ?? "*"}`;
  const rowsWritten: Record<string, number> = {};
  return withPool(source, async (pool) => {
    if (parsed.workspaceId) {
      const found = await pool.query("SELECT 1 FROM public.workspaces WHERE id = $1", [parsed.workspaceId]);
      if (found.rowCount === 0) throw new Error(`workspace ${parsed.workspaceId} does not exist`);
    }
    await pool.query(
      `INSERT INTO analytics.rollup_rebuild_progress (rebuild_key, scope, next_day, last_day)
       SELECT $1, scope, $2::date, $3::date
       FROM (SELECT id::text AS scope FROM public.workspaces WHERE $4::uuid IS NULL OR id = $4::uuid
             UNION ALL SELECT 'platform') s
       ON CONFLICT (rebuild_key, scope) DO NOTHING`,
      [rebuildKey, parsed.from, parsed.to, parsed.workspaceId ?? null],
    );
    // Platform first: it is as big as all workspaces together in a whole-platform rebuild.
    const { rows: scopes } = await pool.query<{ scope: string; next_day: string; finished: boolean; done: number }>(
      `SELECT scope, next_day::text, finished, (next_day - $2::date)::integer AS done
       FROM analytics.rollup_rebuild_progress WHERE rebuild_key = $1
       ORDER BY scope <> 'platform', scope`,
      [rebuildKey, parsed.from],
    );
    const daysPerScope = Math.round((Date.parse(parsed.to) - Date.parse(parsed.from)) / 86_400_000) + 1;
    const totalDays = daysPerScope * scopes.length;
    const resumedDays = scopes.reduce((sum, s) => sum + (s.finished ? daysPerScope : s.done), 0);
    let doneDays = resumedDays;
    const queue = scopes.filter((scope) => !scope.finished);
    // Every workspace of a whole-platform rebuild: the grouped hour steps write all of them. (With no
    // workspace at all the platform chunks run the hour steps' sqlFunction, as a single-workspace
    // rebuild does.)
    const allWorkspaces = parsed.workspaceId
      ? []
      : (await pool.query<{ id: string }>("SELECT id::text FROM public.workspaces ORDER BY id")).rows.map((r) => r.id);
    const groupedSteps =
      allWorkspaces.length > 0 ? steps.filter((step) => step.grain === "hour" && step.groupedFunction) : [];
    const chunkSteps = steps.filter((step) => !groupedSteps.includes(step));
    const platformFinalSteps = chunkSteps.filter((step) => step.grain === "workspace" && step.platform);
    const rebuildScope = async (scope: (typeof scopes)[number]) => {
      const workspaceId = scope.scope === "platform" ? null : scope.scope;
      const grouped = workspaceId === null && groupedSteps.length > 0;
      for (;;) {
        const chunk = await inTransaction(pool, async (client) => {
          if (workspaceId === null) {
            await client.query("SELECT pg_advisory_xact_lock($1, 0)", [PLATFORM_LOCK_CLASS]);
            if (grouped) {
              await client.query("SELECT count(pg_advisory_xact_lock($1, hashtext(w))) FROM unnest($2::text[]) AS w", [
                HOUR_ROWS_LOCK_CLASS,
                allWorkspaces,
              ]);
            }
          } else {
            await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [WORKSPACE_LOCK_CLASS, workspaceId]);
            if (chunkSteps.some((step) => step.grain === "hour")) {
              await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [HOUR_ROWS_LOCK_CLASS, workspaceId]);
            }
          }
          // Re-read under the lock: another rebuild with the same key may have advanced it.
          // month_days: the rebuilt days (from $5 on) of every month whose last day, or the rebuild's
          // last day, falls in this chunk; months closed by an earlier chunk start before next_day's month.
          // hours: the chunk's local days' UTC hours; with $6 (grouped platform chunk) the first chunk
          // starts at the earliest and the last chunk ends at the latest local midnight of any
          // workspace, so the grouped steps cover every workspace's local days [from, to].
          const { rows } = await client.query<
            Periods & { month_days: string[]; chunk_end: string; finished: boolean; n: number }
          >(
            `WITH p AS (
                 SELECT next_day, least(next_day + ($3::integer - 1), last_day) AS chunk_end, last_day, finished
                 FROM analytics.rollup_rebuild_progress WHERE rebuild_key = $1 AND scope = $2 FOR UPDATE
             ), tz AS (SELECT analytics.workspace_timezone($4::uuid) AS name
             ), bounds AS (
                 SELECT CASE WHEN $6::boolean AND p.next_day = $5::date
                             THEN (SELECT least(min(p.next_day::timestamp AT TIME ZONE w.timezone),
                                                p.next_day::timestamp AT TIME ZONE tz.name) FROM public.workspaces w)
                             ELSE p.next_day::timestamp AT TIME ZONE tz.name END AS lo,
                        CASE WHEN $6::boolean AND p.chunk_end >= p.last_day
                             THEN (SELECT greatest(max((p.chunk_end + 1)::timestamp AT TIME ZONE w.timezone),
                                                   (p.chunk_end + 1)::timestamp AT TIME ZONE tz.name) FROM public.workspaces w)
                             ELSE (p.chunk_end + 1)::timestamp AT TIME ZONE tz.name END AS hi
                 FROM p, tz
             )
             SELECT chunk_end::text, finished, (chunk_end - next_day + 1)::integer AS n,
                    array(SELECT d::date::text FROM generate_series(next_day, chunk_end, interval '1 day') d) AS days,
                    array(SELECT d::date::text
                          FROM generate_series(greatest($5::date, date_trunc('month', next_day)::date), chunk_end, interval '1 day') d
                          WHERE chunk_end >= last_day
                             OR (date_trunc('month', d) + interval '1 month - 1 day')::date <= chunk_end) AS month_days,
                    array(SELECT to_char(h AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                          FROM generate_series(date_trunc('hour', bounds.lo, 'UTC'), bounds.hi - interval '1 microsecond',
                                               interval '1 hour') h) AS hours
             FROM p, bounds`,
            [rebuildKey, scope.scope, parsed.chunkDays, workspaceId, parsed.from, grouped],
          );
          const row = rows[0];
          if (!row || row.finished) return null;
          const finishing = row.chunk_end >= parsed.to;
          // Dimension daily tables: one refresh per touched day at the end of the chunk (0125).
          await client.query("SELECT analytics.defer_daily_totals()");
          const written: Record<string, number> = {};
          if (grouped) {
            for (const step of groupedSteps) {
              // groupedFunction passed the registry's identifier regex: safe to interpolate.
              const result = await client.query<{ n: number | null }>(
                `SELECT ${step.groupedFunction}($1::timestamptz[], $2::uuid[])::integer AS n`,
                [row.hours, allWorkspaces],
              );
              written[step.name] = Number(result.rows[0]?.n ?? 0);
            }
          }
          addCounts(
            written,
            await runSteps(
              client,
              chunkSteps,
              workspaceId,
              { hours: row.hours, days: row.days, monthDays: row.month_days },
              // The platform's workspace-grain steps read the workspaces' rows: they run after all scopes.
              finishing && workspaceId !== null,
            ),
          );
          await client.query("SELECT analytics.flush_deferred_daily_totals()");
          await client.query(
            `UPDATE analytics.rollup_rebuild_progress SET next_day = $3::date + 1, finished = $4
             WHERE rebuild_key = $1 AND scope = $2`,
            [rebuildKey, scope.scope, row.chunk_end, finishing],
          );
          return { days: row.n, throughDay: row.chunk_end, finishing, written };
        });
        if (chunk === null) break;
        addCounts(rowsWritten, chunk.written);
        doneDays += chunk.days;
        options.onProgress?.({ doneDays, totalDays, scope: scope.scope, throughDay: chunk.throughDay });
        if (chunk.finishing) break;
      }
    };
    // A failing lane stops the others from taking new scopes; committed chunks stay for the rerun.
    let failed = false;
    const lane = async () => {
      for (let scope = queue.shift(); scope && !failed; scope = queue.shift()) {
        try {
          await rebuildScope(scope);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const lanes = await Promise.allSettled(
      Array.from({ length: Math.min(parsed.concurrency, Math.max(1, queue.length)) }, lane),
    );
    const firstFailure = lanes.find((lane): lane is PromiseRejectedResult => lane.status === "rejected");
    if (firstFailure) throw firstFailure.reason;
    // Every scope is finished (also when an earlier run finished them and stopped before this step,
    // whose progress rows are still there): the platform's workspace-grain steps, then the cleanup.
    if (platformFinalSteps.length > 0) {
      const written = await inTransaction(pool, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock($1, 0)", [PLATFORM_LOCK_CLASS]);
        return runSteps(client, platformFinalSteps, null, { hours: [], days: [] }, true);
      });
      addCounts(rowsWritten, written);
    }
    await pool.query("DELETE FROM analytics.rollup_rebuild_progress WHERE rebuild_key = $1 AND finished", [rebuildKey]);
    // The steps rewrote their rows by DELETE + INSERT: one dead copy of every row per rebuild, which
    // later scans (dashboards, the next rebuild, the daily-totals refresh) read through until
    // autovacuum gets there, and a rebuild into empty tables leaves them without statistics. VACUUM
    // cannot run in a transaction block, hence after the last chunk has committed, on its own
    // connection in autocommit. Not under a rollup lock: it only takes SHARE UPDATE EXCLUSIVE,
    // which writers (incremental cycles) do not conflict with.
    // Tables dealt round-robin to the rebuild's lanes (one VACUUM statement per lane), so the closing
    // vacuum uses the cores the chunks used.
    const vacuumStarted = Date.now();
    const tables = [...new Set(steps.flatMap((step) => step.tables ?? []))].sort();
    const vacuumLanes = Array.from({ length: Math.min(parsed.concurrency, tables.length) }, (_, lane) =>
      tables.filter((_, index) => index % parsed.concurrency === lane),
    );
    // Names passed the registry's schema.table regex: safe to interpolate.
    await Promise.all(vacuumLanes.map((group) => pool.query(`VACUUM (ANALYZE) ${group.join(", ")}`)));
    const vacuumMs = Date.now() - vacuumStarted;
    return { scopes: scopes.length, totalDays, resumedDays, rowsWritten, vacuumMs, durationMs: Date.now() - started };
  });
}
