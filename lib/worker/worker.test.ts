import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import pg from "pg";
import { registerJob, registeredJobs, startWorker, type StopWorker } from "./index";

let db: TestDatabase;
let stop: StopWorker | null = null;
const lines: string[] = [];
let flakyCalls = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  process.env.ROLLUP_INTERVAL_SECONDS = "1";
  // Fails on its first run: the worker must log it and pg-boss must retry it.
  registerJob(
    "test-flaky",
    async () => {
      flakyCalls += 1;
      if (flakyCalls === 1) throw new Error("transient failure");
    },
    { everySeconds: 30 },
    { retryLimit: 3, retryDelaySeconds: 1 },
  );
  stop = await startWorker({ ownerUrl: db.ownerUrl, log: (line) => lines.push(line) });
});

afterAll(async () => {
  await stop?.();
  await db?.drop();
});

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("worker", () => {
  it("rolls up newly ingested rows on its own schedule", async () => {
    const ws = "00000000-0000-4000-8000-000000000001";
    await db.owner.query(
      "INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, 'w', 'W', 'Asia/Tokyo')",
      [ws],
    );
    await db.owner.query(
      "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, $2, 'u', now() - interval '2 days')",
      [ws, "00000000-0000-4000-8000-000000000002"],
    );
    await db.owner.query("INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, $2, 'a', 'A')", [
      ws,
      "00000000-0000-4000-8000-000000000003",
    ]);
    // What ingest does: raw rows plus the dirty hour, in one transaction.
    await db.owner.query(
      `WITH run AS (
           INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
           VALUES ($1, 'r1', $2, $3, 'completed', now(), now(), 0, 7) RETURNING started_at)
       INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour) SELECT $1, date_trunc('hour', started_at, 'UTC') FROM run`,
      [ws, "00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000002"],
    );
    const rows = await eventually(
      async () =>
        (
          await db.owner.query<{ total_runs: number; credits: string }>(
            `SELECT total_runs, total_credits_consumed::text AS credits FROM analytics.daily_metrics
             WHERE workspace_id = $1 AND metric_date = (now() AT TIME ZONE 'Asia/Tokyo')::date`,
            [ws],
          )
        ).rows,
      (r) => r.length > 0,
    );
    expect(rows).toEqual([{ total_runs: 1, credits: "7.00" }]);
    const platform = await eventually(
      async () =>
        (
          await db.owner.query<{ n: number }>(
            "SELECT total_runs AS n FROM analytics.daily_metrics WHERE workspace_id IS NULL",
          )
        ).rows,
      (r) => r.length > 0,
    );
    expect(platform).toEqual([{ n: 1 }]);
  });

  it("retries a failed job and logs the failure", async () => {
    const calls = await eventually(
      async () => flakyCalls,
      (n) => n >= 2,
    );
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(lines.some((line) => /job test-flaky failed \(attempt 1 of 4\).*transient failure/.test(line))).toBe(true);
  });

  it("every registered job's handler runs against the migrated schema", async () => {
    const pool = new pg.Pool({ connectionString: db.ownerUrl, max: 2 });
    const ran: string[] = [];
    try {
      for (const job of registeredJobs()) {
        if (job.name === "test-flaky") continue;
        await job.handler({ ownerUrl: db.ownerUrl, pool, log: () => {} });
        ran.push(job.name);
      }
    } finally {
      await pool.end();
    }
    expect(ran).toEqual(
      expect.arrayContaining([
        "rollups-incremental",
        "rollups-daily",
        "cohorts-daily",
        "refresh-materialized-views",
        "retention-cleanup",
      ]),
    );
  });

  it("stops gracefully and only once", async () => {
    const stopping = stop!;
    stop = null;
    await Promise.all([stopping(), stopping()]);
    expect(lines.filter((line) => line === "worker: stopped")).toHaveLength(1);
  });
});
