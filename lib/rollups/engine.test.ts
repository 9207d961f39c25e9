import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import {
  actualAgentPerformance,
  actualPeriodMetrics,
  actualUserDailyActivity,
  expectedAgentPerformance,
  expectedPeriodMetrics,
  expectedUserDailyActivity,
} from "./bruteforce.testkit";
import { rebuildRollups, refreshDirtyRollups } from "./engine";
import { rollupSteps } from "./steps";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function resetWorld() {
  // agent_run_keys (the run registry, 0093/0120) has no foreign key to workspaces, so the cascade
  // does not reach it; the fixed run ids of the next world would meet stale keys.
  await db.owner.query(
    "TRUNCATE public.workspaces, public.agent_run_keys, analytics.rollup_platform_dirty_hours, analytics.rollup_rebuild_progress CASCADE",
  );
}
beforeEach(resetWorld);

/** Marks every hour that holds a raw row dirty, the way ingest does in its transactions. */
async function markAllDirty() {
  await db.owner.query(`
    INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
    SELECT DISTINCT workspace_id, date_trunc('hour', t, 'UTC') FROM (
        SELECT workspace_id, created_at AS t FROM public.users
        UNION ALL SELECT workspace_id, started_at FROM public.agent_runs
        UNION ALL SELECT workspace_id, created_at FROM analytics.user_activity
        UNION ALL SELECT workspace_id, created_at FROM public.llm_usage_logs) x
    ON CONFLICT DO NOTHING`);
}

async function expectRollupsMatchBruteForce() {
  const daily = await expectedPeriodMetrics(db.owner, "day");
  expect(await actualPeriodMetrics(db.owner, "day", Object.keys(daily[0] ?? { workspace_id: 1 }))).toEqual(daily);
  const hourly = await expectedPeriodMetrics(db.owner, "hour");
  expect(await actualPeriodMetrics(db.owner, "hour", Object.keys(hourly[0] ?? { workspace_id: 1 }))).toEqual(hourly);
  const agents = await expectedAgentPerformance(db.owner);
  expect(await actualAgentPerformance(db.owner, Object.keys(agents[0] ?? { workspace_id: 1 }))).toEqual(agents);
  expect(await actualUserDailyActivity(db.owner)).toEqual(await expectedUserDailyActivity(db.owner));
  return { daily: daily.length, hourly: hourly.length, agents: agents.length };
}

/**
 * The dimension day tables (run_daily, llm_usage_daily and their totals, kept from the hourly ones by
 * the statement triggers of 0110/0115/0116) equal what the non-deferred refresh of every day gives,
 * and hold every raw run and call once.
 */
async function expectDimensionDaysAsTriggersLeaveThem() {
  const snapshot = async (client: pg.PoolClient) => {
    const tables = ["run_daily", "run_daily_totals", "llm_usage_daily", "llm_usage_daily_totals"];
    const result: Record<string, string[]> = {};
    for (const table of tables) {
      const { rows } = await client.query<{ row: string }>(
        `SELECT (to_jsonb(t) - 'id' - 'updated_at')::text AS row FROM analytics.${table} t ORDER BY 1`,
      );
      result[table] = rows.map((r) => r.row);
    }
    return result;
  };
  const client = await db.owner.connect();
  try {
    const actual = await snapshot(client);
    await client.query("BEGIN");
    await client.query(`
      WITH days AS (
          SELECT h.workspace_id, (h.hour AT TIME ZONE w.timezone)::date AS day
          FROM (SELECT workspace_id, hour FROM analytics.run_hourly UNION SELECT workspace_id, hour FROM analytics.llm_usage_hourly) h
          JOIN public.workspaces w ON w.id = h.workspace_id
          UNION SELECT workspace_id, day FROM analytics.run_daily
          UNION SELECT workspace_id, day FROM analytics.llm_usage_daily
      ), per_workspace AS (SELECT workspace_id, array_agg(day) AS days FROM days GROUP BY workspace_id)
      SELECT analytics.refresh_run_daily(workspace_id, days), analytics.refresh_run_daily_totals(workspace_id, days),
             analytics.refresh_llm_usage_daily(workspace_id, days), analytics.refresh_llm_usage_daily_totals(workspace_id, days)
      FROM per_workspace`);
    const expected = await snapshot(client);
    await client.query("ROLLBACK");
    expect(actual).toEqual(expected);
    const { rows } = await client.query<{ ok: boolean }>(`
      SELECT (SELECT coalesce(sum(runs), 0) FROM analytics.run_daily_totals) = (SELECT count(*) FROM public.agent_runs)
         AND (SELECT coalesce(sum(calls), 0) FROM analytics.llm_usage_daily_totals) = (SELECT count(*) FROM public.llm_usage_logs) AS ok`);
    expect(rows[0].ok).toBe(true);
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Random worlds

const TIMEZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin"] as const;
// Windows around both 2026 DST switches of New York (and Berlin's spring switch on 03-29 is not in
// them; Kolkata's +05:30 exercises non-hour-aligned local midnights).
const BASES = [Date.parse("2026-03-07T00:00:00Z"), Date.parse("2026-10-31T00:00:00Z")];
const WINDOW_MINUTES = 3 * 24 * 60;

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const minute = fc.integer({ min: 0, max: WINDOW_MINUTES });

const runArb = fc.record({
  agent: fc.nat(2),
  user: fc.nat(4),
  startMinute: minute,
  startSecond: fc.nat(59),
  status: fc.constantFrom("running", "completed", "failed", "cancelled"),
  runtimeMs: fc.integer({ min: 0, max: 7_200_000 }),
  credits: fc.integer({ min: 0, max: 1_000_000 }),
  model: fc.constantFrom(null, "gpt-4o", "claude-sonnet"),
  errorType: fc.constantFrom(null, "timeout", "tool_error"),
  errorMessage: fc.constantFrom(null, "boom", "rate limited", "bad input"),
  rating: fc.option(fc.integer({ min: 1, max: 5 })),
  feedback: fc.constantFrom(null, "great"),
  late: fc.boolean(),
  // A running run that finishes (or fails) only in phase two: an old period must be corrected.
  laterStatus: fc.constantFrom(null, "completed", "failed"),
  stages: fc.array(fc.record({ prompt: fc.nat(500), completion: fc.nat(500) }), { maxLength: 2 }),
});
const activityArb = fc.record({
  user: fc.nat(4),
  session: fc.option(fc.nat(3)),
  minuteOf: minute,
  late: fc.boolean(),
});
const callArb = fc.record({
  user: fc.nat(4),
  run: fc.option(fc.nat(11)),
  minuteOf: minute,
  prompt: fc.nat(2000),
  completion: fc.nat(2000),
  costMicros: fc.option(fc.nat(50_000)),
  latency: fc.nat(5000),
  late: fc.boolean(),
});
const workspaceArb = fc.record({
  timezone: fc.constantFrom(...TIMEZONES),
  userSignupMinutes: fc.array(fc.integer({ min: -2 * 24 * 60, max: WINDOW_MINUTES }), { minLength: 5, maxLength: 5 }),
  runs: fc.array(runArb, { maxLength: 12 }),
  activity: fc.array(activityArb, { maxLength: 15 }),
  calls: fc.array(callArb, { maxLength: 8 }),
});
const worldArb = fc.record({
  base: fc.constantFrom(...BASES),
  workspaces: fc.array(workspaceArb, { minLength: 1, maxLength: 2 }),
  // Both workspaces' clients report the same session ids (different sessions: sessions are
  // (workspace, session id) pairs), so platform rows must not merge them.
  sharedSessionIds: fc.boolean(),
});
type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

/** Inserts the world; phase "early" skips late rows, phase "late" inserts them and changes statuses. */
async function insertWorld(world: World, phase: "early" | "late"): Promise<Array<[string, string]>> {
  const inserted: Array<[string, string]> = [];
  const at = (minutes: number, seconds = 0) => new Date(world.base + minutes * 60_000 + seconds * 1000).toISOString();
  for (const [wi, ws] of world.workspaces.entries()) {
    const workspaceId = uuid(1_000 + wi);
    const user = (i: number) => uuid(2_000 + wi * 100 + i);
    const agent = (i: number) => uuid(3_000 + wi * 100 + i);
    const run = (i: number) => uuid(4_000 + wi * 100 + i);
    const session = (i: number) => uuid(5_000 + (world.sharedSessionIds ? 0 : wi * 100) + i);
    if (phase === "early") {
      await db.owner.query("INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, $2, $2, $3)", [
        workspaceId,
        `ws-${wi}`,
        ws.timezone,
      ]);
      for (const [i, signup] of ws.userSignupMinutes.entries()) {
        await db.owner.query(
          "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, $2, $3, $4)",
          [workspaceId, user(i), `u${i}`, at(signup)],
        );
      }
      for (let i = 0; i < 3; i += 1) {
        await db.owner.query(
          "INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, $2, $3, $4)",
          [workspaceId, agent(i), `a${i}`, `Agent ${i}`],
        );
      }
    }
    for (const [i, r] of ws.runs.entries()) {
      const finalStatus = r.laterStatus ?? r.status;
      const early = r.laterStatus ? "running" : r.status;
      const started = at(r.startMinute, r.startSecond);
      const finish = (status: string) =>
        status === "running"
          ? [null, null]
          : [new Date(Date.parse(started) + r.runtimeMs).toISOString(), r.runtimeMs / 1000];
      if (phase === (r.late ? "late" : "early")) {
        const status = phase === "early" ? early : finalStatus;
        const [finishedAt, runtime] = finish(status);
        inserted.push([workspaceId, started]);
        await db.owner.query(
          `INSERT INTO public.agent_runs (workspace_id, id, external_id, agent_id, user_id, status, started_at, finished_at,
              runtime_seconds, credits_consumed, model, error_type, error_message, rating, feedback)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            workspaceId,
            run(i),
            `r${i}`,
            agent(r.agent),
            user(r.user),
            status,
            started,
            finishedAt,
            runtime,
            r.credits / 10_000,
            r.model,
            r.errorType,
            r.errorMessage,
            r.rating,
            r.feedback,
          ],
        );
        for (const [si, s] of r.stages.entries()) {
          await db.owner.query(
            `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, prompt_tokens, completion_tokens, started_at)
             VALUES ($1, $2, $3, 'stage', $4, $5, $6)`,
            [workspaceId, run(i), si, s.prompt, s.completion, started],
          );
        }
      } else if (phase === "late" && r.laterStatus) {
        // Status change of an old run, as ingest would apply it (the trigger marks the old hour).
        const [finishedAt, runtime] = finish(r.laterStatus);
        await db.owner.query(
          "UPDATE public.agent_runs SET status = $3, finished_at = $4, runtime_seconds = $5 WHERE workspace_id = $1 AND id = $2",
          [workspaceId, run(i), r.laterStatus, finishedAt, runtime],
        );
      }
    }
    for (const a of ws.activity) {
      if (phase !== (a.late ? "late" : "early")) continue;
      inserted.push([workspaceId, at(a.minuteOf, 30)]);
      await db.owner.query(
        "INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, session_id, created_at) VALUES ($1, $2, 'page_view', $3, $4)",
        [workspaceId, user(a.user), a.session === null ? null : session(a.session), at(a.minuteOf, 30)],
      );
    }
    for (const c of ws.calls) {
      if (phase !== (c.late ? "late" : "early")) continue;
      // Only runs that exist by now can be referenced.
      const runIndex =
        c.run !== null && c.run < ws.runs.length && (!ws.runs[c.run].late || phase === "late") ? c.run : null;
      const cost = c.costMicros === null ? null : c.costMicros / 1_000_000;
      inserted.push([workspaceId, at(c.minuteOf, 15)]);
      await db.owner.query(
        `INSERT INTO public.llm_usage_logs (workspace_id, run_id, user_id, provider, model, prompt_tokens, completion_tokens,
            total_cost_usd, cost_source, latency_ms, created_at)
         VALUES ($1, $2, $3, 'openai', 'gpt-4o', $4, $5, $6, $7, $8, $9)`,
        [
          workspaceId,
          runIndex === null ? null : run(runIndex),
          user(c.user),
          c.prompt,
          c.completion,
          cost,
          cost === null ? "unpriced" : "reported",
          c.latency,
          at(c.minuteOf, 15),
        ],
      );
    }
  }
  return inserted;
}

/** Marks the hours of rows inserted in phase two (what ingest does); status changes mark themselves. */
async function markLateRowsDirty(inserted: Array<[string, string]>) {
  await db.owner.query(
    `INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
     SELECT DISTINCT w, date_trunc('hour', t, 'UTC') FROM unnest($1::uuid[], $2::timestamptz[]) AS x(w, t)
     ON CONFLICT DO NOTHING`,
    [inserted.map((r) => r[0]), inserted.map((r) => r[1])],
  );
}

describe("rollup engine vs brute force", () => {
  it("every column of every core rollup equals a recomputation from raw rows (random worlds)", async () => {
    let checkedRows = 0;
    await fc.assert(
      fc.asyncProperty(worldArb, async (world) => {
        await resetWorld();
        await insertWorld(world, "early");
        await markAllDirty();
        await refreshDirtyRollups(db.owner);
        // Late events and status changes of old runs arrive after the first cycle.
        await db.owner.query("DELETE FROM analytics.rollup_dirty_hours");
        await markLateRowsDirty(await insertWorld(world, "late"));
        await refreshDirtyRollups(db.owner);
        const { rows } = await db.owner.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM analytics.rollup_dirty_hours",
        );
        expect(rows[0].n).toBe(0);
        const counts = await expectRollupsMatchBruteForce();
        // The day batches defer the dimension tables' daily refresh to the end of their transaction.
        await expectDimensionDaysAsTriggersLeaveThem();
        checkedRows += counts.daily + counts.hourly + counts.agents;
      }),
      { numRuns: 25, seed: Number(process.env.ROLLUP_SEED ?? 20260308) },
    );
    expect(checkedRows).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------------------------------------
// Fixed scenarios

const WS = uuid(1);
const USER = uuid(11);
const AGENT = uuid(21);

async function seedWorkspace(timezone: string) {
  await db.owner.query("INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, 'fixed', 'Fixed', $2)", [
    WS,
    timezone,
  ]);
  await db.owner.query(
    "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, $2, 'u', '2026-01-01Z')",
    [WS, USER],
  );
  await db.owner.query(
    "INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, $2, 'a', 'Agent')",
    [WS, AGENT],
  );
}

/** One completed 10-second run at the start of every UTC hour in [from, to). */
async function runEveryHour(from: string, to: string) {
  await db.owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
     SELECT $1, 'r' || extract(epoch FROM h), $2, $3, 'completed', h, h + interval '10 seconds', 10, 1
     FROM generate_series($4::timestamptz, $5::timestamptz - interval '1 hour', interval '1 hour') h`,
    [WS, AGENT, USER, from, to],
  );
}

async function dailyRuns(): Promise<Record<string, number>> {
  const { rows } = await db.owner.query<{ d: string; n: number }>(
    "SELECT metric_date::text AS d, total_runs AS n FROM analytics.daily_metrics WHERE workspace_id = $1 AND total_runs > 0 ORDER BY 1",
    [WS],
  );
  return Object.fromEntries(rows.map((r) => [r.d, r.n]));
}

describe("DST days in America/New_York", () => {
  it("2026-03-08 has 23 hours and 2026-11-01 has 25, by local midnight", async () => {
    await seedWorkspace("America/New_York");
    // Local midnights: 03-08 05:00Z (EST), 03-09 04:00Z (EDT); 11-01 04:00Z (EDT), 11-02 05:00Z (EST).
    await runEveryHour("2026-03-08T03:00:00Z", "2026-03-09T06:00:00Z");
    await runEveryHour("2026-11-01T02:00:00Z", "2026-11-02T07:00:00Z");
    await markAllDirty();
    await refreshDirtyRollups(db.owner);
    expect(await dailyRuns()).toEqual({
      "2026-03-07": 2, // 03:00Z and 04:00Z are 22:00 and 23:00 EST on the 7th
      "2026-03-08": 23,
      "2026-03-09": 2, // 04:00Z and 05:00Z are 00:00 and 01:00 EDT on the 9th
      "2026-10-31": 2, // 02:00Z and 03:00Z are 22:00 and 23:00 EDT on the 31st
      "2026-11-01": 25,
      "2026-11-02": 2, // 05:00Z and 06:00Z are 00:00 and 01:00 EST on the 2nd
    });
    const hours = await db.owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM analytics.hourly_metrics
       WHERE workspace_id = $1 AND metric_hour >= '2026-11-01T04:00:00Z' AND metric_hour < '2026-11-02T05:00:00Z'`,
      [WS],
    );
    expect(hours.rows[0].n).toBe(25);
    // Platform-wide rows are UTC days: 03-08 holds 03:00Z..23:00Z = 21 runs.
    const platform = await db.owner.query<{ n: number }>(
      "SELECT total_runs AS n FROM analytics.daily_metrics WHERE workspace_id IS NULL AND metric_date = '2026-03-08'",
    );
    expect(platform.rows[0].n).toBe(21);
    await expectRollupsMatchBruteForce();
  });
});

describe("grouped hour pass", () => {
  it("counts a session id reported by two workspaces as two sessions in the platform rows", async () => {
    const other = uuid(500);
    const otherUser = uuid(501);
    await seedWorkspace("UTC");
    await db.owner.query(
      "INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, 'other', 'Other', 'UTC')",
      [other],
    );
    await db.owner.query(
      "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, $2, 'u', '2026-01-01Z')",
      [other, otherUser],
    );
    const session = uuid(502);
    // Same session id: 10:05 and 10:20 in WS, 10:50 in the other workspace; plus a one-event session.
    await db.owner.query(
      `INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, session_id, created_at) VALUES
         ($1, $2, 'page_view', $5, '2026-06-01T10:05:00Z'), ($1, $2, 'page_view', $5, '2026-06-01T10:20:00Z'),
         ($3, $4, 'page_view', $5, '2026-06-01T10:50:00Z'), ($3, $4, 'page_view', $6, '2026-06-01T10:55:00Z')`,
      [WS, USER, other, otherUser, session, uuid(503)],
    );
    await markAllDirty();
    await refreshDirtyRollups(db.owner);
    const { rows } = await db.owner.query(
      `SELECT workspace_id, total_sessions, avg_session_duration_seconds::float8 AS avg, bounce_rate::float8 AS bounce,
              active_users
       FROM analytics.hourly_metrics WHERE metric_hour = '2026-06-01T10:00:00Z' ORDER BY workspace_id NULLS LAST`,
    );
    // Sessions are (workspace, session id) pairs: each workspace's clients report their own ids, so
    // the shared id is one 900 s session in WS and a one-event session in the other workspace.
    const platform = { workspace_id: null, total_sessions: 3, avg: 300, bounce: 66.67, active_users: 2 };
    expect(rows).toEqual([
      { workspace_id: WS, total_sessions: 1, avg: 900, bounce: 0, active_users: 1 },
      { workspace_id: other, total_sessions: 2, avg: 0, bounce: 100, active_users: 1 },
      platform,
    ]);
    // The platform's day row (a separate code path) uses the same definition.
    const { rows: days } = await db.owner.query(
      `SELECT workspace_id, total_sessions, avg_session_duration_seconds::float8 AS avg, bounce_rate::float8 AS bounce,
              active_users
       FROM analytics.daily_metrics WHERE metric_date = '2026-06-01' AND workspace_id IS NULL`,
    );
    expect(days).toEqual([platform]);
    await expectRollupsMatchBruteForce();
  });

  it("leaves a workspace another holder has locked dirty, and catches it up on the next cycle", async () => {
    await insertWorld(fixedWorld, "early");
    await markAllDirty();
    const { rows: workspaces } = await db.owner.query<{ id: string }>(
      "SELECT id::text FROM public.workspaces ORDER BY id",
    );
    const holder = await db.owner.connect();
    try {
      await holder.query("BEGIN");
      // The key a rebuild of that workspace holds.
      await holder.query("SELECT pg_advisory_xact_lock(7202620, hashtext($1))", [workspaces[0].id]);
      const stats = await refreshDirtyRollups(db.owner);
      expect(stats.skippedLocked).toBeGreaterThan(0);
      const { rows } = await db.owner.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM analytics.rollup_dirty_hours WHERE workspace_id = $1",
        [workspaces[0].id],
      );
      expect(rows[0].n).toBeGreaterThan(0);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
    await refreshDirtyRollups(db.owner);
    await expectRollupsMatchBruteForce();
  });
});

/** hourly_metrics as exact text rows (numeric digits compared as stored, not as JavaScript numbers). */
async function hourlyRows(): Promise<string[]> {
  const { rows } = await db.owner.query<{ row: string }>(
    "SELECT (to_jsonb(t) - 'updated_at' - 'created_at' - 'id')::text AS row FROM analytics.hourly_metrics t ORDER BY 1",
  );
  return rows.map((r) => r.row);
}

describe("hour pass on two connections (0133)", () => {
  async function refreshWith(max: number, splitHourPass: boolean) {
    await db.owner.query("TRUNCATE analytics.hourly_metrics, analytics.daily_metrics");
    await markAllDirty();
    const pool = new pg.Pool({ connectionString: db.ownerUrl, max });
    try {
      return await refreshDirtyRollups(pool, { splitHourPass });
    } finally {
      await pool.end();
    }
  }

  it("writes the same rows as one connection, and uses one when the pool has no two connections spare", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    const split = await refreshWith(3, true);
    expect(split.splitHourIslands).toBeGreaterThan(0);
    const splitRows = await hourlyRows();
    expect(splitRows.length).toBeGreaterThan(0);
    await expectRollupsMatchBruteForce();

    const single = await refreshWith(3, false);
    expect(single.splitHourIslands).toBe(0);
    expect(await hourlyRows()).toEqual(splitRows);

    // The hour pass holds one connection: max 2 leaves one spare, max 1 none. Both fall back
    // instead of waiting for a connection while holding the claim.
    for (const max of [2, 1]) {
      const fallback = await refreshWith(max, true);
      expect(fallback.splitHourIslands).toBe(0);
      expect(fallback.claimedHours).toBe(split.claimedHours);
      expect(await hourlyRows()).toEqual(splitRows);
    }
  });

  it("the halves and the in-line function return identical rows, also for hours with gaps", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    const { rows: hours } = await db.owner.query<{ hours: string[] }>(
      `SELECT array_agg(DISTINCT date_trunc('hour', started_at, 'UTC'))::text[] AS hours FROM public.agent_runs`,
    );
    // Every hour with runs (gaps between them: the per-row hour filter) and every other one.
    for (const set of [hours[0].hours, hours[0].hours.filter((_, i) => i % 2 === 0)]) {
      const { rows } = await db.owner.query<{ only_inline: number; only_halves: number; n: number }>(
        `WITH inline AS (SELECT * FROM analytics.compute_hour_metrics_grouped($1::timestamptz[])),
              halves AS (SELECT * FROM analytics.compute_hour_metrics_from_halves(
                  analytics.compute_hour_activity_half($1::timestamptz[]),
                  analytics.compute_hour_runs_half($1::timestamptz[])::text::jsonb))
         SELECT (SELECT count(*) FROM (SELECT * FROM inline EXCEPT ALL SELECT * FROM halves) x)::int AS only_inline,
                (SELECT count(*) FROM (SELECT * FROM halves EXCEPT ALL SELECT * FROM inline) x)::int AS only_halves,
                (SELECT count(*) FROM inline)::int AS n`,
        [set],
      );
      expect(rows[0]).toEqual({ only_inline: 0, only_halves: 0, n: expect.any(Number) });
      expect(rows[0].n).toBeGreaterThan(0);
    }
  });

  it("a failing helper half rolls the claim back: hours stay dirty, nothing is written", async () => {
    await insertWorld(fixedWorld, "early");
    await markAllDirty();
    await db.owner.query(
      `CREATE OR REPLACE FUNCTION analytics.test_failing_half(timestamptz[]) RETURNS jsonb LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'helper half failed'; END $$`,
    );
    const steps = rollupSteps().map((step) =>
      step.groupedSplit
        ? {
            ...step,
            groupedSplit: {
              ...step.groupedSplit,
              halfFunctions: [step.groupedSplit.halfFunctions[0], "analytics.test_failing_half"] as [string, string],
            },
          }
        : step,
    );
    const counts = async () => {
      const { rows } = await db.owner.query<{ dirty: number; day: number; hourly: number }>(
        `SELECT (SELECT count(*) FROM analytics.rollup_dirty_hours)::int AS dirty,
                (SELECT count(*) FROM analytics.rollup_day_dirty_hours)::int AS day,
                (SELECT count(*) FROM analytics.hourly_metrics)::int AS hourly`,
      );
      return rows[0];
    };
    const before = await counts();
    expect(before.dirty).toBeGreaterThan(0);
    const pool = new pg.Pool({ connectionString: db.ownerUrl, max: 3 });
    try {
      await expect(refreshDirtyRollups(pool, { steps })).rejects.toThrow(/helper half failed/);
      // Every connection went back to the pool idle, none left in a transaction.
      expect(pool.totalCount).toBe(pool.idleCount);
    } finally {
      await pool.end();
    }
    expect(await counts()).toEqual({ dirty: before.dirty, day: 0, hourly: 0 });
    const { rows: open } = await db.owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    );
    expect(open[0].n).toBe(0);
    // The next cycle with the real halves catches up.
    await db.owner.query("DROP FUNCTION analytics.test_failing_half(timestamptz[])");
    await refreshDirtyRollups(db.owner);
    await expectRollupsMatchBruteForce();
  });

  it("two split workers at once produce exactly the rows of one", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    await markAllDirty();
    const workerA = new pg.Pool({ connectionString: db.ownerUrl, max: 3 });
    const workerB = new pg.Pool({ connectionString: db.ownerUrl, max: 3 });
    try {
      const [a, b] = await Promise.all([
        refreshDirtyRollups(workerA, { batchHours: 3 }),
        refreshDirtyRollups(workerB, { batchHours: 3 }),
      ]);
      expect(a.splitHourIslands + b.splitHourIslands).toBeGreaterThan(0);
      const { rows } = await db.owner.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM analytics.rollup_dirty_hours",
      );
      expect(rows[0].n).toBe(0);
    } finally {
      await Promise.all([workerA.end(), workerB.end()]);
    }
    const concurrent = await hourlyRows();
    await expectRollupsMatchBruteForce();
    await refreshWith(1, false);
    expect(await hourlyRows()).toEqual(concurrent);
  });
});

describe("compute_period_metrics over contiguous and gapped periods (0137)", () => {
  // 0137 buckets raw rows by expression and filters them per row only when the periods have gaps.
  // Either way each period must get exactly the rows a call with that period alone gets (a wrong
  // filter drops rows of a listed period; the brute-force property tests cover the values).
  it("a list of periods equals one call per period, with and without gaps, by day and by hour", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    const { rows: scopes } = await db.owner.query<{ id: string | null; tz: string }>(
      "SELECT id::text, timezone AS tz FROM public.workspaces UNION ALL SELECT NULL, 'UTC' ORDER BY 1 NULLS LAST",
    );
    expect(scopes.length).toBeGreaterThan(1);
    let compared = 0;
    for (const scope of scopes) {
      for (const grain of ["day", "hour"] as const) {
        // Every period from the first with runs to the last (contiguous), and every other one (gaps).
        const { rows } = await db.owner.query<{ starts: string[] }>(
          `SELECT array_agg(s ORDER BY s)::text[] AS starts FROM (
               SELECT DISTINCT analytics.period_start($2, $3, g) AS s
               FROM (SELECT min(started_at) AS lo, max(started_at) AS hi FROM public.agent_runs
                     WHERE $1::uuid IS NULL OR workspace_id = $1::uuid) r,
                    generate_series(r.lo, r.hi, interval '1 hour') g) x`,
          [scope.id, grain, scope.tz],
        );
        const all = rows[0].starts ?? [];
        for (const set of [all.slice(0, 60), all.slice(0, 60).filter((_, i) => i % 2 === 0)]) {
          const { rows: diff } = await db.owner.query<{ only_list: number; only_single: number; n: number }>(
            `WITH list AS (SELECT * FROM analytics.compute_period_metrics($1::uuid, $2, $3::timestamptz[])),
                  single AS (SELECT m.* FROM unnest($3::timestamptz[]) s,
                             LATERAL analytics.compute_period_metrics($1::uuid, $2, ARRAY[s]) m)
             SELECT (SELECT count(*) FROM (SELECT * FROM list EXCEPT ALL SELECT * FROM single) x)::int AS only_list,
                    (SELECT count(*) FROM (SELECT * FROM single EXCEPT ALL SELECT * FROM list) x)::int AS only_single,
                    (SELECT count(*) FROM list WHERE total_runs > 0)::int AS n`,
            [scope.id, grain, set],
          );
          expect(diff[0]).toMatchObject({ only_list: 0, only_single: 0 });
          compared += diff[0].n;
        }
      }
    }
    expect(compared).toBeGreaterThan(20);
  });
});

describe("late status change", () => {
  it("a run that fails days later corrects the day it started on (the update marks its hour)", async () => {
    await seedWorkspace("Europe/Berlin");
    await db.owner.query(
      `INSERT INTO public.agent_runs (workspace_id, id, external_id, agent_id, user_id, status, started_at)
       VALUES ($1, $2, 'late', $3, $4, 'running', '2026-05-01T22:30:00Z')`,
      [WS, uuid(99), AGENT, USER],
    );
    await markAllDirty();
    await refreshDirtyRollups(db.owner);
    const before = await db.owner.query(
      "SELECT total_runs, failed_runs, error_rate::text FROM analytics.daily_metrics WHERE workspace_id = $1 AND metric_date = '2026-05-02'",
      [WS],
    );
    expect(before.rows).toEqual([{ total_runs: 1, failed_runs: 0, error_rate: "0.00" }]);
    // No manual marking: only the UPDATE (as ingest applies a status event) happens.
    await db.owner.query(
      `UPDATE public.agent_runs SET status = 'failed', finished_at = '2026-05-04T10:00:00Z', runtime_seconds = 214200,
              error_type = 'timeout' WHERE id = $1`,
      [uuid(99)],
    );
    const stats = await refreshDirtyRollups(db.owner);
    expect(stats.claimedHours).toBe(1);
    const after = await db.owner.query(
      `SELECT total_runs, failed_runs, error_rate::text, errors_by_type, avg_runtime_seconds::text
       FROM analytics.daily_metrics WHERE workspace_id = $1 AND metric_date = '2026-05-02'`,
      [WS],
    );
    expect(after.rows).toEqual([
      {
        total_runs: 1,
        failed_runs: 1,
        error_rate: "100.00",
        errors_by_type: { timeout: 1 },
        avg_runtime_seconds: "214200.00",
      },
    ]);
    await expectRollupsMatchBruteForce();
  });
});

async function snapshot() {
  const tables = [
    "analytics.daily_metrics",
    "analytics.hourly_metrics",
    "analytics.agent_performance",
    "analytics.user_daily_activity",
  ];
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    const { rows } = await db.owner.query(
      `SELECT r AS row FROM (SELECT to_jsonb(t) - 'updated_at' - 'created_at' - 'id' AS r FROM ${table} t) q ORDER BY r::text`,
    );
    out[table] = rows.map((r: { row: unknown }) => r.row);
  }
  return out;
}

const fixedWorld: World = fc.sample(worldArb, { numRuns: 1, seed: 42 })[0];

describe("idempotence and concurrency", () => {
  it("running twice gives the same rows", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    await markAllDirty();
    await refreshDirtyRollups(db.owner);
    const first = await snapshot();
    expect(first["analytics.daily_metrics"].length).toBeGreaterThan(0);
    await markAllDirty();
    const second = await refreshDirtyRollups(db.owner);
    expect(second.claimedHours).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(first);
  });

  it("two workers at once produce exactly the rows of one", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    await markAllDirty();
    // Small batches so both workers interleave over many transactions.
    const workerA = new pg.Pool({ connectionString: db.ownerUrl, max: 2 });
    const workerB = new pg.Pool({ connectionString: db.ownerUrl, max: 2 });
    try {
      const [a, b] = await Promise.all([
        refreshDirtyRollups(workerA, { batchHours: 3 }),
        refreshDirtyRollups(workerB, { batchHours: 3 }),
      ]);
      const { rows } = await db.owner.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM analytics.rollup_dirty_hours",
      );
      // Every hour was claimed exactly once between them (a skipped workspace is the other's).
      const { rows: marked } = await db.owner.query<{ n: number }>(
        `SELECT count(DISTINCT (workspace_id, date_trunc('hour', t, 'UTC')))::int AS n FROM (
            SELECT workspace_id, created_at AS t FROM public.users
            UNION ALL SELECT workspace_id, started_at FROM public.agent_runs
            UNION ALL SELECT workspace_id, created_at FROM analytics.user_activity
            UNION ALL SELECT workspace_id, created_at FROM public.llm_usage_logs) x`,
      );
      expect(rows[0].n + a.claimedHours + b.claimedHours).toBe(marked[0].n);
      expect(rows[0].n).toBe(0);
    } finally {
      await Promise.all([workerA.end(), workerB.end()]);
    }
    const concurrent = await snapshot();
    await expectRollupsMatchBruteForce();
    // Same as a single worker from scratch.
    await db.owner.query(
      "TRUNCATE analytics.daily_metrics, analytics.hourly_metrics, analytics.agent_performance, analytics.user_daily_activity",
    );
    await markAllDirty();
    await refreshDirtyRollups(db.owner);
    expect(await snapshot()).toEqual(concurrent);
  });

  it("a failing step rolls its claim back: the hours stay queued", async () => {
    await insertWorld(fixedWorld, "early");
    await markAllDirty();
    // The hour pass moves claimed hours to the day queue; a failing day step leaves them there.
    const pending =
      "SELECT (SELECT count(*) FROM analytics.rollup_dirty_hours) + (SELECT count(*) FROM analytics.rollup_day_dirty_hours) AS n";
    const { rows: before } = await db.owner.query<{ n: number }>(`SELECT (${pending})::int AS n`);
    await expect(
      refreshDirtyRollups(db.owner, {
        steps: [{ name: "broken", grain: "day", sqlFunction: "analytics.no_such_function", platform: false }],
      }),
    ).rejects.toThrow(/no_such_function/);
    const { rows: after } = await db.owner.query<{ n: number }>(`SELECT (${pending})::int AS n`);
    expect(after[0].n).toBe(before[0].n);
    expect(before[0].n).toBeGreaterThan(0);
    // A failing hour step rolls the hour pass back: the hours stay in the dirty queue itself.
    await markAllDirty();
    const { rows: marked } = await db.owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM analytics.rollup_dirty_hours",
    );
    await expect(
      refreshDirtyRollups(db.owner, {
        steps: [{ name: "broken_hour", grain: "hour", sqlFunction: "analytics.no_such_function", platform: false }],
      }),
    ).rejects.toThrow(/no_such_function/);
    const { rows: afterHourFailure } = await db.owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM analytics.rollup_dirty_hours",
    );
    expect(afterHourFailure[0].n).toBe(marked[0].n);
    expect(marked[0].n).toBeGreaterThan(0);
  });
});

describe("rebuild", () => {
  it("recomputes history set-based, and resumes after an interruption", async () => {
    await insertWorld(fixedWorld, "early");
    await insertWorld(fixedWorld, "late");
    const from = new Date(fixedWorld.base - 3 * 86_400_000).toISOString().slice(0, 10);
    const to = new Date(fixedWorld.base + 4 * 86_400_000).toISOString().slice(0, 10);
    let calls = 0;
    await expect(
      rebuildRollups(db.owner, {
        from,
        to,
        chunkDays: 2,
        concurrency: 1, // one lane, so exactly two chunks commit before the interruption
        onProgress: () => {
          calls += 1;
          if (calls === 2) throw new Error("interrupted");
        },
      }),
    ).rejects.toThrow("interrupted");
    const progress: Array<{ doneDays: number; totalDays: number }> = [];
    const stats = await rebuildRollups(db.owner, { from, to, chunkDays: 2, onProgress: (p) => progress.push(p) });
    expect(stats.resumedDays).toBe(4); // two chunks of two days were committed before the interruption
    expect(progress.at(-1)).toEqual(expect.objectContaining({ doneDays: stats.totalDays, totalDays: stats.totalDays }));
    await expectRollupsMatchBruteForce();
    const { rows } = await db.owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM analytics.rollup_rebuild_progress",
    );
    expect(rows[0].n).toBe(0);
  });

  it("equals the brute force with any chunk size and lane count, over stale rollups, resumed after an interruption (random worlds)", async () => {
    // The whole-platform rebuild computes hourly_metrics of every workspace in the platform chunks
    // (grouped function, hours widened to every workspace's local days), starts the platform scope
    // first, runs the platform's cohorts last, and defers the dimension tables' daily refresh to one
    // per chunk (0125): all of it against the brute force and against the non-deferred refresh.
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(
        worldArb,
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.option(fc.integer({ min: 1, max: 8 })),
        async (world, chunkDays, concurrency, interruptAfter) => {
          await resetWorld();
          const from = new Date(world.base - 3 * 86_400_000).toISOString().slice(0, 10);
          const to = new Date(world.base + 4 * 86_400_000).toISOString().slice(0, 10);
          // Rollups of an earlier state: rows the rebuild must update, and rows whose sources vanish.
          await insertWorld(world, "early");
          await rebuildRollups(db.owner, { from, to, chunkDays: 3 });
          await insertWorld(world, "late");
          await db.owner.query("DELETE FROM public.llm_usage_logs WHERE prompt_tokens % 3 = 0");
          await db.owner.query(
            "DELETE FROM analytics.user_activity WHERE extract(minute FROM created_at)::int % 3 = 0",
          );
          await db.owner.query("DELETE FROM public.agent_runs WHERE extract(second FROM started_at)::int % 4 = 0");
          let calls = 0;
          const interrupted = await rebuildRollups(db.owner, {
            from,
            to,
            chunkDays,
            concurrency,
            onProgress: () => {
              calls += 1;
              if (calls === interruptAfter) throw new Error("interrupted");
            },
          }).then(
            () => false,
            (error: unknown) => {
              if (!(error instanceof Error) || error.message !== "interrupted") throw error;
              return true;
            },
          );
          if (interrupted) await rebuildRollups(db.owner, { from, to, chunkDays, concurrency });
          const counts = await expectRollupsMatchBruteForce();
          await expectDimensionDaysAsTriggersLeaveThem();
          const { rows } = await db.owner.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM analytics.rollup_rebuild_progress",
          );
          expect(rows[0].n).toBe(0);
          checked += counts.daily + counts.hourly;
        },
      ),
      { numRuns: 15, seed: Number(process.env.ROLLUP_SEED ?? 20261122) },
    );
    expect(checked).toBeGreaterThan(100);
  });

  it("writes every workspace's hourly rows of its local days, also where they reach past the UTC days", async () => {
    // Local day 2026-06-10 is 06-09 18:30Z..06-10 18:30Z in Kolkata and 06-10 04:00Z..06-11 04:00Z in
    // New York: a rebuild of that one day must reach both ends (the grouped platform chunks widen
    // their first and last hours for that), and only the UTC day for the platform's daily row.
    const zones = [
      { id: uuid(9_001), tz: "Asia/Kolkata", runAt: "2026-06-09T19:00:00Z" },
      { id: uuid(9_002), tz: "America/New_York", runAt: "2026-06-11T03:00:00Z" },
    ];
    for (const [i, z] of zones.entries()) {
      await db.owner.query("INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, $2, $2, $3)", [
        z.id,
        `edge-${i}`,
        z.tz,
      ]);
      await db.owner.query(
        "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, $2, 'u', '2026-01-01Z')",
        [z.id, uuid(9_101 + i)],
      );
      await db.owner.query(
        "INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, $2, 'a', 'A')",
        [z.id, uuid(9_201 + i)],
      );
      await db.owner.query(
        `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
         VALUES ($1, 'r', $2, $3, 'completed', $4, $4::timestamptz + interval '5 seconds', 5, 1)`,
        [z.id, uuid(9_201 + i), uuid(9_101 + i), z.runAt],
      );
    }
    await rebuildRollups(db.owner, { from: "2026-06-10", to: "2026-06-10", concurrency: 2 });
    const { rows } = await db.owner.query<{ workspace_id: string | null; hour: string; runs: number }>(
      `SELECT workspace_id::text, to_char(metric_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS hour, total_runs AS runs
       FROM analytics.hourly_metrics WHERE total_runs > 0 ORDER BY 2, 1`,
    );
    expect(rows).toEqual([
      { workspace_id: zones[0].id, hour: "2026-06-09T19", runs: 1 },
      { workspace_id: null, hour: "2026-06-09T19", runs: 1 },
      { workspace_id: zones[1].id, hour: "2026-06-11T03", runs: 1 },
      { workspace_id: null, hour: "2026-06-11T03", runs: 1 },
    ]);
    const daily = await db.owner.query<{ workspace_id: string | null; day: string; runs: number }>(
      `SELECT workspace_id::text, metric_date::text AS day, total_runs AS runs FROM analytics.daily_metrics
       WHERE total_runs > 0 ORDER BY 1 NULLS LAST`,
    );
    expect(daily.rows).toEqual(
      [
        { workspace_id: zones[0].id, day: "2026-06-10", runs: 1 },
        { workspace_id: zones[1].id, day: "2026-06-10", runs: 1 },
      ].sort((a, b) => a.workspace_id.localeCompare(b.workspace_id)),
    );
  });

  it("rejects a reversed range with a readable message", async () => {
    await expect(rebuildRollups(db.owner, { from: "2026-02-02", to: "2026-02-01" })).rejects.toThrow(
      /--from must not be after --to/,
    );
  });
});

describe("aggregate_daily_metrics (spec defect 2)", () => {
  it("runs and fills every column of the day like the engine", async () => {
    await insertWorld(fixedWorld, "early");
    const day = new Date(fixedWorld.base + 86_400_000).toISOString().slice(0, 10);
    await db.owner.query("SELECT analytics.aggregate_daily_metrics($1::date)", [day]);
    const expected = (await expectedPeriodMetrics(db.owner, "day")).filter((r) => r.bucket === day);
    const actual = (await actualPeriodMetrics(db.owner, "day", Object.keys(expected[0]))).filter(
      (r) => r.bucket === day,
    );
    expect(expected.length).toBeGreaterThan(1); // the workspace(s) and the platform row
    expect(actual).toEqual(expected);
  });
});
