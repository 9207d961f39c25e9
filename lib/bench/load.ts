import type pg from "pg";
import { ensurePartitionsCovering } from "@/lib/db/partitions";
import type { BenchScale } from "./types";

export type ScaleSpec = {
  workspaces: number;
  usersPerWorkspace: number;
  agentsPerWorkspace: number;
  runs: number;
  activityEvents: number;
  llmCalls: number;
  days: number;
};

export const SCALES: Record<BenchScale, ScaleSpec> = {
  small: {
    workspaces: 2,
    usersPerWorkspace: 300,
    agentsPerWorkspace: 10,
    runs: 100_000,
    activityEvents: 200_000,
    llmCalls: 100_000,
    days: 90,
  },
  medium: {
    workspaces: 20,
    usersPerWorkspace: 2_000,
    agentsPerWorkspace: 25,
    runs: 10_000_000,
    activityEvents: 20_000_000,
    llmCalls: 10_000_000,
    days: 90,
  },
  large: {
    workspaces: 40,
    usersPerWorkspace: 5_000,
    agentsPerWorkspace: 40,
    runs: 30_000_000,
    activityEvents: 60_000_000,
    llmCalls: 30_000_000,
    days: 90,
  },
};

/**
 * Tables the load writes (agent_run_keys: the run registry 0093 fills by trigger from agent_runs;
 * absent before 0093, then skipped); their secondary indexes, unique constraints (not primary keys)
 * and foreign keys are rebuilt around the load.
 */
const LOADED_TABLES = [
  "public.agent_runs",
  "public.agent_run_keys",
  "analytics.user_activity",
  "public.llm_usage_logs",
] as const;

/** Connections loading workspaces side by side: one per core of the 2-core benchmark machine. */
const LOAD_CONNECTIONS = 2;

type DetachedStructure = {
  kind: "index" | "unique constraint" | "foreign key";
  name: string;
  table: string;
  definition: string;
};

/**
 * The benchmark's bulk loader: rows are generated inside PostgreSQL (generate_series), one
 * statement per workspace-day per table, so loading tens of millions of rows is bounded by the
 * server's write speed, not by a client round trip per row.
 *
 * Speed (docs/notes/dashboards.md, "Benchmarks"): LOAD_CONNECTIONS connections load different
 * workspaces at once, and the loaded tables' secondary indexes, unique constraints and foreign keys
 * are dropped first and recreated from their exact catalog definitions afterwards (one sorted index
 * build and one validating join each, instead of a random btree insertion and an RI trigger per
 * row); primary keys stay. The tables stay ordinary logged tables. Deterministic: every
 * workspace seeds its own connection (setseed) before its rows, whichever connection loads it.
 */
export async function loadBenchWorld(
  pool: pg.Pool,
  scale: ScaleSpec,
  onProgress: (done: number, total: number) => void,
): Promise<{ workspaceIds: string[] }> {
  const workspaceIds: string[] = [];
  const zones = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"];
  for (let w = 0; w < scale.workspaces; w++) {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, $2, $3)
       ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
      [`bench-${w + 1}`, `Bench workspace ${w + 1}`, zones[w % zones.length]],
    );
    const workspaceId = rows[0].id;
    workspaceIds.push(workspaceId);
    await pool.query(
      `INSERT INTO public.users (workspace_id, external_id, email, created_at)
       SELECT $1, 'u-' || g, 'user' || g || '@bench.example', now() - ($3::int * random()) * interval '1 day'
       FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING`,
      [workspaceId, scale.usersPerWorkspace, scale.days],
    );
    await pool.query(
      `INSERT INTO public.agents (workspace_id, external_id, name)
       SELECT $1, 'a-' || g, 'Agent ' || g FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING`,
      [workspaceId, scale.agentsPerWorkspace],
    );
  }

  // The loaded history goes into its months' partitions, as it would in production (the scheduler
  // creates months ahead); without this, all but the current month would pile into the default
  // partitions and every range scan of the bench would read them.
  await ensurePartitionsCovering(
    pool,
    new Date(Date.now() - (scale.days + 2) * 86_400_000),
    new Date(Date.now() + 86_400_000),
  );

  const steps = scale.workspaces * scale.days;
  let done = 0;
  const detached = await detachSecondaryStructures(pool);
  try {
    const queue = workspaceIds.map((id, index) => ({ id, index }));
    const worker = async () => {
      const client = await pool.connect();
      try {
        // Thousands of one-statement transactions: do not wait for each WAL flush (the rows are still
        // WAL-logged; a crash could lose only the last few statements of a throwaway load).
        await client.query("SET synchronous_commit = off");
        for (let next = queue.shift(); next; next = queue.shift()) {
          await client.query("SELECT setseed($1)", [((next.index + 1) * 0.618_033_988_7) % 1]);
          for (let day = scale.days; day >= 1; day--) {
            await loadWorkspaceDay(client, scale, next.id, day);
            done++;
            onProgress(done, steps);
          }
        }
      } finally {
        await client.query("RESET synchronous_commit").catch(() => {});
        client.release();
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOAD_CONNECTIONS, workspaceIds.length) }, worker));
  } finally {
    // Also after a failed load: the database never stays without its indexes and foreign keys.
    await reattachStructures(pool, detached);
  }
  await pool.query(
    `INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
     SELECT w.id, h FROM public.workspaces w,
       generate_series(date_trunc('hour', now() - $1::int * interval '1 day', 'UTC'), date_trunc('hour', now(), 'UTC'), interval '1 hour') h
     WHERE w.id = ANY($2::uuid[]) ON CONFLICT DO NOTHING`,
    [scale.days + 1, workspaceIds],
  );
  await pool.query("ANALYZE");
  return { workspaceIds };
}

/** One workspace-day: its runs, activity events and LLM calls, one statement each. */
async function loadWorkspaceDay(client: pg.PoolClient, scale: ScaleSpec, workspaceId: string, day: number) {
  const steps = scale.workspaces * scale.days;
  const perStep = (n: number) => Math.max(1, Math.round(n / steps));
  const params = [workspaceId, day];
  await client.query(
    `WITH u AS (SELECT array_agg(id) AS ids FROM public.users WHERE workspace_id = $1),
          a AS (SELECT array_agg(id) AS ids FROM public.agents WHERE workspace_id = $1),
          g AS (
            SELECT n, date_trunc('day', now()) - $2::int * interval '1 day' + random() * interval '1 day' AS started,
                   random() AS r, 1 + random() * 120 AS runtime
            FROM generate_series(1, $3::int) n)
     INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
                                    runtime_seconds, credits_consumed, model, error_type, rating)
     SELECT $1, 'r-' || $2 || '-' || n, a.ids[1 + floor(random() * cardinality(a.ids))::int],
            u.ids[1 + floor(random() * cardinality(u.ids))::int],
            CASE WHEN r < 0.85 THEN 'completed' WHEN r < 0.95 THEN 'failed' ELSE 'cancelled' END,
            started, started + runtime * interval '1 second', round(runtime::numeric, 3),
            round((random() * 10)::numeric, 4),
            (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'])[1 + floor(random() * 3)::int],
            CASE WHEN r >= 0.85 AND r < 0.95 THEN (ARRAY['timeout', 'rate_limit', 'tool_error'])[1 + floor(random() * 3)::int] END,
            CASE WHEN random() < 0.2 THEN 1 + floor(random() * 5)::int END
     FROM g, u, a`,
    [...params, perStep(scale.runs)],
  );
  await client.query(
    `WITH u AS (SELECT array_agg(id) AS ids FROM public.users WHERE workspace_id = $1)
     INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, session_id, created_at)
     SELECT $1, u.ids[1 + floor(random() * cardinality(u.ids))::int],
            (ARRAY['page_view','agent_run','login','logout','workspace_switch','feature_use','error','api_call','export','report_view'])[1 + floor(random() * 10)::int],
            gen_random_uuid(), date_trunc('day', now()) - $2::int * interval '1 day' + random() * interval '1 day'
     FROM generate_series(1, $3::int) n, u`,
    [...params, perStep(scale.activityEvents)],
  );
  await client.query(
    `WITH u AS (SELECT array_agg(id) AS ids FROM public.users WHERE workspace_id = $1),
          a AS (SELECT array_agg(id) AS ids FROM public.agents WHERE workspace_id = $1),
          g AS (SELECT n, floor(random() * 4)::int AS m, 100 + floor(random() * 4000)::int AS p,
                       20 + floor(random() * 800)::int AS c FROM generate_series(1, $3::int) n)
     INSERT INTO public.llm_usage_logs (workspace_id, user_id, agent_id, provider, model, prompt_tokens,
              completion_tokens, input_cost_usd, output_cost_usd, total_cost_usd, cost_source, latency_ms, created_at)
     SELECT $1, u.ids[1 + floor(random() * cardinality(u.ids))::int], a.ids[1 + floor(random() * cardinality(a.ids))::int],
            (ARRAY['openai','openai','anthropic','self-hosted'])[m + 1], (ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet-4','llama-local'])[m + 1],
            p, c,
            CASE WHEN m < 3 THEN p * 2.5e-6 END, CASE WHEN m < 3 THEN c * 1.0e-5 END,
            CASE WHEN m < 3 THEN p * 2.5e-6 + c * 1.0e-5 END,
            CASE WHEN m < 3 THEN 'reported' ELSE 'unpriced' END,
            200 + floor(random() * 5000)::int,
            date_trunc('day', now()) - $2::int * interval '1 day' + random() * interval '1 day'
     FROM g, u, a`,
    [...params, perStep(scale.llmCalls)],
  );
}

/**
 * Drops the loaded tables' foreign keys, unique constraints other than primary keys (e.g. 0093's
 * (workspace_id, run_id) of agent_run_keys: random uuids, one random btree leaf per row once the
 * index outgrows the cache) and the indexes that back no constraint, returning their exact
 * definitions (pg_get_constraintdef / pg_get_indexdef) for reattachStructures.
 */
export async function detachSecondaryStructures(pool: pg.Pool): Promise<DetachedStructure[]> {
  const { rows } = await pool.query<DetachedStructure>(
    `WITH loaded AS (SELECT to_regclass(t) AS oid FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL)
     SELECT CASE c.contype WHEN 'f' THEN 'foreign key' ELSE 'unique constraint' END AS kind, c.conname AS name,
            c.conrelid::regclass::text AS table, pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c
      WHERE c.conparentid = 0
        AND ((c.contype IN ('f', 'u') AND c.conrelid IN (SELECT oid FROM loaded))
             -- and other tables' keys that reference a loaded table (0120: run_stages → agent_run_keys)
             OR (c.contype = 'f' AND c.confrelid IN (SELECT oid FROM loaded)))
     UNION ALL
     SELECT 'index', quote_ident(n.nspname) || '.' || quote_ident(ic.relname), i.indrelid::regclass::text,
            pg_get_indexdef(i.indexrelid)
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE i.indrelid IN (SELECT oid FROM loaded)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)`,
    [LOADED_TABLES],
  );
  // Foreign keys first: a unique constraint another table's key references cannot be dropped.
  for (const kind of ["foreign key", "unique constraint"] as const) {
    for (const structure of rows.filter((s) => s.kind === kind)) {
      await pool.query(`ALTER TABLE ${structure.table} DROP CONSTRAINT ${quoteIdent(structure.name)}`);
    }
  }
  for (const structure of rows) {
    if (structure.kind === "index") await pool.query(`DROP INDEX ${structure.name}`);
  }
  return rows;
}

/**
 * Recreates what detachSecondaryStructures dropped: indexes and unique constraints first (two at a
 * time, one per connection), then the foreign keys one by one (each validated by one join over the
 * loaded rows).
 */
export async function reattachStructures(pool: pg.Pool, structures: DetachedStructure[]): Promise<void> {
  // pg_get_indexdef writes "ON ONLY" for a partitioned parent; without ONLY the index is built on
  // every partition and attached, which is what the migration did.
  const indexes = structures.flatMap((s) =>
    s.kind === "index"
      ? [s.definition.replace(/ ON ONLY /, " ON ")]
      : s.kind === "unique constraint"
        ? [`ALTER TABLE ${s.table} ADD CONSTRAINT ${quoteIdent(s.name)} ${s.definition}`]
        : [],
  );
  const run = async (statements: string[]) => {
    for (let next = statements.shift(); next; next = statements.shift()) await pool.query(next);
  };
  await Promise.all(Array.from({ length: LOAD_CONNECTIONS }, () => run(indexes)));
  const foreignKeys = structures
    .filter((s) => s.kind === "foreign key")
    .map((s) => `ALTER TABLE ${s.table} ADD CONSTRAINT ${quoteIdent(s.name)} ${s.definition}`);
  // One at a time: ADD FOREIGN KEY locks both tables, so parallel ones would only queue (or deadlock).
  await run(foreignKeys);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
