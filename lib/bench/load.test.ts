import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePartitionsCovering } from "@/lib/db/partitions";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { loadBenchWorld, type ScaleSpec } from "./load";

/**
 * The bulk loader: exact row counts, deterministic data whichever connection loads a workspace,
 * and every index and constraint of the database back exactly as the migrations made them (the
 * loader drops secondary indexes, unique constraints and foreign keys around the load).
 */
const TINY: ScaleSpec = {
  workspaces: 3,
  usersPerWorkspace: 20,
  agentsPerWorkspace: 4,
  runs: 3 * 40 * 20,
  activityEvents: 3 * 40 * 30,
  llmCalls: 3 * 40 * 15,
  // Longer than any month, so the history always spans a month boundary (partitions).
  days: 40,
};

let first: TestDatabase;
let second: TestDatabase;

/** Every index and constraint definition of the tenant schemas (partitions included). */
async function structures(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.owner.query<{ line: string }>(
    `SELECT c.relname || ' ' || pg_get_indexdef(i.indexrelid) AS line
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('public', 'analytics', 'raw_partitions')
     UNION ALL
     SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' '
            || convalidated::text || condeferrable::text || condeferred::text
       FROM pg_constraint WHERE connamespace::regnamespace::text IN ('public', 'analytics', 'raw_partitions')
     ORDER BY 1`,
  );
  return rows.map((r) => r.line);
}

/** Order-independent fingerprint of the generated values (timestamps relative to their day). */
async function fingerprint(db: TestDatabase) {
  const { rows } = await db.owner.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM public.agent_runs) AS runs,
            (SELECT count(*) FROM analytics.user_activity) AS events,
            (SELECT count(*) FROM public.llm_usage_logs) AS calls,
            (SELECT sum(runtime_seconds) FROM public.agent_runs) AS runtime,
            (SELECT sum(credits_consumed) FROM public.agent_runs) AS credits,
            (SELECT string_agg(status || ':' || n, ',' ORDER BY status)
               FROM (SELECT status, count(*) AS n FROM public.agent_runs GROUP BY status) s) AS statuses,
            (SELECT sum(prompt_tokens) FROM public.llm_usage_logs) AS prompt_tokens,
            (SELECT sum(latency_ms) FROM public.llm_usage_logs) AS latency,
            (SELECT count(DISTINCT (workspace_id, user_id)) FROM analytics.user_activity) AS active_users`,
  );
  return rows[0];
}

beforeAll(async () => {
  [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
});
afterAll(async () => {
  await Promise.allSettled([first?.drop(), second?.drop()]);
});

describe("loadBenchWorld", () => {
  it("loads exact counts, deterministically, and leaves every index and constraint as migrated", async () => {
    // The loader creates the month partitions its history spans; create them first so the
    // structure comparison below is about what the load detaches and rebuilds.
    await ensurePartitionsCovering(
      first.owner,
      new Date(Date.now() - 42 * 86_400_000),
      new Date(Date.now() + 86_400_000),
    );
    const before = await structures(first);
    let lastProgress = 0;
    await loadBenchWorld(first.owner, TINY, (done, total) => {
      expect(total).toBe(3 * 40);
      lastProgress = done;
    });
    expect(lastProgress).toBe(120);
    expect(await structures(first)).toEqual(before);

    const loaded = await fingerprint(first);
    expect(Number(loaded.runs)).toBe(TINY.runs);
    expect(Number(loaded.events)).toBe(TINY.activityEvents);
    expect(Number(loaded.calls)).toBe(TINY.llmCalls);
    // The registry of 0093 holds every run once (filled by trigger, its constraints rebuilt).
    const keys = await first.owner.query<{ n: string }>(
      "SELECT count(*) AS n FROM public.agent_run_keys k JOIN public.agent_runs r ON r.workspace_id = k.workspace_id AND r.id = k.run_id",
    );
    expect(Number(keys.rows[0].n)).toBe(TINY.runs);
    // Every workspace-day was loaded, in each workspace.
    const days = await first.owner.query<{ n: string }>(
      "SELECT count(DISTINCT (workspace_id, date_trunc('day', started_at))) AS n FROM public.agent_runs",
    );
    expect(Number(days.rows[0].n)).toBe(3 * 40);

    // History sits in its months' partitions, never the default ones.
    const inDefault = await first.owner.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM raw_partitions.agent_runs_default) + (SELECT count(*) FROM raw_partitions.llm_usage_logs_default)
            + (SELECT count(*) FROM raw_partitions.user_activity_default) AS n`,
    );
    expect(Number(inDefault.rows[0].n)).toBe(0);

    await loadBenchWorld(second.owner, TINY, () => {});
    expect(await fingerprint(second)).toEqual(loaded);
  });
});
