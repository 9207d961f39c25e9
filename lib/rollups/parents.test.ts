import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { loadWorld, worldArbitrary } from "./dimensions.testkit";
import { rebuildRollups } from "./engine";
import { rollupSteps } from "./steps";

/**
 * The rollup tables have no foreign keys to workspaces, users and agents (0140: the per-row check
 * cost ~20 % of writing them); triggers on those parents delete and truncate the rollup rows as
 * ON DELETE CASCADE did. Every table a rollup step declares is checked, so a new rollup table that
 * the triggers forget fails here.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());
beforeEach(async () => {
  await db.owner.query(
    "TRUNCATE public.workspaces, public.agent_run_keys, analytics.rollup_platform_dirty_hours CASCADE",
  );
});

const rollupTables = () => [...new Set(rollupSteps().flatMap((step) => step.tables ?? []))].sort();

/** Two workspaces with every rollup written by a rebuild of their whole history. */
async function twoRolledUpWorkspaces(): Promise<[string, string]> {
  const [a, b] = [1, 2].map((seed) => fc.sample(worldArbitrary(), { numRuns: 1, seed })[0]);
  const ids: [string, string] = [await loadWorld(db.owner, a), await loadWorld(db.owner, b)];
  const { rows } = await db.owner.query<{ from: string; to: string }>(
    `SELECT (min(t) - interval '2 days')::date::text AS from, (max(t) + interval '2 days')::date::text AS to
     FROM (SELECT started_at AS t FROM public.agent_runs UNION ALL SELECT created_at FROM public.llm_usage_logs
           UNION ALL SELECT created_at FROM analytics.user_activity) raw`,
  );
  await rebuildRollups(db.owner, { from: rows[0].from, to: rows[0].to });
  return ids;
}

/** Rows per rollup table of one workspace. */
async function rowsOf(workspaceId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of rollupTables()) {
    const { rows } = await db.owner.query<{ n: number }>(
      `SELECT count(*)::integer AS n FROM ${table} WHERE workspace_id = $1`,
      [workspaceId],
    );
    counts[table] = rows[0].n;
  }
  return counts;
}

describe("rollup rows follow their workspace, user and agent (0140)", () => {
  it("no rollup table checks a foreign key per inserted row", async () => {
    const { rows } = await db.owner.query<{ name: string }>(
      `SELECT conrelid::regclass::text || ' ' || conname AS name FROM pg_constraint
       WHERE contype = 'f' AND conrelid::regclass::text = ANY ($1::text[]) ORDER BY 1`,
      [rollupTables()],
    );
    expect(rows).toEqual([]);
  });

  it("deleting a workspace deletes its rows from every rollup table and leaves the others'", async () => {
    const [doomed, kept] = await twoRolledUpWorkspaces();
    const before = { doomed: await rowsOf(doomed), kept: await rowsOf(kept) };
    // The world writes every table except, possibly, stage_daily (worlds may have no stages).
    const written = Object.entries(before.doomed)
      .filter(([, n]) => n > 0)
      .map(([table]) => table);
    expect(written).toEqual(expect.arrayContaining(rollupTables().filter((t) => t !== "analytics.stage_daily")));

    await db.owner.query("DELETE FROM public.workspaces WHERE id = $1", [doomed]);
    expect(Object.values(await rowsOf(doomed)).every((n) => n === 0)).toBe(true);
    expect(await rowsOf(kept)).toEqual(before.kept);
  });

  it("deleting a user deletes its activity, token usage and first day; deleting an agent its performance rows", async () => {
    const [workspaceId] = await twoRolledUpWorkspaces();
    const { rows: users } = await db.owner.query<{ user_id: string }>(
      "SELECT user_id FROM analytics.user_token_usage WHERE workspace_id = $1 ORDER BY user_id LIMIT 1",
      [workspaceId],
    );
    const userId = users[0].user_id;
    const perUser = `SELECT (SELECT count(*) FROM analytics.user_daily_activity WHERE workspace_id = $1 AND user_id = $2)::int AS activity,
                            (SELECT count(*) FROM analytics.user_token_usage WHERE workspace_id = $1 AND user_id = $2)::int AS tokens,
                            (SELECT count(*) FROM analytics.user_first_active_days WHERE workspace_id = $1 AND user_id = $2)::int AS first_days,
                            (SELECT count(*) FROM analytics.user_token_usage WHERE workspace_id = $1 AND user_id <> $2)::int AS other_users`;
    const before = (await db.owner.query(perUser, [workspaceId, userId])).rows[0];
    expect(before.activity).toBeGreaterThan(0);
    expect(before.tokens).toBeGreaterThan(0);
    expect(before.first_days).toBe(1);

    await db.owner.query("DELETE FROM public.users WHERE workspace_id = $1 AND id = $2", [workspaceId, userId]);
    expect((await db.owner.query(perUser, [workspaceId, userId])).rows[0]).toEqual({
      activity: 0,
      tokens: 0,
      first_days: 0,
      other_users: before.other_users,
    });

    const { rows: agents } = await db.owner.query<{ agent_id: string; others: number }>(
      `SELECT agent_id, (SELECT count(*)::int FROM analytics.agent_performance o
                         WHERE o.workspace_id = p.workspace_id AND o.agent_id <> p.agent_id) AS others
       FROM analytics.agent_performance p WHERE workspace_id = $1 ORDER BY agent_id LIMIT 1`,
      [workspaceId],
    );
    await db.owner.query("DELETE FROM public.agents WHERE workspace_id = $1 AND id = $2", [
      workspaceId,
      agents[0].agent_id,
    ]);
    const { rows: after } = await db.owner.query<{ mine: number; others: number }>(
      `SELECT count(*) FILTER (WHERE agent_id = $2)::int AS mine, count(*) FILTER (WHERE agent_id <> $2)::int AS others
       FROM analytics.agent_performance WHERE workspace_id = $1`,
      [workspaceId, agents[0].agent_id],
    );
    expect(after[0]).toEqual({ mine: 0, others: agents[0].others });
  });

  it("TRUNCATE … CASCADE of workspaces empties every rollup table", async () => {
    await twoRolledUpWorkspaces();
    await db.owner.query("TRUNCATE public.workspaces, public.agent_run_keys CASCADE");
    for (const table of rollupTables()) {
      const { rows } = await db.owner.query<{ n: number }>(`SELECT count(*)::integer AS n FROM ${table}`);
      expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
    }
  });

  it("a workspace delete waits for a running rollup of it, so rows that rollup writes do not outlive it", async () => {
    const [doomed] = await twoRolledUpWorkspaces();
    const rollup = await db.owner.connect();
    const deleter = await db.owner.connect();
    try {
      // A rollup transaction of the workspace: holds its lock (as the engine's batches do) and is
      // about to write rows computed from a snapshot that still had the workspace's raw rows.
      await rollup.query("BEGIN");
      await rollup.query("SELECT pg_advisory_xact_lock(7202620, hashtext($1))", [doomed]);
      const { rows: pid } = await deleter.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const deleting = deleter.query("DELETE FROM public.workspaces WHERE id = $1", [doomed]);
      // The delete reaches the trigger and waits for the rollup's advisory lock.
      for (let tries = 0; ; tries += 1) {
        const { rows } = await db.owner.query<{ waiting: boolean }>(
          "SELECT count(*) > 0 AS waiting FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted",
          [pid[0].pid],
        );
        if (rows[0].waiting) break;
        if (tries > 200) throw new Error("the delete never waited for the rollup's lock");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await rollup.query(
        `INSERT INTO analytics.run_user_daily (workspace_id, day, user_id, agent_id, runs, completed_runs, failed_runs,
             cancelled_runs, credits, runtime_runs, runtime_sum_seconds, runtime_hist_keys, runtime_hist_counts)
         VALUES ($1, '1999-01-01', gen_random_uuid(), gen_random_uuid(), 1, 1, 0, 0, 0, 0, 0, '{}', '{}')`,
        [doomed],
      );
      await rollup.query("COMMIT");
      await deleting;
      expect(Object.values(await rowsOf(doomed)).every((n) => n === 0)).toBe(true);
    } finally {
      await rollup.query("ROLLBACK").catch(() => undefined);
      rollup.release();
      deleter.release();
    }
  });
});
