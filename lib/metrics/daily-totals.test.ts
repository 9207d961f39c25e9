import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { queryMetric, queryMetricTotal } from "./query";
import { planMetric } from "./sql";

/**
 * Migrations 0110 (pre-merged daily totals kept by triggers on the hourly rollups) and 0111
 * (log_hist_quantiles in PL/pgSQL), and the catalogue's set-based percentile reading: every number
 * must be exactly what the hourly rollup rows give.
 */
let db: TestDatabase;
let workspaceId: string;
let agentIds: string[];
const TZ = "Asia/Kolkata"; // +05:30: local days and hours are not UTC ones
const FROM_DAY = "2026-05-04"; // Monday
const TO_DAY = "2026-05-24"; // Sunday, 3 weeks
const RUNS = 3000;
const CALLS = 2000;

async function rollUp(from = "2026-05-01", to = "2026-05-28") {
  await db.owner.query("SELECT analytics.rollup_run_dimensions($1, $2, $3)", [workspaceId, from, to]);
  await db.owner.query("SELECT analytics.rollup_llm_dimensions($1, $2, $3)", [workspaceId, from, to]);
}

beforeAll(async () => {
  db = await createTestDatabase();
  const ws = await db.owner.query<{ id: string }>(
    "INSERT INTO public.workspaces (slug, name, timezone) VALUES ('totals', 'Totals', $1) RETURNING id",
    [TZ],
  );
  workspaceId = ws.rows[0].id;
  await db.owner.query(
    `INSERT INTO public.users (workspace_id, external_id) SELECT $1, 'u' || i FROM generate_series(1, 20) i`,
    [workspaceId],
  );
  await db.owner.query(
    `INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'a' || i, 'Agent ' || i FROM generate_series(1, 4) i`,
    [workspaceId],
  );
  agentIds = (
    await db.owner.query<{ id: string }>("SELECT id FROM public.agents WHERE workspace_id = $1 ORDER BY external_id", [
      workspaceId,
    ])
  ).rows.map((r) => r.id);
  await db.owner.query("SELECT setseed(0.25)");
  // Runs every ~10 minutes over 21 local days (runtimes 0.2 s .. 300 s, every status), calls alike.
  await db.owner.query(
    `WITH u AS (SELECT array_agg(id ORDER BY external_id) AS ids FROM public.users WHERE workspace_id = $1),
          a AS (SELECT array_agg(id ORDER BY external_id) AS ids FROM public.agents WHERE workspace_id = $1)
     INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
                                    runtime_seconds, credits_consumed, model, error_type)
     SELECT $1, 'r' || n, a.ids[1 + n % 4], u.ids[1 + n % 20],
            (ARRAY['completed', 'completed', 'completed', 'failed', 'cancelled', 'running'])[1 + n % 6],
            t, CASE WHEN n % 6 <> 5 THEN t + rt * interval '1 second' END,
            CASE WHEN n % 6 <> 5 THEN round(rt::numeric, 3) END, round((n % 7)::numeric / 3, 4),
            (ARRAY['gpt-4o', 'claude-3', NULL])[1 + n % 3], CASE WHEN n % 6 = 3 THEN 'timeout' END
     FROM generate_series(1, $2::int) n, u, a,
          LATERAL (SELECT ($3::date::timestamp AT TIME ZONE $4) + n * interval '10 minutes' + random() * interval '5 minutes' AS t,
                          0.2 + random() * random() * 300 AS rt) x`,
    [workspaceId, RUNS, FROM_DAY, TZ],
  );
  await db.owner.query(
    `WITH u AS (SELECT array_agg(id ORDER BY external_id) AS ids FROM public.users WHERE workspace_id = $1),
          a AS (SELECT array_agg(id ORDER BY external_id) AS ids FROM public.agents WHERE workspace_id = $1)
     INSERT INTO public.llm_usage_logs (workspace_id, user_id, agent_id, provider, model, prompt_tokens, completion_tokens,
                                        total_cost_usd, cost_source, latency_ms, success, error_type, created_at)
     SELECT $1, u.ids[1 + n % 20], CASE WHEN n % 5 <> 0 THEN a.ids[1 + n % 4] END,
            (ARRAY['openai', 'anthropic'])[1 + n % 2], (ARRAY['gpt-4o', 'claude-3'])[1 + n % 2], 100 + n % 900, 10 + n % 90,
            CASE WHEN n % 4 <> 0 THEN (n % 13)::numeric / 1000 END, CASE WHEN n % 4 <> 0 THEN 'reported' ELSE 'unpriced' END,
            50 + floor(random() * 8000)::int, n % 9 <> 0, CASE WHEN n % 9 = 0 THEN 'rate_limit' END,
            ($3::date::timestamp AT TIME ZONE $4) + n * interval '15 minutes'
     FROM generate_series(1, $2::int) n, u, a`,
    [workspaceId, CALLS, FROM_DAY, TZ],
  );
  await rollUp();
});
afterAll(async () => {
  await db?.drop();
});

/** Rows of (day, key, count) in which the totals' histograms and the hourly rows merged per day differ. */
async function histogramDifferences(kind: "run" | "llm"): Promise<number> {
  const [hourly, totals, keys, counts] =
    kind === "run"
      ? ["analytics.run_hourly", "analytics.run_daily_totals", "runtime_hist_keys", "runtime_hist_counts"]
      : ["analytics.llm_usage_hourly", "analytics.llm_usage_daily_totals", "latency_hist_keys", "latency_hist_counts"];
  const { rows } = await db.owner.query<{ n: number }>(
    `WITH from_hourly AS (
       SELECT (r.hour AT TIME ZONE $2)::date AS day, h.k, sum(h.c)::bigint AS c
       FROM ${hourly} r, unnest(r.${keys}, r.${counts}) AS h(k, c) WHERE r.workspace_id = $1 GROUP BY 1, 2
     ), from_totals AS (
       SELECT t.day, h.k, h.c::bigint AS c FROM ${totals} t, unnest(t.${keys}, t.${counts}) AS h(k, c) WHERE t.workspace_id = $1
     )
     SELECT ((SELECT count(*) FROM (SELECT * FROM from_hourly EXCEPT SELECT * FROM from_totals) a)
           + (SELECT count(*) FROM (SELECT * FROM from_totals EXCEPT SELECT * FROM from_hourly) b))::int AS n`,
    [workspaceId, TZ],
  );
  return rows[0].n;
}

describe("daily totals (0110)", () => {
  it("hold every run and call once, per local day, with the hourly rows' sums and merged histograms", async () => {
    const { rows } = await db.owner.query<Record<string, string>>(
      `SELECT (SELECT count(*) FROM analytics.run_daily_totals WHERE workspace_id = $1) AS run_days,
              (SELECT sum(runs) FROM analytics.run_daily_totals WHERE workspace_id = $1) AS runs,
              (SELECT sum(completed_runs + failed_runs + cancelled_runs) FROM analytics.run_daily_totals WHERE workspace_id = $1) AS finished,
              (SELECT count(*) FROM public.agent_runs WHERE workspace_id = $1 AND status <> 'running') AS raw_finished,
              (SELECT sum(credits) FROM analytics.run_daily_totals WHERE workspace_id = $1) AS credits,
              (SELECT sum(credits_consumed) FROM public.agent_runs WHERE workspace_id = $1) AS raw_credits,
              (SELECT sum(runtime_sum_seconds) FROM analytics.run_daily_totals WHERE workspace_id = $1) AS runtime,
              (SELECT sum(runtime_seconds) FROM public.agent_runs WHERE workspace_id = $1) AS raw_runtime,
              (SELECT count(DISTINCT (started_at AT TIME ZONE $2)::date) FROM public.agent_runs WHERE workspace_id = $1) AS raw_run_days,
              (SELECT sum(calls) FROM analytics.llm_usage_daily_totals WHERE workspace_id = $1) AS calls,
              (SELECT sum(failed_calls) FROM analytics.llm_usage_daily_totals WHERE workspace_id = $1) AS failed_calls,
              (SELECT sum(cost_usd) FROM analytics.llm_usage_daily_totals WHERE workspace_id = $1) AS cost,
              (SELECT sum(total_cost_usd) FROM public.llm_usage_logs WHERE workspace_id = $1) AS raw_cost,
              (SELECT sum(unpriced_calls) FROM analytics.llm_usage_daily_totals WHERE workspace_id = $1) AS unpriced`,
      [workspaceId, TZ],
    );
    const r = rows[0];
    expect(Number(r.runs)).toBe(RUNS);
    expect(Number(r.finished)).toBe(Number(r.raw_finished));
    expect(Number(r.finished)).toBe(2500); // every sixth run is still running
    expect(r.credits).toBe(r.raw_credits);
    expect(r.runtime).toBe(r.raw_runtime);
    expect(Number(r.run_days)).toBe(Number(r.raw_run_days));
    expect(Number(r.calls)).toBe(CALLS);
    expect(Number(r.failed_calls)).toBe(Math.floor(CALLS / 9));
    expect(r.cost).toBe(r.raw_cost);
    expect(Number(r.unpriced)).toBe(CALLS / 4);
    expect(await histogramDifferences("run")).toBe(0);
    expect(await histogramDifferences("llm")).toBe(0);
  });

  it("0115: the dimension daily tables are the hourly rows merged per local day, sums and histograms", async () => {
    for (const [hourly, daily, dims, sums, keys, counts] of [
      [
        "analytics.run_hourly",
        "analytics.run_daily",
        "agent_id::text, coalesce(model, '-'), status, coalesce(error_type, '-')",
        "sum(runs)::numeric, sum(credits)::numeric, sum(runtime_runs)::numeric, sum(runtime_sum_seconds)::numeric, sum(rated_runs)::numeric, sum(rating_sum)::numeric",
        "runtime_hist_keys",
        "runtime_hist_counts",
      ],
      [
        "analytics.llm_usage_hourly",
        "analytics.llm_usage_daily",
        "provider, model, coalesce(agent_id::text, '-'), coalesce(error_type, '-')",
        "sum(calls)::numeric, sum(failed_calls)::numeric, sum(total_tokens)::numeric, sum(cost_usd)::numeric, sum(unpriced_calls)::numeric, sum(latency_ms_sum)::numeric",
        "latency_hist_keys",
        "latency_hist_counts",
      ],
    ] as const) {
      const { rows } = await db.owner.query<{ sums_differ: number; hist_differ: number; daily_rows: number }>(
        `WITH hs AS (SELECT (hour AT TIME ZONE $2)::date AS day, ${dims}, ${sums} FROM ${hourly} WHERE workspace_id = $1 GROUP BY 1, ${dims}),
              ds AS (SELECT day, ${dims}, ${sums} FROM ${daily} WHERE workspace_id = $1 GROUP BY 1, ${dims}),
              hh AS (SELECT (r.hour AT TIME ZONE $2)::date AS day, ${dims.replace(/(agent_id|model|status|error_type|provider)/g, "r.$1")}, h.k, sum(h.c)::bigint AS c
                     FROM ${hourly} r, unnest(r.${keys}, r.${counts}) AS h(k, c) WHERE r.workspace_id = $1 GROUP BY 1, ${dims.replace(/(agent_id|model|status|error_type|provider)/g, "r.$1")}, h.k),
              dh AS (SELECT r.day, ${dims.replace(/(agent_id|model|status|error_type|provider)/g, "r.$1")}, h.k, h.c::bigint AS c
                     FROM ${daily} r, unnest(r.${keys}, r.${counts}) AS h(k, c) WHERE r.workspace_id = $1)
         SELECT ((SELECT count(*) FROM (SELECT * FROM hs EXCEPT SELECT * FROM ds) a)
               + (SELECT count(*) FROM (SELECT * FROM ds EXCEPT SELECT * FROM hs) b))::int AS sums_differ,
                ((SELECT count(*) FROM (SELECT * FROM hh EXCEPT SELECT * FROM dh) a)
               + (SELECT count(*) FROM (SELECT * FROM dh EXCEPT SELECT * FROM hh) b))::int AS hist_differ,
                (SELECT count(*) FROM ${daily} WHERE workspace_id = $1)::int AS daily_rows`,
        [workspaceId, TZ],
      );
      expect(rows[0], daily).toEqual({ sums_differ: 0, hist_differ: 0, daily_rows: rows[0].daily_rows });
      expect(rows[0].daily_rows, daily).toBeGreaterThan(50);
    }
  });

  it("follow deletes, updates and truncation of the hourly rows", async () => {
    const day = "2026-05-10";
    const before = await db.owner.query<{ runs: string }>(
      "SELECT runs FROM analytics.run_daily_totals WHERE workspace_id = $1 AND day = $2",
      [workspaceId, day],
    );
    const deleted = await db.owner.query(
      `DELETE FROM public.agent_runs WHERE workspace_id = $1 AND (started_at AT TIME ZONE $2)::date = $3
         AND external_id IN (SELECT external_id FROM public.agent_runs WHERE workspace_id = $1
                               AND (started_at AT TIME ZONE $2)::date = $3 ORDER BY external_id LIMIT 25)`,
      [workspaceId, TZ, day],
    );
    expect(deleted.rowCount).toBe(25);
    await rollUp(day, day); // the rollup step deletes the day's hourly rows and inserts them again
    const after = await db.owner.query<{ runs: string }>(
      "SELECT runs FROM analytics.run_daily_totals WHERE workspace_id = $1 AND day = $2",
      [workspaceId, day],
    );
    expect(Number(after.rows[0].runs)).toBe(Number(before.rows[0].runs) - 25);
    expect(await histogramDifferences("run")).toBe(0);

    await db.owner.query(
      `UPDATE analytics.run_hourly SET runs = runs + 7
       WHERE id = (SELECT min(id) FROM analytics.run_hourly WHERE workspace_id = $1 AND (hour AT TIME ZONE $2)::date = $3)`,
      [workspaceId, TZ, day],
    );
    const updated = await db.owner.query<{ runs: string }>(
      "SELECT runs FROM analytics.run_daily_totals WHERE workspace_id = $1 AND day = $2",
      [workspaceId, day],
    );
    expect(Number(updated.rows[0].runs)).toBe(Number(before.rows[0].runs) - 25 + 7);

    // A day whose hourly rows all vanish loses its totals row.
    await db.owner.query(
      "DELETE FROM analytics.llm_usage_hourly WHERE workspace_id = $1 AND (hour AT TIME ZONE $2)::date = $3",
      [workspaceId, TZ, day],
    );
    const gone = await db.owner.query(
      "SELECT 1 FROM analytics.llm_usage_daily_totals WHERE workspace_id = $1 AND day = $2",
      [workspaceId, day],
    );
    expect(gone.rowCount).toBe(0);

    await db.owner.query("TRUNCATE analytics.run_hourly");
    const truncated = await db.owner.query("SELECT 1 FROM analytics.run_daily_totals WHERE workspace_id = $1", [
      workspaceId,
    ]);
    expect(truncated.rowCount).toBe(0);

    // A cascading TRUNCATE that reaches both tables in one statement (as test suites reset worlds).
    await db.owner.query("TRUNCATE analytics.run_hourly, analytics.run_daily_totals");

    await rollUp(); // back to the raw rows' truth for the tests below
    expect(await histogramDifferences("run")).toBe(0);
    expect(await histogramDifferences("llm")).toBe(0);
  });

  it("serve the ungrouped catalogue queries, with exactly the numbers the hourly rows give", async () => {
    const workspace = { id: workspaceId, timezone: TZ };
    const ctx = { workspaceId, timezone: TZ, from: `${FROM_DAY}T00:00:00`, to: "2026-05-25T00:00:00", filters: {} };
    expect(planMetric("runtime_p95", { ...ctx, granularity: "day", groupBy: null })?.table).toBe(
      "analytics.run_daily_totals",
    );
    expect(planMetric("llm_latency_p95", { ...ctx, granularity: "week", groupBy: null })?.table).toBe(
      "analytics.llm_usage_daily_totals",
    );
    // Hours still go to the hourly tables; a group-by or a filter to the dimension daily tables (0115).
    expect(planMetric("runs", { ...ctx, granularity: "hour", groupBy: null })?.table).toBe("analytics.run_hourly");
    expect(planMetric("runs", { ...ctx, granularity: "hour", groupBy: "agent" })?.table).toBe("analytics.run_hourly");
    expect(planMetric("runs", { ...ctx, granularity: "day", groupBy: "agent" })?.table).toBe("analytics.run_daily");
    expect(
      planMetric("cost_usd", { ...ctx, granularity: "week", groupBy: "model", filters: { provider: "openai" } })?.table,
    ).toBe("analytics.llm_usage_daily");
    expect(planMetric("cost_usd", { ...ctx, granularity: "day", groupBy: "user" })?.table).toBe(
      "analytics.llm_usage_user_daily",
    );

    for (const granularity of ["day", "week"] as const) {
      for (const [metric, table, keys, counts, fraction, divisor] of [
        ["runtime_p95", "run_hourly", "runtime_hist_keys", "runtime_hist_counts", 0.95, 1000],
        ["runtime_p50", "run_hourly", "runtime_hist_keys", "runtime_hist_counts", 0.5, 1000],
        ["llm_latency_p95", "llm_usage_hourly", "latency_hist_keys", "latency_hist_counts", 0.95, 1],
      ] as const) {
        const result = await queryMetric(db.ownerPrisma, {
          workspace,
          metric,
          from: FROM_DAY,
          to: TO_DAY,
          granularity,
        });
        const { rows } = await db.owner.query<{ bucket: string; v: number }>(
          `SELECT to_char(date_trunc($3, r.hour AT TIME ZONE $2), 'YYYY-MM-DD"T"HH24:MI:SS') AS bucket,
                  (analytics.log_hist_quantiles(array_agg(h.k), array_agg(h.c), ARRAY[$4::float8]))[1] / $5::float8 AS v
           FROM analytics.${table} r, unnest(r.${keys}, r.${counts}) AS h(k, c)
           WHERE r.workspace_id = $1 AND r.hour >= ($6::date::timestamp AT TIME ZONE $2)
             AND r.hour < (($7::date + 1)::timestamp AT TIME ZONE $2)
           GROUP BY 1 ORDER BY 1`,
          [workspaceId, TZ, granularity, fraction, divisor, FROM_DAY, TO_DAY],
        );
        const expected = new Map(rows.map((r) => [r.bucket, r.v]));
        const points = result.series[0].points;
        expect(points.length).toBe(granularity === "day" ? 21 : 3);
        for (const point of points) {
          const want = expected.get(point.t.slice(0, 19));
          expect(want, `${metric} ${granularity} ${point.t}`).toBeDefined();
          expect(point.v, `${metric} ${granularity} ${point.t}`).toBe(want);
        }
      }
    }
    const total = await queryMetricTotal(db.ownerPrisma, { workspace, metric: "runs", from: FROM_DAY, to: TO_DAY });
    const raw = await db.owner.query<{ n: string }>(
      `SELECT count(*) AS n FROM public.agent_runs WHERE workspace_id = $1
         AND started_at >= ($2::date::timestamp AT TIME ZONE $4) AND started_at < (($3::date + 1)::timestamp AT TIME ZONE $4)`,
      [workspaceId, FROM_DAY, TO_DAY, TZ],
    );
    expect(total.value).toBe(Number(raw.rows[0].n));
  });

  it("read grouped percentiles set-based exactly as log_hist_quantiles per series and bucket", async () => {
    const workspace = { id: workspaceId, timezone: TZ };
    const result = await queryMetric(db.ownerPrisma, {
      workspace,
      metric: "runtime_p99",
      from: FROM_DAY,
      to: TO_DAY,
      granularity: "week",
      groupBy: "agent",
    });
    const { rows } = await db.owner.query<{ agent: string; bucket: string; v: number }>(
      `SELECT r.agent_id::text AS agent, to_char(date_trunc('week', r.hour AT TIME ZONE $2), 'YYYY-MM-DD"T"HH24:MI:SS') AS bucket,
              (analytics.log_hist_quantiles(array_agg(h.k), array_agg(h.c), ARRAY[0.99]))[1] / 1000 AS v
       FROM analytics.run_hourly r, unnest(r.runtime_hist_keys, r.runtime_hist_counts) AS h(k, c)
       WHERE r.workspace_id = $1 AND r.hour >= ($3::date::timestamp AT TIME ZONE $2)
         AND r.hour < (($4::date + 1)::timestamp AT TIME ZONE $2)
       GROUP BY 1, 2`,
      [workspaceId, TZ, FROM_DAY, TO_DAY],
    );
    expect(rows.length).toBe(4 * 3);
    expect(result.series.map((s) => s.key).sort()).toEqual([...agentIds].sort());
    for (const row of rows) {
      const point = result.series.find((s) => s.key === row.agent)?.points.find((p) => p.t.startsWith(row.bucket));
      expect(point?.v, `${row.agent} ${row.bucket}`).toBe(row.v);
    }
  });
});

describe("log_hist_quantiles in PL/pgSQL (0111)", () => {
  it("returns exactly what the SQL definition of 0025 returned, edge cases included", async () => {
    // The 0025 body, installed under another name as the reference.
    const migration = readFileSync(path.join(process.cwd(), "prisma/migrations/0025_dimension_rollups.sql"), "utf8");
    const body = /CREATE FUNCTION analytics\.log_hist_quantiles[\s\S]*?AS \$\$([\s\S]*?)\$\$;/.exec(migration)?.[1];
    expect(body).toBeDefined();
    const client = await db.owner.connect(); // pg_temp is per session: compare on the same one
    try {
      await client.query(
        `CREATE FUNCTION pg_temp.reference_quantiles(p_keys integer[], p_counts integer[], p_fractions double precision[])
           RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $body$${body}$body$`,
      );
      await client.query("SELECT setseed(0.5)");
      const { rows } = await client.query<{ cases: number; differ: number }>(
        `WITH cases AS (
           SELECT g,
                  (SELECT array_agg(CASE WHEN random() < 0.03 THEN NULL WHEN random() < 0.05 THEN -32768
                                         ELSE (300 + random() * 300)::int END) FROM generate_series(0, (random() * 50)::int + g * 0)) AS k,
                  (SELECT array_agg((random() * 5)::int - 1) FROM generate_series(0, 40 + g * 0)) AS c
           FROM generate_series(1, 2000) g
         )
         SELECT count(*)::int AS cases,
                count(*) FILTER (WHERE pg_temp.reference_quantiles(k, c, f) IS DISTINCT FROM analytics.log_hist_quantiles(k, c, f))::int AS differ
         FROM cases, (VALUES (ARRAY[0, 0.5, 0.95, 0.99, 1, 1.2, -0.1, NULL, 0.333]::float8[])) AS fr(f)`,
      );
      expect(rows[0]).toEqual({ cases: 2000, differ: 0 });
      const edge = await client.query<{ same: boolean; value: number[] | null }>(
        `SELECT pg_temp.reference_quantiles(k, c, f) IS NOT DISTINCT FROM analytics.log_hist_quantiles(k, c, f) AS same,
                analytics.log_hist_quantiles(k, c, f) AS value
         FROM (VALUES (ARRAY[]::int[], ARRAY[]::int[], ARRAY[0.5]::float8[]),
                      (NULL::int[], NULL::int[], ARRAY[0.5]::float8[]),
                      (ARRAY[1], ARRAY[1], ARRAY[]::float8[]),
                      (ARRAY[1], ARRAY[1], NULL::float8[]),
                      (ARRAY[-32768, 10], ARRAY[1, 1], ARRAY[0, 0.5, 1]::float8[])) AS t(k, c, f)`,
      );
      expect(edge.rows.map((r) => r.same)).toEqual([true, true, true, true, true]);
      expect(edge.rows[0].value).toEqual([null]);
      expect(edge.rows[2].value).toBeNull();
      // Zero reads back as exactly 0; the median interpolates halfway to key 10's value.
      const ten = (2 * Math.pow(1.01 / 0.99, 10)) / (1.01 / 0.99 + 1);
      expect(edge.rows[4].value?.[0]).toBe(0);
      expect(edge.rows[4].value?.[1]).toBeCloseTo(ten / 2, 12);
      expect(edge.rows[4].value?.[2]).toBeCloseTo(ten, 12);
    } finally {
      client.release();
    }
  });
});
