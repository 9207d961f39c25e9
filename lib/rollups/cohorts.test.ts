import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { refreshAllCohorts } from "./cohorts";
import { addDays, addMonths, isoWeekStart, localDay, monthStart, TIMEZONES } from "./dimensions.testkit";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

type Period = "daily" | "weekly" | "monthly";
const PERIODS: Period[] = ["daily", "weekly", "monthly"];
const MAX_OFFSET: Record<Period, number> = { daily: 30, weekly: 26, monthly: 24 };

const dayNumber = (day: string) => Date.parse(`${day}T00:00:00Z`) / 86_400_000;
const startOf = (period: Period, day: string) =>
  period === "daily" ? day : period === "weekly" ? isoWeekStart(day) : monthStart(day);
const offsetOf = (period: Period, cohort: string, day: string) =>
  period === "daily"
    ? dayNumber(day) - dayNumber(cohort)
    : period === "weekly"
      ? (dayNumber(isoWeekStart(day)) - dayNumber(cohort)) / 7
      : (Number(day.slice(0, 4)) - Number(cohort.slice(0, 4))) * 12 +
        Number(day.slice(5, 7)) -
        Number(cohort.slice(5, 7));
const periodAdd = (period: Period, cohort: string, n: number) =>
  period === "daily" ? addDays(cohort, n) : period === "weekly" ? addDays(cohort, 7 * n) : addMonths(cohort, n);
/** round(numerator / denominator, 2) half away from zero, for non-negative integers, as a number. */
const round2 = (numerator: number, denominator: number) =>
  Math.floor((2 * numerator * 100 + denominator) / (2 * denominator)) / 100;

type CohortWorkspace = {
  timezone: string;
  // Per user: active local days (possibly none) and total credits of their runs in 1e-4 units.
  users: { activeDays: string[]; creditsUnits: number }[];
};

async function loadCohortWorkspace(ws: CohortWorkspace): Promise<{ workspaceId: string; userIds: string[] }> {
  const workspaceId = randomUUID();
  const agentId = randomUUID();
  const userIds = ws.users.map(() => randomUUID());
  await db.owner.query("INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, $2, 'Cohorts', $3)", [
    workspaceId,
    `c-${workspaceId}`,
    ws.timezone,
  ]);
  await db.owner.query("INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, $2, 'a', 'a')", [
    workspaceId,
    agentId,
  ]);
  await db.owner.query(
    `INSERT INTO public.users (workspace_id, id, external_id, created_at)
     SELECT $1, u, u::text, '2025-01-01' FROM unnest($2::uuid[]) AS u`,
    [workspaceId, userIds],
  );
  const activity = ws.users.flatMap((u, i) => [...new Set(u.activeDays)].map((day) => ({ user_id: userIds[i], day })));
  await db.owner.query(
    `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, activity_events, first_seen_at, last_seen_at)
     SELECT $1, a.day, a.user_id, 1, a.day::timestamptz, a.day::timestamptz FROM jsonb_to_recordset($2::jsonb) AS a(user_id uuid, day date)`,
    [workspaceId, JSON.stringify(activity)],
  );
  // Credits split over two runs per user (run time is irrelevant to cohorts: credits are all-time).
  const runs = ws.users.flatMap((u, i) => {
    const half = Math.floor(u.creditsUnits / 2);
    return [half, u.creditsUnits - half].map((units) => ({
      user_id: userIds[i],
      credits: (units / 10_000).toFixed(4),
    }));
  });
  await db.owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, credits_consumed)
     SELECT $1, gen_random_uuid()::text, $2, r.user_id, 'completed', '2026-01-01', r.credits
     FROM jsonb_to_recordset($3::jsonb) AS r(user_id uuid, credits numeric)`,
    [workspaceId, agentId, JSON.stringify(runs)],
  );
  return { workspaceId, userIds };
}

type Cell = { n: number; complete: boolean; active: number | null; active_or_later: number | null };
type StoredCell = Cell & { active_pct: number | null; active_or_later_pct: number | null };
type CohortTotals = {
  period: Period;
  cohortDate: string;
  initialUsers: number;
  creditsUnits: number;
  elapsed: number;
  cells: Cell[];
};

/** Brute force: cohort sizes, credits and per-offset counts of one workspace, "today" given. */
function cohortTotals(ws: CohortWorkspace, today: string): CohortTotals[] {
  const result: CohortTotals[] = [];
  for (const period of PERIODS) {
    const byCohort = new Map<string, { offsets: Set<number>; creditsUnits: number }[]>();
    for (const user of ws.users) {
      if (user.activeDays.length === 0) continue;
      const first = [...user.activeDays].sort()[0];
      const cohort = startOf(period, first);
      const members = byCohort.get(cohort) ?? [];
      members.push({
        offsets: new Set(user.activeDays.map((d) => offsetOf(period, cohort, d))),
        creditsUnits: user.creditsUnits,
      });
      byCohort.set(cohort, members);
    }
    for (const [cohortDate, members] of byCohort) {
      const cells: Cell[] = [];
      for (let n = 0; n <= MAX_OFFSET[period]; n++) {
        const complete = periodAdd(period, cohortDate, n + 1) <= today;
        cells.push({
          n,
          complete,
          active: complete ? members.filter((m) => m.offsets.has(n)).length : null,
          active_or_later: complete ? members.filter((m) => Math.max(...m.offsets) >= n).length : null,
        });
      }
      result.push({
        period,
        cohortDate,
        initialUsers: members.length,
        creditsUnits: members.reduce((a, m) => a + m.creditsUnits, 0),
        elapsed: Math.max(offsetOf(period, cohortDate, today) + 1, 1),
        cells,
      });
    }
  }
  return result;
}

/** Platform totals: sums per (period, cohort); a cell is complete only if complete everywhere. */
function platformTotals(all: CohortTotals[][]): CohortTotals[] {
  const merged = new Map<string, CohortTotals>();
  for (const totals of all) {
    for (const t of totals) {
      const key = `${t.period}|${t.cohortDate}`;
      const prev = merged.get(key);
      if (!prev) {
        merged.set(key, { ...t, cells: t.cells.map((c) => ({ ...c })) });
        continue;
      }
      prev.initialUsers += t.initialUsers;
      prev.creditsUnits += t.creditsUnits;
      prev.elapsed = Math.max(prev.elapsed, t.elapsed);
      prev.cells = prev.cells.map((c, i) => {
        const other = t.cells[i];
        const complete = c.complete && other.complete;
        return {
          n: c.n,
          complete,
          active: complete ? (c.active ?? 0) + (other.active ?? 0) : null,
          active_or_later: complete ? (c.active_or_later ?? 0) + (other.active_or_later ?? 0) : null,
        };
      });
    }
  }
  return [...merged.values()];
}

/** The user_cohorts row a brute-force total must produce. */
function expectedRow(t: CohortTotals, asOf: string) {
  const pct = (x: number | null) => (x === null ? null : round2(100 * x, t.initialUsers));
  const returned = t.cells[1].active_or_later;
  const churnCents =
    returned === null
      ? null
      : Math.floor((2 * 10_000 * (t.initialUsers - returned) + t.initialUsers) / (2 * t.initialUsers));
  const arpuCents = Math.floor((2 * t.creditsUnits + 100 * t.initialUsers) / (200 * t.initialUsers));
  const ltv =
    churnCents === null || churnCents === 0
      ? null
      : Math.floor((2 * arpuCents * 10_000 + t.elapsed * churnCents) / (2 * t.elapsed * churnCents)) / 100;
  return {
    cohort_period: t.period,
    cohort_date: t.cohortDate,
    initial_users: t.initialUsers,
    as_of: asOf,
    credits: t.creditsUnits / 10_000,
    periods: t.cells.map((c) => ({
      n: c.n,
      complete: c.complete,
      active: c.active,
      active_pct: pct(c.active),
      active_or_later: c.active_or_later,
      active_or_later_pct: pct(c.active_or_later),
    })),
    avg_revenue_per_user: arpuCents / 100,
    churn_rate: churnCents === null ? null : churnCents / 100,
    ltv_estimate: ltv,
  };
}

async function actualRows(workspaceId: string | null) {
  const { rows } = await db.owner.query<{
    cohort_period: string;
    cohort_date: string;
    initial_users: number;
    retention_data: { as_of: string; credits: number; periods: StoredCell[] };
    avg_revenue_per_user: string | null;
    churn_rate: string | null;
    ltv_estimate: string | null;
  }>(
    `SELECT cohort_period, cohort_date::text AS cohort_date, initial_users, retention_data, avg_revenue_per_user::text,
            churn_rate::text, ltv_estimate::text
     FROM analytics.user_cohorts WHERE workspace_id IS NOT DISTINCT FROM $1`,
    [workspaceId],
  );
  const num = (v: string | null) => (v === null ? null : Number(v));
  return rows
    .map((r) => ({
      cohort_period: r.cohort_period,
      cohort_date: r.cohort_date,
      initial_users: r.initial_users,
      as_of: r.retention_data.as_of,
      credits: r.retention_data.credits,
      // jsonb orders keys its own way: rebuild each cell in the expected key order.
      periods: r.retention_data.periods.map((c) => ({
        n: c.n,
        complete: c.complete,
        active: c.active,
        active_pct: c.active_pct,
        active_or_later: c.active_or_later,
        active_or_later_pct: c.active_or_later_pct,
      })),
      avg_revenue_per_user: num(r.avg_revenue_per_user),
      churn_rate: num(r.churn_rate),
      ltv_estimate: num(r.ltv_estimate),
    }))
    .map((r) => JSON.stringify(r))
    .sort();
}

const TODAYS = ["2026-03-30", "2026-11-02", "2026-02-01", "2026-06-15"];

const cohortWorkspace = (today: string): fc.Arbitrary<CohortWorkspace> =>
  fc.record({
    timezone: fc.constantFrom(...TIMEZONES),
    users: fc.array(
      fc.record({
        activeDays: fc.array(
          fc.integer({ min: -75, max: 0 }).map((d) => addDays(today, d)),
          { maxLength: 8 },
        ),
        creditsUnits: fc.integer({ min: 0, max: 3_000_000 }),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  });

describe("analytics.rollup_cohorts", () => {
  it("fills every column of daily, weekly and monthly cohorts (and the platform rows) as a brute-force recomputation", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...TODAYS)
          .chain((today) =>
            fc.record({ today: fc.constant(today), a: cohortWorkspace(today), b: cohortWorkspace(today) }),
          ),
        async ({ today, a, b }) => {
          // Platform rows add up every workspace: start from an empty table.
          await db.owner.query("DELETE FROM analytics.user_cohorts");
          const loadedA = await loadCohortWorkspace(a);
          const loadedB = await loadCohortWorkspace(b);
          for (const id of [loadedA.workspaceId, loadedB.workspaceId]) {
            await db.owner.query("SELECT analytics.rollup_cohorts($1, $2::date)", [id, today]);
          }
          await db.owner.query("SELECT analytics.rollup_cohorts(NULL)");
          const totalsA = cohortTotals(a, today);
          const totalsB = cohortTotals(b, today);
          const expectedOf = (totals: CohortTotals[]) =>
            totals.map((t) => JSON.stringify(expectedRow(t, today))).sort();
          expect(await actualRows(loadedA.workspaceId)).toEqual(expectedOf(totalsA));
          expect(await actualRows(loadedB.workspaceId)).toEqual(expectedOf(totalsB));
          expect(await actualRows(null)).toEqual(expectedOf(platformTotals([totalsA, totalsB])));

          // Idempotent, and cohorts whose users' activity vanished are deleted.
          await db.owner.query("DELETE FROM analytics.user_daily_activity WHERE workspace_id = $1 AND user_id = $2", [
            loadedA.workspaceId,
            loadedA.userIds[0],
          ]);
          await db.owner.query("SELECT analytics.rollup_cohorts($1, $2::date)", [loadedA.workspaceId, today]);
          await db.owner.query("SELECT analytics.rollup_cohorts($1, $2::date)", [loadedA.workspaceId, today]);
          const changed = { ...a, users: a.users.map((u, i) => (i === 0 ? { ...u, activeDays: [] } : u)) };
          expect(await actualRows(loadedA.workspaceId)).toEqual(expectedOf(cohortTotals(changed, today)));
        },
      ),
      { numRuns: 30 },
    );
  });

  it("marks only the periods that ended before today complete", async () => {
    const { workspaceId } = await loadCohortWorkspace({
      timezone: "UTC",
      users: [
        { activeDays: ["2026-03-09", "2026-03-10", "2026-03-16"], creditsUnits: 0 },
        { activeDays: ["2026-03-10"], creditsUnits: 0 },
      ],
    });
    // Today is Tuesday 2026-03-17: the week of 03-09 is complete, the week of 03-16 is not.
    await db.owner.query("SELECT analytics.rollup_cohorts($1, '2026-03-17')", [workspaceId]);
    const { rows } = await db.owner.query<{ cohort_period: string; cohort_date: string; periods: Cell[] }>(
      `SELECT cohort_period, cohort_date::text AS cohort_date, retention_data -> 'periods' AS periods
       FROM analytics.user_cohorts WHERE workspace_id = $1 ORDER BY cohort_period, cohort_date`,
      [workspaceId],
    );
    const weekly = rows.find((r) => r.cohort_period === "weekly");
    expect(weekly?.cohort_date).toBe("2026-03-09");
    expect(weekly?.periods.slice(0, 2).map((c) => [c.complete, c.active, c.active_or_later])).toEqual([
      [true, 2, 2],
      [false, null, null],
    ]);
    const daily = rows.filter((r) => r.cohort_period === "daily").map((r) => [r.cohort_date, r.periods.slice(0, 2)]);
    expect(daily).toEqual([
      [
        "2026-03-09",
        [
          { n: 0, complete: true, active: 1, active_pct: 100, active_or_later: 1, active_or_later_pct: 100 },
          { n: 1, complete: true, active: 1, active_pct: 100, active_or_later: 1, active_or_later_pct: 100 },
        ],
      ],
      [
        "2026-03-10",
        [
          { n: 0, complete: true, active: 1, active_pct: 100, active_or_later: 1, active_or_later_pct: 100 },
          { n: 1, complete: true, active: 0, active_pct: 0, active_or_later: 0, active_or_later_pct: 0 },
        ],
      ],
    ]);
    const monthly = rows.find((r) => r.cohort_period === "monthly");
    expect(monthly?.periods[0]).toEqual({
      n: 0,
      complete: false,
      active: null,
      active_pct: null,
      active_or_later: null,
      active_or_later_pct: null,
    });
  });

  it("judges completeness on the workspace's local today by default", async () => {
    const timezone = "Pacific/Chatham";
    const before = localDay(Date.now(), timezone);
    const { workspaceId } = await loadCohortWorkspace({
      timezone,
      users: [{ activeDays: [addDays(before, -3)], creditsUnits: 5 }],
    });
    await db.owner.query("SELECT analytics.rollup_cohorts($1)", [workspaceId]);
    const after = localDay(Date.now(), timezone);
    const { rows } = await db.owner.query<{ as_of: string }>(
      "SELECT DISTINCT retention_data ->> 'as_of' AS as_of FROM analytics.user_cohorts WHERE workspace_id = $1",
      [workspaceId],
    );
    expect([before, after]).toContain(rows[0].as_of);
  });

  it("puts users in cohorts by their first workspace-local day, from raw events across midnight", async () => {
    // 23:30 local on 2026-05-31 in Kolkata is 18:00Z; 00:30 local on 2026-06-01 in New York is 04:30Z.
    for (const [timezone, firstCall, secondCall, cohortDay] of [
      ["Asia/Kolkata", "2026-05-31T18:00:00Z", "2026-05-31T19:00:00Z", "2026-05-31"], // 2nd call: 00:30 on 06-01 local
      ["America/New_York", "2026-06-01T03:30:00Z", "2026-06-01T04:30:00Z", "2026-05-31"], // 23:30 then 00:30 local
    ] as const) {
      const { workspaceId, userIds } = await loadCohortWorkspace({
        timezone,
        users: [{ activeDays: [], creditsUnits: 0 }],
      });
      await db.owner.query(
        `INSERT INTO public.llm_usage_logs (workspace_id, user_id, provider, model, prompt_tokens, completion_tokens, latency_ms, created_at)
         SELECT $1, $2, 'openai', 'gpt-4o', 1, 1, 1, t FROM unnest($3::timestamptz[]) AS t`,
        [workspaceId, userIds[0], [firstCall, secondCall]],
      );
      await db.owner.query("SELECT analytics.rollup_user_daily_activity($1, $2::date[])", [
        workspaceId,
        ["2026-05-30", "2026-05-31", "2026-06-01", "2026-06-02"],
      ]);
      await db.owner.query("SELECT analytics.rollup_cohorts($1, '2026-07-02')", [workspaceId]);
      const { rows } = await db.owner.query<{ cohort_period: string; cohort_date: string; n1: Cell }>(
        `SELECT cohort_period, cohort_date::text AS cohort_date, retention_data -> 'periods' -> 1 AS n1
         FROM analytics.user_cohorts WHERE workspace_id = $1 ORDER BY cohort_period`,
        [workspaceId],
      );
      expect(localDay(Date.parse(firstCall), timezone)).toBe(cohortDay);
      expect(rows.map((r) => [r.cohort_period, r.cohort_date, r.n1.active])).toEqual([
        ["daily", cohortDay, 1], // back the next local day
        ["monthly", "2026-05-01", 1], // and that day is in June
        ["weekly", "2026-05-25", 1], // 2026-06-01 is a Monday: the next ISO week
      ]);
    }
  });

  it("recomputes on the engine's schedule at most once per interval per scope", async () => {
    const { workspaceId } = await loadCohortWorkspace({
      timezone: "UTC",
      users: [{ activeDays: ["2026-01-05"], creditsUnits: 0 }],
    });
    const run = async () =>
      (await db.owner.query<{ n: number }>("SELECT analytics.rollup_cohorts_when_due($1) AS n", [workspaceId])).rows[0]
        .n;
    expect(await run()).toBe(3); // daily, weekly and monthly cohort rows written
    await db.owner.query("DELETE FROM analytics.user_cohorts WHERE workspace_id = $1", [workspaceId]);
    expect(await run()).toBe(0); // not due yet: nothing recomputed
    await db.owner.query(
      "UPDATE analytics.cohort_refreshes SET refreshed_at = now() - interval '11 minutes' WHERE scope = $1",
      [workspaceId],
    );
    expect(await run()).toBe(3);
  });
});

describe("refreshAllCohorts", () => {
  it("recomputes every workspace (quiet ones too) and the platform rows", async () => {
    // The platform rows add up every workspace of the database: clear what the other tests left.
    await db.owner.query("DELETE FROM analytics.user_cohorts");
    await db.owner.query("DELETE FROM analytics.user_daily_activity");
    const { workspaceId } = await loadCohortWorkspace({
      timezone: "UTC",
      users: [{ activeDays: ["2026-01-05", "2026-01-06"], creditsUnits: 0 }],
    });
    // A stale row of a cohort that no longer exists, and no rows at all for the real cohorts.
    await db.owner.query(
      `INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data)
       VALUES ('daily', '2020-01-01', $1, 9, '{}')`,
      [workspaceId],
    );
    await refreshAllCohorts(db.owner);
    const { rows } = await db.owner.query<{ scope: string; cohorts: string[] }>(
      `SELECT coalesce(workspace_id::text, 'platform') AS scope, array_agg(cohort_period || ' ' || cohort_date ORDER BY cohort_period) AS cohorts
       FROM analytics.user_cohorts GROUP BY 1`,
    );
    const expected = ["daily 2026-01-05", "monthly 2026-01-01", "weekly 2026-01-05"];
    expect(rows.find((r) => r.scope === workspaceId)?.cohorts).toEqual(expected);
    expect(rows.find((r) => r.scope === "platform")?.cohorts).toEqual(expected);
  });
});
