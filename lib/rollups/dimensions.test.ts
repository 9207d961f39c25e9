import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import {
  addDays,
  groupBy,
  HIST_ALPHA,
  histogram,
  loadWorld,
  localDay,
  localHourStart,
  percentileCont,
  sum,
  type World,
  worldArbitrary,
} from "./dimensions.testkit";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

/** The local days spanned by every timestamp of the world, one day of margin on each side. */
function dayRange(world: World): { from: string; to: string } {
  const days = [...world.runs.map((r) => r.startedAt), ...world.calls.map((c) => c.at)]
    .map((ms) => localDay(ms, world.timezone))
    .sort();
  return { from: addDays(days[0], -1), to: addDays(days[days.length - 1], 1) };
}

async function rollup(workspaceId: string, from: string, to: string) {
  for (const step of ["rollup_run_dimensions", "rollup_llm_dimensions", "rollup_stage_dimensions"]) {
    await db.owner.query(`SELECT analytics.${step}($1, $2::date, $3::date)`, [workspaceId, from, to]);
  }
}

const sortRows = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();
const ordered = (ms: number | null) => (ms === null ? 0 : ms);

function expectedRunHourly(world: World) {
  const runs = world.runs.map((r) => ({ ...r, hour: localHourStart(r.startedAt, world.timezone) }));
  return [
    ...groupBy(runs, (r) => [r.hour, world.agents[r.agentIndex].id, r.model, r.status, r.errorType]).values(),
  ].map((group) => {
    const first = group[0];
    const timed = group.filter((r) => r.status !== "running" && r.runtimeMs !== null).map((r) => ordered(r.runtimeMs));
    const hist = histogram(timed);
    const rated = group.filter((r) => r.rating !== null).map((r) => r.rating ?? 0);
    return {
      hour: first.hour,
      agent_id: world.agents[first.agentIndex].id,
      model: first.model,
      status: first.status,
      error_type: first.errorType,
      runs: group.length,
      credits_units: sum(group.map((r) => r.creditsUnits)),
      runtime_runs: timed.length,
      runtime_sum_ms: sum(timed),
      runtime_hist_keys: hist.keys,
      runtime_hist_counts: hist.counts,
      rated_runs: rated.length,
      rating_sum: sum(rated),
    };
  });
}

function expectedRunUserDaily(world: World) {
  const runs = world.runs.map((r) => ({ ...r, day: localDay(r.startedAt, world.timezone) }));
  return [...groupBy(runs, (r) => [r.day, world.users[r.userIndex].id, world.agents[r.agentIndex].id]).values()].map(
    (group) => {
      const first = group[0];
      const timed = group
        .filter((r) => r.status !== "running" && r.runtimeMs !== null)
        .map((r) => ordered(r.runtimeMs));
      const hist = histogram(timed);
      return {
        day: first.day,
        user_id: world.users[first.userIndex].id,
        agent_id: world.agents[first.agentIndex].id,
        runs: group.length,
        completed_runs: group.filter((r) => r.status === "completed").length,
        failed_runs: group.filter((r) => r.status === "failed").length,
        cancelled_runs: group.filter((r) => r.status === "cancelled").length,
        credits_units: sum(group.map((r) => r.creditsUnits)),
        runtime_runs: timed.length,
        runtime_sum_ms: sum(timed),
        runtime_hist_keys: hist.keys,
        runtime_hist_counts: hist.counts,
      };
    },
  );
}

function callTotals(group: World["calls"]) {
  const hist = histogram(group.map((c) => c.latencyMs));
  return {
    calls: group.length,
    failed_calls: group.filter((c) => !c.success).length,
    prompt_tokens: sum(group.map((c) => c.promptTokens)),
    completion_tokens: sum(group.map((c) => c.completionTokens)),
    total_tokens: sum(group.map((c) => c.promptTokens + c.completionTokens)),
    cost_nanos: sum(group.map((c) => c.costNanos ?? 0)),
    unpriced_calls: group.filter((c) => c.costNanos === null).length,
    latency_ms_sum: sum(group.map((c) => c.latencyMs)),
    latency_hist_keys: hist.keys,
    latency_hist_counts: hist.counts,
  };
}

function expectedLlmHourly(world: World) {
  const agentOf = (c: World["calls"][number]) => (c.agentIndex === null ? null : world.agents[c.agentIndex].id);
  const errorOf = (c: World["calls"][number]) => (c.success ? null : c.errorType);
  return [
    ...groupBy(world.calls, (c) => [
      localHourStart(c.at, world.timezone),
      c.provider,
      c.model,
      agentOf(c),
      errorOf(c),
    ]).values(),
  ].map((group) => ({
    hour: localHourStart(group[0].at, world.timezone),
    provider: group[0].provider,
    model: group[0].model,
    agent_id: agentOf(group[0]),
    error_type: errorOf(group[0]),
    ...callTotals(group),
  }));
}

function expectedLlmUserDaily(world: World) {
  const agentOf = (c: World["calls"][number]) => (c.agentIndex === null ? null : world.agents[c.agentIndex].id);
  return [
    ...groupBy(world.calls, (c) => [
      localDay(c.at, world.timezone),
      world.users[c.userIndex].id,
      c.provider,
      c.model,
      agentOf(c),
    ]).values(),
  ].map((group) => ({
    day: localDay(group[0].at, world.timezone),
    user_id: world.users[group[0].userIndex].id,
    provider: group[0].provider,
    model: group[0].model,
    agent_id: agentOf(group[0]),
    ...callTotals(group),
  }));
}

function expectedStageDaily(world: World) {
  const stages = world.stages.map((s) => ({
    ...s,
    day: localDay(world.runs[s.runIndex].startedAt, world.timezone),
    agentId: world.agents[world.runs[s.runIndex].agentIndex].id,
  }));
  return [...groupBy(stages, (s) => [s.day, s.agentId, s.name, s.model, s.status]).values()].map((group) => {
    const durations = group.filter((s) => s.durationMs !== null).map((s) => ordered(s.durationMs));
    const hist = histogram(durations);
    return {
      day: group[0].day,
      agent_id: group[0].agentId,
      stage_name: group[0].name,
      model: group[0].model,
      status: group[0].status,
      stages: group.length,
      prompt_tokens: sum(group.map((s) => s.promptTokens)),
      completion_tokens: sum(group.map((s) => s.completionTokens)),
      total_tokens: sum(group.map((s) => s.promptTokens + s.completionTokens)),
      cost_nanos: sum(group.map((s) => s.costNanos ?? 0)),
      unpriced_stages: group.filter((s) => s.costNanos === null).length,
      duration_stages: durations.length,
      duration_ms_sum: sum(durations),
      duration_hist_keys: hist.keys,
      duration_hist_counts: hist.counts,
    };
  });
}

// Rows as plain JSON numbers: instants as epoch ms, money in integer units, days as text.
async function actualTables(workspaceId: string) {
  const q = async (sql: string) => (await db.owner.query(sql, [workspaceId])).rows;
  return {
    runHourly: await q(`
      SELECT (extract(epoch FROM hour) * 1000)::float8 AS hour, agent_id, model, status, error_type, runs,
             (credits * 10000)::float8 AS credits_units, runtime_runs, (runtime_sum_seconds * 1000)::float8 AS runtime_sum_ms,
             runtime_hist_keys, runtime_hist_counts, rated_runs, rating_sum
      FROM analytics.run_hourly WHERE workspace_id = $1`),
    runUserDaily: await q(`
      SELECT day::text AS day, user_id, agent_id, runs, completed_runs, failed_runs, cancelled_runs,
             (credits * 10000)::float8 AS credits_units, runtime_runs, (runtime_sum_seconds * 1000)::float8 AS runtime_sum_ms,
             runtime_hist_keys, runtime_hist_counts
      FROM analytics.run_user_daily WHERE workspace_id = $1`),
    llmHourly: await q(`
      SELECT (extract(epoch FROM hour) * 1000)::float8 AS hour, provider, model, agent_id, error_type, calls, failed_calls,
             prompt_tokens::float8 AS prompt_tokens, completion_tokens::float8 AS completion_tokens,
             total_tokens::float8 AS total_tokens, (cost_usd * 1e8)::float8 AS cost_nanos, unpriced_calls,
             latency_ms_sum::float8 AS latency_ms_sum, latency_hist_keys, latency_hist_counts
      FROM analytics.llm_usage_hourly WHERE workspace_id = $1`),
    llmUserDaily: await q(`
      SELECT day::text AS day, user_id, provider, model, agent_id, calls, failed_calls,
             prompt_tokens::float8 AS prompt_tokens, completion_tokens::float8 AS completion_tokens,
             total_tokens::float8 AS total_tokens, (cost_usd * 1e8)::float8 AS cost_nanos, unpriced_calls,
             latency_ms_sum::float8 AS latency_ms_sum, latency_hist_keys, latency_hist_counts
      FROM analytics.llm_usage_user_daily WHERE workspace_id = $1`),
    stageDaily: await q(`
      SELECT day::text AS day, agent_id, stage_name, model, status, stages, prompt_tokens::float8 AS prompt_tokens,
             completion_tokens::float8 AS completion_tokens, total_tokens::float8 AS total_tokens,
             (cost_usd * 1e8)::float8 AS cost_nanos, unpriced_stages, duration_stages,
             duration_ms_sum::float8 AS duration_ms_sum, duration_hist_keys, duration_hist_counts
      FROM analytics.stage_daily WHERE workspace_id = $1`),
  };
}

async function expectTablesToMatch(workspaceId: string, world: World) {
  const actual = await actualTables(workspaceId);
  expect(sortRows(actual.runHourly)).toEqual(sortRows(expectedRunHourly(world)));
  expect(sortRows(actual.runUserDaily)).toEqual(sortRows(expectedRunUserDaily(world)));
  expect(sortRows(actual.llmHourly)).toEqual(sortRows(expectedLlmHourly(world)));
  expect(sortRows(actual.llmUserDaily)).toEqual(sortRows(expectedLlmUserDaily(world)));
  expect(sortRows(actual.stageDaily)).toEqual(sortRows(expectedStageDaily(world)));
}

describe("dimension rollups", () => {
  it("equal a brute-force recomputation from raw rows, also after raw rows change or vanish", async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary(), async (world) => {
        const workspaceId = await loadWorld(db.owner, world);
        const { from, to } = dayRange(world);
        await rollup(workspaceId, from, to);
        await expectTablesToMatch(workspaceId, world);

        // Idempotent: a second run changes nothing.
        await rollup(workspaceId, from, to);
        await expectTablesToMatch(workspaceId, world);

        // The first user's calls vanish and the first run fails late: recomputing corrects the past.
        const firstUser = world.users[0].id;
        await db.owner.query("DELETE FROM public.llm_usage_logs WHERE workspace_id = $1 AND user_id = $2", [
          workspaceId,
          firstUser,
        ]);
        await db.owner.query(
          "UPDATE public.agent_runs SET status = 'failed', error_type = 'late_failure', runtime_seconds = 1.5 WHERE workspace_id = $1 AND id = $2",
          [workspaceId, world.runs[0].id],
        );
        const changed: World = {
          ...world,
          calls: world.calls.filter((c) => c.userIndex !== 0),
          runs: world.runs.map((r, i) =>
            i === 0 ? { ...r, status: "failed", errorType: "late_failure", runtimeMs: 1500 } : r,
          ),
        };
        await rollup(workspaceId, from, to);
        await expectTablesToMatch(workspaceId, changed);
      }),
      { numRuns: 30 },
    );
  });

  it("only touches the days it is asked to recompute", async () => {
    const world = fc.sample(worldArbitrary(), { numRuns: 1, seed: 7 })[0];
    const workspaceId = await loadWorld(db.owner, world);
    const { from, to } = dayRange(world);
    await rollup(workspaceId, from, to);
    const before = await actualTables(workspaceId);
    await db.owner.query("DELETE FROM public.agent_runs WHERE workspace_id = $1", [workspaceId]);
    // A range with no data at all (a year later): nothing else may change.
    await rollup(workspaceId, addDays(to, 365), addDays(to, 366));
    expect(await actualTables(workspaceId)).toEqual(before);
  });

  it("a second writer of the same range without the rollup lock fails whole and leaves the first one's rows (0143)", async () => {
    // The engine and the rebuild hold the workspace's advisory lock; this is what the plain INSERT
    // after the DELETE (no ON CONFLICT) does when something bypasses it: a unique violation, no mix.
    const world = fc.sample(worldArbitrary(), { numRuns: 1, seed: 31 })[0];
    const workspaceId = await loadWorld(db.owner, world);
    const { from, to } = dayRange(world);
    await rollup(workspaceId, from, to);
    const first = await db.owner.connect();
    const second = await db.owner.connect();
    try {
      const { rows: secondPid } = await second.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      await first.query("BEGIN");
      await first.query("SELECT analytics.rollup_run_dimensions($1, $2::date, $3::date)", [workspaceId, from, to]);
      const blocked = second
        .query("SELECT analytics.rollup_run_dimensions($1, $2::date, $3::date)", [workspaceId, from, to])
        .then(
          () => "committed",
          (error: { code?: string }) => error.code,
        );
      // The second waits for the first's row locks (its DELETE) until the first commits: commit only
      // once it is seen waiting, so a slow machine cannot let it start after the commit.
      for (let waited = 0; ; waited += 20) {
        const { rows } = await db.owner.query<{ waiting: boolean }>(
          "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
          [secondPid[0].pid],
        );
        if (rows[0]?.waiting) break;
        if (waited > 10_000) throw new Error("the second writer never waited for the first");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await first.query("COMMIT");
      expect(await blocked).toBe("23505");
    } finally {
      first.release();
      second.release();
    }
    await expectTablesToMatch(workspaceId, world);
  });

  it("keeps the two 01:xx hours of a fall-back night apart", async () => {
    const world: World = {
      timezone: "America/New_York",
      users: [{ id: crypto.randomUUID(), createdAt: Date.UTC(2026, 9, 1) }],
      agents: [{ id: crypto.randomUUID() }],
      runs: [
        // 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) on 2026-11-01.
        ...[Date.UTC(2026, 10, 1, 5, 30), Date.UTC(2026, 10, 1, 6, 30)].map((startedAt) => ({
          id: crypto.randomUUID(),
          userIndex: 0,
          agentIndex: 0,
          status: "completed" as const,
          startedAt,
          runtimeMs: 1000,
          creditsUnits: 10_000,
          model: null,
          errorType: null,
          rating: null,
        })),
      ],
      stages: [],
      calls: [],
    };
    const workspaceId = await loadWorld(db.owner, world);
    await rollup(workspaceId, "2026-11-01", "2026-11-01");
    const { rows } = await db.owner.query<{ hour: Date; runs: number }>(
      "SELECT hour, runs FROM analytics.run_hourly WHERE workspace_id = $1 ORDER BY hour",
      [workspaceId],
    );
    expect(rows.map((r) => [r.hour.toISOString(), r.runs])).toEqual([
      ["2026-11-01T05:00:00.000Z", 1],
      ["2026-11-01T06:00:00.000Z", 1],
    ]);
  });
});

describe("log-histogram percentiles", () => {
  it(`are within ${HIST_ALPHA * 100} % of percentile_cont over the raw values`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 86_400_000 })), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
        async (values, fractions) => {
          const { rows } = await db.owner.query<{ estimate: number[]; exact: number[] }>(
            `WITH v AS (SELECT unnest($1::float8[]) AS ms),
                  h AS (SELECT analytics.log_hist_key(ms) AS k, count(*)::integer AS c FROM v GROUP BY 1)
             SELECT (SELECT analytics.log_hist_quantiles(array_agg(k), array_agg(c), $2::float8[]) FROM h) AS estimate,
                    (SELECT percentile_cont($2::float8[]) WITHIN GROUP (ORDER BY ms) FROM v) AS exact`,
            [values, fractions],
          );
          const { estimate, exact } = rows[0];
          fractions.forEach((fraction, i) => {
            const brute = percentileCont(values, fraction) ?? Number.NaN;
            expect(exact[i]).toBeCloseTo(brute, 6);
            expect(Math.abs(estimate[i] - brute)).toBeLessThanOrEqual(HIST_ALPHA * brute + 1e-9);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("merge across rollup rows: p50/p95/p99 of a range stay within the bound", async () => {
    await fc.assert(
      fc.asyncProperty(worldArbitrary(), async (world) => {
        const workspaceId = await loadWorld(db.owner, world);
        const { from, to } = dayRange(world);
        await rollup(workspaceId, from, to);
        const { rows } = await db.owner.query<{ q: (number | null)[] }>(
          `SELECT analytics.log_hist_quantiles(array_agg(u.k), array_agg(u.c), ARRAY[0.5, 0.95, 0.99]) AS q
           FROM analytics.llm_usage_hourly r, unnest(r.latency_hist_keys, r.latency_hist_counts) AS u(k, c)
           WHERE r.workspace_id = $1`,
          [workspaceId],
        );
        const latencies = world.calls.map((c) => c.latencyMs);
        [0.5, 0.95, 0.99].forEach((fraction, i) => {
          const exact = percentileCont(latencies, fraction) ?? Number.NaN;
          expect(Math.abs((rows[0].q[i] ?? Number.NaN) - exact)).toBeLessThanOrEqual(HIST_ALPHA * exact + 1e-9);
        });
      }),
      { numRuns: 15 },
    );
  });

  it("read NULL from an empty histogram", async () => {
    const { rows } = await db.owner.query("SELECT analytics.log_hist_quantiles('{}', '{}', ARRAY[0.5]) AS q");
    expect(rows[0].q).toEqual([null]);
  });
});

describe("the engine's day-array entry points", () => {
  it("recompute exactly the given days, split into consecutive ranges", async () => {
    const world = fc.sample(worldArbitrary(), { numRuns: 1, seed: 11 })[0];
    const workspaceId = await loadWorld(db.owner, world);
    const { from, to } = dayRange(world);
    const days: string[] = [];
    for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
    // Every other day first, then the rest (duplicates and NULL tolerated).
    const even = days.filter((_, i) => i % 2 === 0);
    const odd = days.filter((_, i) => i % 2 === 1);
    for (const step of ["rollup_run_dimensions", "rollup_llm_dimensions", "rollup_stage_dimensions"]) {
      const first = await db.owner.query<{ n: number }>(`SELECT analytics.${step}($1, $2::date[]) AS n`, [
        workspaceId,
        [...even, even[0], null],
      ]);
      expect(first.rows[0].n).toBe(even.length);
      await db.owner.query(`SELECT analytics.${step}($1, $2::date[])`, [workspaceId, odd]);
    }
    await expectTablesToMatch(workspaceId, world);
  });
});
