import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

// Row-level security as the app role (pulseboard_app), with the context set exactly as
// lib/db/context.ts does: set_config(..., true) inside a transaction.

let db: TestDatabase;
let app: pg.Pool;
const ids: Record<string, string> = {};

type Context = { user?: string; workspace?: string };

/** Runs `fn` as the app role in one transaction with the given context, then rolls back. */
async function asApp<T>(context: Context, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await app.connect();
  try {
    await client.query("BEGIN");
    if (context.user !== undefined)
      await client.query("SELECT set_config('app.current_user_id', $1, true)", [context.user]);
    if (context.workspace !== undefined)
      await client.query("SELECT set_config('app.current_workspace_id', $1, true)", [context.workspace]);
    return await fn(client);
  } finally {
    await client.query("ROLLBACK");
    client.release();
  }
}

async function column(context: Context, sql: string, params: unknown[] = []): Promise<string[]> {
  return asApp(context, async (client) => (await client.query<{ v: string }>(sql, params)).rows.map((r) => r.v).sort());
}

async function insertReturningId(sql: string, params: unknown[]): Promise<string> {
  return (await db.owner.query<{ id: string }>(sql, params)).rows[0].id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = new pg.Pool({ connectionString: db.appUrl, max: 2 });
  const account = (email: string, admin = false) =>
    insertReturningId("INSERT INTO public.accounts (email, is_platform_admin) VALUES ($1, $2) RETURNING id", [
      email,
      admin,
    ]);
  ids.alice = await account("alice@example.com"); // owner of W1
  ids.bob = await account("bob@example.com"); // viewer of W2
  ids.carol = await account("carol@example.com"); // member of nothing, linked to tracked user u1b
  ids.root = await account("root@example.com", true); // platform admin, member of nothing
  ids.w1 = await insertReturningId("INSERT INTO public.workspaces (slug, name) VALUES ('w1', 'W1') RETURNING id", []);
  ids.w2 = await insertReturningId("INSERT INTO public.workspaces (slug, name) VALUES ('w2', 'W2') RETURNING id", []);
  await db.owner.query(
    "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'owner'), ($3, $4, 'viewer')",
    [ids.w1, ids.alice, ids.w2, ids.bob],
  );
  const user = (ws: string, ext: string, accountId: string | null) =>
    insertReturningId(
      "INSERT INTO public.users (workspace_id, external_id, account_id) VALUES ($1, $2, $3) RETURNING id",
      [ws, ext, accountId],
    );
  ids.u1a = await user(ids.w1, "u1a", null);
  ids.u1b = await user(ids.w1, "u1b", ids.carol);
  ids.u2a = await user(ids.w2, "u2a", null);
  const agent = (ws: string, ext: string) =>
    insertReturningId("INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, $2, $2) RETURNING id", [
      ws,
      ext,
    ]);
  ids.a1 = await agent(ids.w1, "a1");
  ids.a2 = await agent(ids.w2, "a2");
  const run = (ws: string, ext: string, agentId: string, userId: string) =>
    insertReturningId(
      `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, credits_consumed)
       VALUES ($1, $2, $3, $4, 'completed', now() - interval '1 day', 5) RETURNING id`,
      [ws, ext, agentId, userId],
    );
  ids.r1 = await run(ids.w1, "r1", ids.a1, ids.u1a);
  ids.r2 = await run(ids.w1, "r2", ids.a1, ids.u1b);
  ids.r3 = await run(ids.w2, "r3", ids.a2, ids.u2a);
  await db.owner.query(
    "INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, started_at) SELECT workspace_id, id, 0, 'retrieve', started_at FROM public.agent_runs WHERE workspace_id = $1 AND id IN ($2, $3)",
    [ids.w1, ids.r1, ids.r2],
  );
  await db.owner.query(
    `INSERT INTO public.llm_usage_logs (workspace_id, run_id, agent_id, user_id, provider, model, prompt_tokens, completion_tokens, latency_ms, created_at)
     VALUES ($1, $2, $3, $4, 'openai', 'gpt-4o', 10, 5, 100, now()), ($1, $5, $3, $6, 'openai', 'gpt-4o', 20, 5, 100, now()),
            ($7, $8, $9, $10, 'openai', 'gpt-4o', 30, 5, 100, now())`,
    [ids.w1, ids.r1, ids.a1, ids.u1a, ids.r2, ids.u1b, ids.w2, ids.r3, ids.a2, ids.u2a],
  );
  await db.owner.query(
    "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs) VALUES ('2025-01-01', $1, 2), ('2025-01-01', $2, 1), ('2025-01-01', NULL, 3)",
    [ids.w1, ids.w2],
  );
  await db.owner.query(
    `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, runs, first_seen_at, last_seen_at)
     VALUES ($1, current_date, $2, 1, now(), now()), ($1, current_date, $3, 1, now(), now()), ($4, current_date, $5, 1, now(), now())`,
    [ids.w1, ids.u1a, ids.u1b, ids.w2, ids.u2a],
  );
  await db.owner.query("SELECT analytics.refresh_all_materialized_views()");
});

afterAll(async () => {
  await app.end();
  await db.drop();
});

describe("row-level security as pulseboard_app", () => {
  it("a member reads only their own workspace's rows", async () => {
    const alice = { user: ids.alice };
    expect(await column(alice, "SELECT id::text AS v FROM public.workspaces")).toEqual([ids.w1]);
    expect(await column(alice, "SELECT id::text AS v FROM public.agent_runs")).toEqual([ids.r1, ids.r2].sort());
    expect(await column(alice, "SELECT id::text AS v FROM public.users")).toEqual([ids.u1a, ids.u1b].sort());
    expect(await column(alice, "SELECT sum(prompt_tokens)::text AS v FROM public.llm_usage_logs")).toEqual(["30"]);
    expect(await column(alice, "SELECT total_runs::text AS v FROM analytics.daily_metrics")).toEqual(["2"]);
    expect(await column(alice, "SELECT account_id::text AS v FROM public.workspace_members")).toEqual([ids.alice]);
    expect(await column(alice, "SELECT id::text AS v FROM public.accounts")).toEqual([ids.alice]);
    expect(await column({ user: ids.bob }, "SELECT id::text AS v FROM public.agent_runs")).toEqual([ids.r3]);
  });

  it("reads nothing with no context, or a malformed one, and never errors", async () => {
    const { rows } = await db.owner.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname IN ('public', 'analytics') AND c.relname <> '_pulseboard_migrations'
         AND has_table_privilege('pulseboard_app', c.oid, 'SELECT')`, // tables revoked from the app role cannot leak
    );
    expect(rows.length).toBeGreaterThan(15);
    for (const context of [{}, { user: "not-a-uuid", workspace: "" }]) {
      const counts = await asApp(context, async (client) => {
        const result: Record<string, number> = {};
        for (const { name } of rows)
          result[name] = (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name}`)).rows[0].n;
        return result;
      });
      // default_model_prices is global reference data (list prices), not tenant rows.
      expect(Object.entries(counts).filter(([name, n]) => n !== 0 && name !== "public.default_model_prices")).toEqual(
        [],
      );
    }
  });

  it("a non-member linked to a tracked user sees only that user's rows", async () => {
    const carol = { user: ids.carol };
    expect(await column(carol, "SELECT id::text AS v FROM public.agent_runs")).toEqual([ids.r2]);
    expect(await column(carol, "SELECT run_id::text AS v FROM public.run_stages")).toEqual([ids.r2]);
    expect(await column(carol, "SELECT user_id::text AS v FROM public.llm_usage_logs")).toEqual([ids.u1b]);
    expect(await column(carol, "SELECT id::text AS v FROM public.users")).toEqual([ids.u1b]);
    expect(await column(carol, "SELECT user_id::text AS v FROM analytics.user_daily_activity")).toEqual([ids.u1b]);
    expect(await column(carol, "SELECT id::text AS v FROM public.agents")).toEqual([]);
    expect(await column(carol, "SELECT id::text AS v FROM analytics.daily_metrics")).toEqual([]);
  });

  it("a platform admin reads every workspace and the platform-wide rollup rows; members never see those", async () => {
    const root = { user: ids.root };
    expect(await column(root, "SELECT id::text AS v FROM public.agent_runs")).toEqual([ids.r1, ids.r2, ids.r3].sort());
    expect(await column(root, "SELECT total_runs::text AS v FROM analytics.daily_metrics")).toEqual(["1", "2", "3"]);
    expect(await column(root, "SELECT count(*)::text AS v FROM public.accounts")).toEqual(["4"]);
    expect(
      await column(
        { user: ids.alice },
        "SELECT count(*)::text AS v FROM analytics.daily_metrics WHERE workspace_id IS NULL",
      ),
    ).toEqual(["0"]);
  });

  it("the ingest context writes and reads only its own workspace", async () => {
    await asApp({ workspace: ids.w1 }, async (client) => {
      const inserted = await client.query(
        "INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'new-user') RETURNING id",
        [ids.w1],
      );
      expect(inserted.rowCount).toBe(1);
      await client.query(
        "INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour) VALUES ($1, date_trunc('hour', now(), 'UTC')) ON CONFLICT (workspace_id, hour) DO UPDATE SET marked_at = now()",
        [ids.w1],
      );
      const updated = await client.query("UPDATE public.agents SET name = 'renamed' WHERE id IN ($1, $2)", [
        ids.a1,
        ids.a2,
      ]);
      expect(updated.rowCount).toBe(1); // a2 belongs to W2: invisible, untouched
      expect((await client.query("SELECT count(*)::int AS n FROM public.users")).rows[0].n).toBe(3);
      expect((await client.query("SELECT count(*)::int AS n FROM analytics.daily_metrics")).rows[0].n).toBe(0);
    });
    await expect(
      asApp({ workspace: ids.w1 }, (client) =>
        client.query("INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'intruder')", [ids.w2]),
      ),
    ).rejects.toMatchObject({ code: "42501" });
    await expect(
      asApp({}, (client) =>
        client.query("INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'nobody')", [ids.w1]),
      ),
    ).rejects.toMatchObject({ code: "42501" });
  });

  it("owners/admins manage memberships of their workspace; viewers cannot", async () => {
    await asApp({ user: ids.alice }, async (client) => {
      const added = await client.query(
        "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'member')",
        [ids.w1, ids.carol],
      );
      expect(added.rowCount).toBe(1);
    });
    await expect(
      asApp({ user: ids.bob }, (client) =>
        client.query("INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'admin')", [
          ids.w2,
          ids.carol,
        ]),
      ),
    ).rejects.toMatchObject({ code: "42501" });
    await expect(
      asApp({ user: ids.alice }, (client) =>
        client.query("INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'owner')", [
          ids.w2,
          ids.alice,
        ]),
      ),
    ).rejects.toMatchObject({ code: "42501" });
  });

  it("is enabled and forced on every table of public and analytics except the migration ledger", async () => {
    const { rows } = await db.owner.query<{ name: string; enabled: boolean; forced: boolean }>(
      `SELECT n.nspname || '.' || c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'analytics') AND c.relname <> '_pulseboard_migrations'`,
    );
    expect(rows.length).toBeGreaterThan(15);
    expect(rows.filter((r) => !r.enabled || !r.forced).map((r) => r.name)).toEqual([]);
  });
});

describe("materialized views through SECURITY DEFINER functions", () => {
  it("cannot be selected directly by the app role", async () => {
    for (const view of ["mv_active_users", "mv_top_agents", "mv_workspace_summary"]) {
      await expect(
        asApp({ user: ids.root }, (client) => client.query(`SELECT * FROM analytics.${view}`)),
      ).rejects.toMatchObject({ code: "42501" });
    }
  });

  it("are served to members (and platform admins) of the workspace only", async () => {
    const topAgents = (context: Context, ws: string) =>
      column(context, "SELECT agent_id::text AS v FROM analytics.get_top_agents($1, 10)", [ws]);
    expect(await topAgents({ user: ids.alice }, ids.w1)).toEqual([ids.a1]);
    expect(await topAgents({ user: ids.alice }, ids.w2)).toEqual([]);
    expect(await topAgents({}, ids.w1)).toEqual([]);
    expect(await topAgents({ user: ids.root }, ids.w2)).toEqual([ids.a2]);

    const summaries = (context: Context) =>
      column(
        context,
        "SELECT workspace_id::text || ':' || total_runs_30d AS v FROM analytics.get_workspace_summaries()",
      );
    expect(await summaries({ user: ids.alice })).toEqual([`${ids.w1}:2`]);
    expect(await summaries({ user: ids.root })).toEqual([`${ids.w1}:2`, `${ids.w2}:1`].sort());
    expect(await summaries({ user: ids.carol })).toEqual([]);

    const active = (context: Context, ws: string) =>
      column(
        context,
        "SELECT daily_active_users::text AS v FROM analytics.get_active_users($1, current_date, current_date)",
        [ws],
      );
    expect(await active({ user: ids.alice }, ids.w1)).toEqual(["2"]);
    expect(await active({ user: ids.bob }, ids.w1)).toEqual([]);
  });
});
