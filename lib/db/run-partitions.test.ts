import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

// Partitioned agent_runs / run_stages and the agent_run_keys registry (migrations 0093, 0094),
// against a real PostgreSQL: where rows land, what stays unique, what cascades, what RLS allows,
// and that a workspace + time-range read is pruned to one partition.

let db: TestDatabase;
let app: pg.Pool;
let ws: string;
let otherWs: string;
let agent: string;
let user: string;

const one = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T> =>
  (await db.owner.query<T>(sql, params)).rows[0];
const count = async (sql: string, params: unknown[] = []): Promise<number> =>
  (await one<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) AS rows`, params)).n;

/** A run inserted the way every non-ingest writer does it: a plain INSERT. */
async function insertRun(
  externalId: string,
  startedAt: string,
  workspace = ws,
  ids: { agent: string; user: string } = { agent, user },
): Promise<string> {
  return (
    await one<{ id: string }>(
      `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at)
       VALUES ($1, $2, $3, $4, 'running', $5::timestamptz) RETURNING id`,
      [workspace, externalId, ids.agent, ids.user, startedAt],
    )
  ).id;
}

/** The UTC start of the month `offset` months from now, as an ISO string. */
function monthStart(offset: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString();
}
/** A timestamp inside the month `offset` months from now (day 10, 12:00 UTC). */
function inMonth(offset: number): string {
  const d = new Date(monthStart(offset));
  d.setUTCDate(10);
  d.setUTCHours(12);
  return d.toISOString();
}
function monthLabel(offset: number): string {
  return monthStart(offset).slice(0, 7).replace("-", "_");
}

/** One ingest batch through app.ingest_write_batch as the app role in the workspace's context. */
type IngestRun = { run_id: string; status: string; started_at: string; finished_at?: string; credits?: number };
type IngestStage = { run_ext: string; stage_index: number; name: string; prompt_tokens: number };
type IngestCall = { run_ext: string; prompt_tokens: number; created_at: string };

async function ingestBatch(
  client: pg.PoolClient,
  runs: IngestRun[],
  stages: IngestStage[] = [],
  calls: IngestCall[] = [],
): Promise<void> {
  await client.query("SELECT set_config('app.current_workspace_id', $1, true)", [ws]);
  await client.query(
    "SELECT app.ingest_write_batch($1, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb, '[]'::jsonb, '{}'::text[])",
    [
      ws,
      JSON.stringify([{ external_id: "ingest-user", email: null, first_seen: "2020-01-01T00:00:00Z" }]),
      JSON.stringify([{ external_id: "ingest-agent", name: "Ingest agent" }]),
      JSON.stringify(runs.map((r) => ({ ...r, agent_ext: "ingest-agent", user_ext: "ingest-user" }))),
      JSON.stringify(stages),
      JSON.stringify(
        calls.map((c) => ({
          ...c,
          user_ext: "ingest-user",
          provider: "openai",
          model: "gpt-4o",
          completion_tokens: 1,
          cost: 0.01,
          latency_ms: 100,
        })),
      ),
    ],
  );
}

async function ingestInTransaction(runs: IngestRun[], stages: IngestStage[] = [], calls: IngestCall[] = []) {
  const client = await app.connect();
  try {
    await client.query("BEGIN");
    await ingestBatch(client, runs, stages, calls);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = new pg.Pool({ connectionString: db.appUrl, max: 3 });
  ws = (await one<{ id: string }>("INSERT INTO public.workspaces (slug, name) VALUES ('runs', 'Runs') RETURNING id"))
    .id;
  otherWs = (
    await one<{ id: string }>("INSERT INTO public.workspaces (slug, name) VALUES ('other', 'Other') RETURNING id")
  ).id;
  user = (
    await one<{ id: string }>("INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'u1') RETURNING id", [
      ws,
    ])
  ).id;
  agent = (
    await one<{ id: string }>(
      "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'a1', 'A') RETURNING id",
      [ws],
    )
  ).id;
  // Last month and the month before have partitions too (the template only has now .. +3).
  for (const offset of [-2, -1]) {
    for (const table of ["public.agent_runs", "public.run_stages"]) {
      await db.owner.query("SELECT app.create_month_partition($1::regclass, $2::timestamptz)", [
        table,
        monthStart(offset),
      ]);
    }
  }
});
afterAll(async () => {
  await app.end();
  await db.drop();
});

describe("agent_runs and run_stages partitions", () => {
  it("are range-partitioned by started_at with the partition key in every key", async () => {
    const { rows } = await db.owner.query<{ name: string; key: string; pk: string }>(`
      SELECT c.oid::regclass::text AS name, pg_get_partkeydef(c.oid) AS key, pg_get_constraintdef(k.oid) AS pk
        FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid
        JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p'
       WHERE c.oid IN ('public.agent_runs'::regclass, 'public.run_stages'::regclass) ORDER BY 1`);
    expect(rows).toEqual([
      { name: "agent_runs", key: "RANGE (started_at)", pk: "PRIMARY KEY (workspace_id, started_at, id)" },
      {
        name: "run_stages",
        key: "RANGE (started_at)",
        pk: "PRIMARY KEY (workspace_id, started_at, run_id, stage_index)",
      },
    ]);
  });

  it("put a run and its stages in the partition of the run's month", async () => {
    const thisMonth = await insertRun("land-0", inMonth(0));
    const lastMonth = await insertRun("land-1", inMonth(-1));
    await db.owner.query(
      `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, started_at)
       SELECT workspace_id, id, g, 'step', started_at FROM public.agent_runs, generate_series(0, 1) g WHERE id = ANY ($1)`,
      [[thisMonth, lastMonth]],
    );
    const placed = await db.owner.query<{ external_id: string; run_part: string; stage_parts: string[] }>(
      `SELECT r.external_id, r.tableoid::regclass::text AS run_part,
              (SELECT array_agg(DISTINCT s.tableoid::regclass::text) FROM public.run_stages s
                WHERE s.workspace_id = r.workspace_id AND s.run_id = r.id) AS stage_parts
         FROM public.agent_runs r WHERE r.id = ANY ($1) ORDER BY 1`,
      [[thisMonth, lastMonth]],
    );
    expect(placed.rows).toEqual([
      {
        external_id: "land-0",
        run_part: `raw_partitions.agent_runs_p${monthLabel(0)}`,
        stage_parts: [`raw_partitions.run_stages_p${monthLabel(0)}`],
      },
      {
        external_id: "land-1",
        run_part: `raw_partitions.agent_runs_p${monthLabel(-1)}`,
        stage_parts: [`raw_partitions.run_stages_p${monthLabel(-1)}`],
      },
    ]);
    // Registered by the insert trigger, with the run's partition key.
    expect(
      await count(
        "SELECT 1 FROM public.agent_run_keys k JOIN public.agent_runs r ON r.id = k.run_id AND r.started_at = k.started_at WHERE k.external_id IN ('land-0', 'land-1')",
      ),
    ).toBe(2);
  });

  it("a stage must carry its run's started_at (the foreign key includes it)", async () => {
    const run = await insertRun("stage-fk", inMonth(0));
    await expect(
      db.owner.query(
        "INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, started_at) VALUES ($1, $2, 0, 'x', $3::timestamptz)",
        [ws, run, inMonth(-1)],
      ),
    ).rejects.toMatchObject({ code: "23503", constraint: "run_stages_run_fk" });
  });

  it("a plain INSERT of a second run with a taken external_id raises 23505 and changes nothing", async () => {
    const first = await insertRun("dup-1", inMonth(0));
    // Another month, so agent_runs' own primary key could not catch it.
    await expect(insertRun("dup-1", inMonth(-1))).rejects.toMatchObject({
      code: "23505",
      constraint: "agent_run_keys_pkey",
      message: expect.stringContaining('external_id "dup-1" already belongs to run'),
    });
    // Two new runs with one external id in one statement.
    await expect(
      db.owner.query(
        `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at)
         VALUES ($1, 'dup-2', $2, $3, 'running', now()), ($1, 'dup-2', $2, $3, 'running', now() - interval '1 hour')`,
        [ws, agent, user],
      ),
    ).rejects.toMatchObject({ code: "23505" });
    // The same external id in another workspace is another run.
    const otherUser = (
      await one<{ id: string }>("INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'u1') RETURNING id", [
        otherWs,
      ])
    ).id;
    const otherAgent = (
      await one<{ id: string }>(
        "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'a1', 'A') RETURNING id",
        [otherWs],
      )
    ).id;
    await insertRun("dup-1", inMonth(0), otherWs, { agent: otherAgent, user: otherUser });

    expect(await count("SELECT 1 FROM public.agent_runs WHERE external_id IN ('dup-1', 'dup-2')")).toBe(2);
    expect(
      (
        await db.owner.query(
          "SELECT run_id FROM public.agent_run_keys WHERE workspace_id = $1 AND external_id = 'dup-1'",
          [ws],
        )
      ).rows,
    ).toEqual([{ run_id: first }]);
    expect(await count("SELECT 1 FROM public.agent_run_keys WHERE external_id = 'dup-2'")).toBe(0);
  });

  it("renaming a run's external_id renames its key; renaming onto a taken one fails", async () => {
    const run = await insertRun("rename-a", inMonth(0));
    await insertRun("rename-taken", inMonth(0));
    await db.owner.query("UPDATE public.agent_runs SET external_id = 'rename-b' WHERE workspace_id = $1 AND id = $2", [
      ws,
      run,
    ]);
    expect(
      (
        await db.owner.query("SELECT external_id FROM public.agent_run_keys WHERE workspace_id = $1 AND run_id = $2", [
          ws,
          run,
        ])
      ).rows,
    ).toEqual([{ external_id: "rename-b" }]);
    await expect(
      db.owner.query("UPDATE public.agent_runs SET external_id = 'rename-taken' WHERE workspace_id = $1 AND id = $2", [
        ws,
        run,
      ]),
    ).rejects.toMatchObject({ code: "23505" });
  });

  it("a run whose started_at changes moves to the new month with its stages and key, and both hours are marked dirty", async () => {
    const run = await insertRun("move-1", inMonth(0));
    await db.owner.query(
      `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, prompt_tokens, started_at)
       SELECT workspace_id, id, g, 'step', 10 * g, started_at FROM public.agent_runs, generate_series(0, 2) g
        WHERE workspace_id = $1 AND id = $2`,
      [ws, run],
    );
    await db.owner.query("DELETE FROM analytics.rollup_dirty_hours WHERE workspace_id = $1", [ws]);
    await db.owner.query(
      "UPDATE public.agent_runs SET started_at = $3::timestamptz WHERE workspace_id = $1 AND id = $2",
      [ws, run, inMonth(-2)],
    );
    const moved = await one<{ run_part: string; stage_parts: string[]; stage_tokens: number; key_started: Date }>(
      `SELECT (SELECT tableoid::regclass::text FROM public.agent_runs WHERE workspace_id = $1 AND id = $2) AS run_part,
              (SELECT array_agg(DISTINCT tableoid::regclass::text) FROM public.run_stages WHERE workspace_id = $1 AND run_id = $2) AS stage_parts,
              (SELECT sum(prompt_tokens)::int FROM public.run_stages WHERE workspace_id = $1 AND run_id = $2 AND started_at = $3::timestamptz) AS stage_tokens,
              (SELECT started_at FROM public.agent_run_keys WHERE workspace_id = $1 AND external_id = 'move-1') AS key_started`,
      [ws, run, inMonth(-2)],
    );
    expect(moved).toEqual({
      run_part: `raw_partitions.agent_runs_p${monthLabel(-2)}`,
      stage_parts: [`raw_partitions.run_stages_p${monthLabel(-2)}`],
      stage_tokens: 30,
      key_started: new Date(inMonth(-2)),
    });
    const dirty = await db.owner.query<{ hour: Date }>(
      "SELECT hour FROM analytics.rollup_dirty_hours WHERE workspace_id = $1 ORDER BY hour",
      [ws],
    );
    expect(dirty.rows.map((r) => r.hour.toISOString())).toEqual([inMonth(-2), inMonth(0)]);
  });

  it("deleting a run nulls its calls' run_id; deleting a tracked user removes runs, stages and keys", async () => {
    const doomedUser = (
      await one<{ id: string }>(
        "INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'doomed') RETURNING id",
        [ws],
      )
    ).id;
    const keptUser = (
      await one<{ id: string }>(
        "INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'kept') RETURNING id",
        [ws],
      )
    ).id;
    const doomedRun = await insertRun("del-1", inMonth(-1), ws, { agent, user: doomedUser });
    const keptRun = await insertRun("del-2", inMonth(0), ws, { agent, user: keptUser });
    for (const run of [doomedRun, keptRun]) {
      await db.owner.query(
        `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, started_at)
         SELECT workspace_id, id, 0, 'step', started_at FROM public.agent_runs WHERE workspace_id = $1 AND id = $2`,
        [ws, run],
      );
    }
    // Two calls of the kept user's run.
    await db.owner.query(
      `INSERT INTO public.llm_usage_logs (workspace_id, run_id, user_id, provider, model, prompt_tokens, completion_tokens, latency_ms, created_at)
       VALUES ($1, $2, $3, 'openai', 'gpt-4o', 5, 5, 10, now()), ($1, $2, $3, 'openai', 'gpt-4o', 7, 7, 10, now())`,
      [ws, keptRun, keptUser],
    );

    // The run alone: its stages and key go, its calls stay with run_id NULL.
    await db.owner.query("DELETE FROM public.agent_runs WHERE workspace_id = $1 AND id = $2", [ws, keptRun]);
    expect(await count("SELECT 1 FROM public.run_stages WHERE run_id = $1", [keptRun])).toBe(0);
    expect(await count("SELECT 1 FROM public.agent_run_keys WHERE run_id = $1", [keptRun])).toBe(0);
    expect(
      (
        await db.owner.query<{ calls: number; with_run: number; tokens: number }>(
          "SELECT count(*)::int AS calls, count(run_id)::int AS with_run, sum(total_tokens)::int AS tokens FROM public.llm_usage_logs WHERE user_id = $1",
          [keptUser],
        )
      ).rows,
    ).toEqual([{ calls: 2, with_run: 0, tokens: 24 }]);

    // The tracked user: runs (through the users foreign key), their stages and keys.
    await db.owner.query("DELETE FROM public.users WHERE workspace_id = $1 AND id = $2", [ws, doomedUser]);
    expect(await count("SELECT 1 FROM public.agent_runs WHERE id = $1", [doomedRun])).toBe(0);
    expect(await count("SELECT 1 FROM public.run_stages WHERE run_id = $1", [doomedRun])).toBe(0);
    expect(await count("SELECT 1 FROM public.agent_run_keys WHERE run_id = $1", [doomedRun])).toBe(0);
  });

  it("deleting or truncating a workspace removes its run keys too (0122), so a later run may reuse the id", async () => {
    const doomed = (
      await one<{ id: string }>("INSERT INTO public.workspaces (slug, name) VALUES ('doomed', 'Doomed') RETURNING id")
    ).id;
    const ids = {
      agent: (
        await one<{ id: string }>(
          "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'a', 'A') RETURNING id",
          [doomed],
        )
      ).id,
      user: (
        await one<{ id: string }>(
          "INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'u') RETURNING id",
          [doomed],
        )
      ).id,
    };
    await insertRun("doomed-run", inMonth(0), doomed, ids);
    expect(await count("SELECT 1 FROM public.agent_run_keys WHERE workspace_id = $1", [doomed])).toBe(1);
    await db.owner.query("DELETE FROM public.workspaces WHERE id = $1", [doomed]);
    expect(await count("SELECT 1 FROM public.agent_run_keys WHERE workspace_id = $1", [doomed])).toBe(0);
    // TRUNCATE … CASCADE follows foreign keys only (no triggers): the keys' own reference to the
    // workspace is what empties the registry.
    const { rows } = await db.owner.query<{ tables: string[] }>(
      `SELECT array_agg(conrelid::regclass::text ORDER BY 1) AS tables FROM pg_constraint
        WHERE contype = 'f' AND confrelid = 'public.workspaces'::regclass AND conrelid = 'public.agent_run_keys'::regclass`,
    );
    expect(rows[0].tables).toEqual(["agent_run_keys"]);
  });

  it("a call may only name a registered run", async () => {
    await expect(
      db.owner.query(
        `INSERT INTO public.llm_usage_logs (workspace_id, run_id, user_id, provider, model, prompt_tokens, completion_tokens, latency_ms, created_at)
         VALUES ($1, gen_random_uuid(), $2, 'openai', 'gpt-4o', 1, 1, 1, now())`,
        [ws, user],
      ),
    ).rejects.toMatchObject({ code: "23503", constraint: "llm_usage_logs_run_fk" });
  });
});

describe("ingest (app.ingest_write_batch, 0094) on the partitioned tables", () => {
  it("the same runId twice stores one run, finishes it, and upserts its stages by index", async () => {
    await ingestInTransaction(
      [{ run_id: "ing-1", status: "running", started_at: inMonth(-1) }],
      [
        { run_ext: "ing-1", stage_index: 0, name: "plan", prompt_tokens: 10 },
        { run_ext: "ing-1", stage_index: 1, name: "act", prompt_tokens: 20 },
      ],
      [{ run_ext: "ing-1", prompt_tokens: 3, created_at: inMonth(-1) }],
    );
    const finishedAt = new Date(new Date(inMonth(-1)).getTime() + 90_000).toISOString();
    await ingestInTransaction(
      [{ run_id: "ing-1", status: "completed", started_at: inMonth(-1), finished_at: finishedAt, credits: 2.5 }],
      [{ run_ext: "ing-1", stage_index: 1, name: "act", prompt_tokens: 25 }],
      [{ run_ext: "ing-1", prompt_tokens: 4, created_at: inMonth(-1) }],
    );
    const runs = await db.owner.query(
      `SELECT r.status, r.runtime_seconds::float8 AS runtime, r.credits_consumed::float8 AS credits, r.tableoid::regclass::text AS part,
              (SELECT array_agg(s.prompt_tokens ORDER BY s.stage_index) FROM public.run_stages s
                WHERE s.workspace_id = r.workspace_id AND s.started_at = r.started_at AND s.run_id = r.id) AS stage_tokens,
              (SELECT count(*)::int FROM public.llm_usage_logs l WHERE l.workspace_id = r.workspace_id AND l.run_id = r.id) AS calls,
              (SELECT count(*)::int FROM public.llm_usage_logs l WHERE l.workspace_id = r.workspace_id AND l.run_id = r.id AND l.agent_id = r.agent_id) AS calls_with_agent
         FROM public.agent_runs r JOIN public.agent_run_keys k ON k.workspace_id = r.workspace_id AND k.run_id = r.id
        WHERE r.workspace_id = $1 AND r.external_id = 'ing-1'`,
      [ws],
    );
    expect(runs.rows).toEqual([
      {
        status: "completed",
        runtime: 90,
        credits: 2.5,
        part: `raw_partitions.agent_runs_p${monthLabel(-1)}`,
        stage_tokens: [10, 25],
        calls: 2,
        calls_with_agent: 2,
      },
    ]);
  });

  it("two concurrent batches with the same new runId store one run; the later one updates it", async () => {
    const first = await app.connect();
    const second = await app.connect();
    try {
      await first.query("BEGIN");
      await second.query("BEGIN");
      await ingestBatch(
        first,
        [{ run_id: "ing-race", status: "running", started_at: inMonth(0) }],
        [{ run_ext: "ing-race", stage_index: 0, name: "plan", prompt_tokens: 1 }],
      );
      // Blocks on the first batch's uncommitted claim of the key, then skips the insert and updates.
      const secondPid = (await second.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
      const racing = ingestBatch(
        second,
        [{ run_id: "ing-race", status: "failed", started_at: inMonth(0), finished_at: inMonth(0) }],
        [{ run_ext: "ing-race", stage_index: 0, name: "plan", prompt_tokens: 2 }],
      );
      // Commit the first only once the second really waits for it (bounded: 20 s).
      let waited = false;
      for (let attempt = 0; attempt < 200 && !waited; attempt++) {
        const state = await one<{ wait: string | null }>(
          "SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1",
          [secondPid],
        );
        waited = state.wait === "Lock";
        if (!waited) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(waited).toBe(true);
      await first.query("COMMIT");
      await racing;
      await second.query("COMMIT");
    } finally {
      first.release();
      second.release();
    }
    expect(
      (
        await db.owner.query(
          `SELECT r.status, (SELECT array_agg(prompt_tokens) FROM public.run_stages s WHERE s.workspace_id = r.workspace_id AND s.run_id = r.id) AS stages
             FROM public.agent_runs r WHERE r.workspace_id = $1 AND r.external_id = 'ing-race'`,
          [ws],
        )
      ).rows,
    ).toEqual([{ status: "failed", stages: [2] }]);
    expect(
      await count("SELECT 1 FROM public.agent_run_keys WHERE workspace_id = $1 AND external_id = 'ing-race'", [ws]),
    ).toBe(1);
  });
});

describe("row-level security and pruning", () => {
  it("the app role reads only its workspace's runs, stages and keys, never a partition directly", async () => {
    const client = await app.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT set_config('app.current_workspace_id', $1, true)", [otherWs]);
      const seen = await client.query<{ runs: number; stages: number; keys: number }>(
        `SELECT (SELECT count(*)::int FROM public.agent_runs WHERE workspace_id = $1) AS runs,
                (SELECT count(*)::int FROM public.run_stages WHERE workspace_id = $1) AS stages,
                (SELECT count(*)::int FROM public.agent_run_keys WHERE workspace_id = $1) AS keys`,
        [ws],
      );
      expect(seen.rows).toEqual([{ runs: 0, stages: 0, keys: 0 }]);
      // Its own workspace's run ('dup-1' in otherWs) is visible.
      expect((await client.query("SELECT external_id FROM public.agent_runs")).rows).toEqual([
        { external_id: "dup-1" },
      ]);
      await expect(
        client.query(`SELECT count(*) FROM raw_partitions.agent_runs_p${monthLabel(0)}`),
      ).rejects.toMatchObject({ code: "42501" });
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    expect(await count("SELECT 1 FROM public.agent_runs WHERE workspace_id = $1", [ws])).toBeGreaterThan(0);
    const forced = await db.owner.query<{ relname: string; rls: boolean; forced: boolean }>(
      `SELECT relname, relrowsecurity AS rls, relforcerowsecurity AS forced FROM pg_class
        WHERE oid IN ('public.agent_runs'::regclass, 'public.run_stages'::regclass, 'public.agent_run_keys'::regclass) ORDER BY 1`,
    );
    expect(forced.rows).toEqual([
      { relname: "agent_run_keys", rls: true, forced: true },
      { relname: "agent_runs", rls: true, forced: true },
      { relname: "run_stages", rls: true, forced: true },
    ]);
  });

  it("a workspace + time-range read of runs or stages scans one partition", async () => {
    const scanned = async (table: string): Promise<string[]> => {
      const { rows } = await db.owner.query<{ "QUERY PLAN": Array<{ Plan: unknown }> }>(
        `EXPLAIN (FORMAT JSON) SELECT count(*) FROM ${table}
          WHERE workspace_id = '${ws}' AND started_at >= '${monthStart(-1)}' AND started_at < '${inMonth(-1)}'`,
      );
      const relations: string[] = [];
      const walk = (node: unknown): void => {
        if (node === null || typeof node !== "object") return;
        const record = node as Record<string, unknown>;
        if (typeof record["Relation Name"] === "string") relations.push(record["Relation Name"]);
        for (const value of Object.values(record)) {
          if (Array.isArray(value)) value.forEach(walk);
          else if (typeof value === "object") walk(value);
        }
      };
      walk(rows[0]["QUERY PLAN"][0].Plan);
      return relations;
    };
    expect(await scanned("public.agent_runs")).toEqual([`agent_runs_p${monthLabel(-1)}`]);
    expect(await scanned("public.run_stages")).toEqual([`run_stages_p${monthLabel(-1)}`]);
  });
});
