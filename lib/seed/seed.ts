import pg from "pg";
import { ensurePartitionsCovering } from "@/lib/db/partitions";
import { z } from "zod";
import { hashPassword } from "@/lib/auth/password";
import { CopyBuffer } from "./copy";
import { SCALES, WorkspaceWorld, planWorkspaces, type Sinks } from "./world";

export const DEMO_PASSWORD = "pulseboard-demo";
export const DEMO_ACCOUNTS = {
  admin: "admin@pulseboard.local",
  member: "member@pulseboard.local",
  viewer: "viewer@pulseboard.local",
} as const;

export const seedOptionsSchema = z.object({
  scale: z.enum(Object.keys(SCALES) as [keyof typeof SCALES, ...(keyof typeof SCALES)[]]).default("demo"),
  seed: z.coerce.number().int().min(0).max(2_147_483_647).default(42),
  /** The world is relative to this instant (default: the real now); fix it for reproducible rows. */
  now: z.coerce.date().optional(),
  /** Wipe existing tenant data (workspaces and everything keyed by workspace_id) and seed again. */
  force: z.boolean().default(false),
});
export type SeedOptionsInput = z.input<typeof seedOptionsSchema>;

export type SeedProgress = { done: number; total: number };
export type SeedHooks = {
  onProgress?: (progress: SeedProgress) => void;
  log?: (line: string) => void;
};

export type SeedSummary = {
  scale: keyof typeof SCALES;
  seed: number;
  now: string;
  counts: Record<string, number>;
  logins: { email: string; role: string; password: string }[];
  seconds: number;
};

/** Seeding was refused (the database already has data, or the options are invalid). */
export class SeedRefusedError extends Error {}

// Rows buffered across tables before they are streamed into PostgreSQL with COPY.
const FLUSH_ROWS = 40_000;
// Serialises concurrent seeders (e.g. two `npm start`s racing on first start).
const SEED_LOCK = 7_202_612;

function sinks(): Sinks {
  return {
    users: new CopyBuffer("public.users", [
      "workspace_id",
      "id",
      "external_id",
      "email",
      "name",
      "account_id",
      "created_at",
      "updated_at",
    ]),
    agents: new CopyBuffer("public.agents", [
      "workspace_id",
      "id",
      "external_id",
      "name",
      "description",
      "created_at",
      "updated_at",
    ]),
    runs: new CopyBuffer("public.agent_runs", [
      "workspace_id",
      "id",
      "external_id",
      "agent_id",
      "user_id",
      "status",
      "started_at",
      "finished_at",
      "runtime_seconds",
      "credits_consumed",
      "model",
      "error_type",
      "error_message",
      "rating",
      "feedback",
      "created_at",
      "updated_at",
    ]),
    stages: new CopyBuffer("public.run_stages", [
      "workspace_id",
      "id",
      "run_id",
      "stage_index",
      "name",
      "model",
      "prompt_tokens",
      "completion_tokens",
      "cost_usd",
      "duration_ms",
      "status",
      "started_at",
      "created_at",
    ]),
    llm: new CopyBuffer("public.llm_usage_logs", [
      "workspace_id",
      "id",
      "run_id",
      "agent_id",
      "user_id",
      "provider",
      "model",
      "prompt_tokens",
      "completion_tokens",
      "input_cost_usd",
      "output_cost_usd",
      "total_cost_usd",
      "cost_source",
      "latency_ms",
      "time_to_first_token_ms",
      "finish_reason",
      "success",
      "error_type",
      "created_at",
      "ingested_at",
    ]),
    activity: new CopyBuffer("analytics.user_activity", [
      "workspace_id",
      "id",
      "user_id",
      "event_type",
      "event_name",
      "page_path",
      "session_id",
      "ip_address",
      "user_agent",
      "referrer",
      "metadata",
      "created_at",
    ]),
  };
}

/** True when no workspace exists yet (the start script seeds the demo world then). */
export async function isDatabaseEmpty(ownerUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ empty: boolean }>(
      "SELECT NOT EXISTS (SELECT 1 FROM public.workspaces) AS empty",
    );
    return rows[0].empty;
  } finally {
    await client.end();
  }
}

/**
 * Generates a deterministic demo world (same seed and `now` → same rows) and loads it with COPY in
 * one transaction: either all of it lands, or nothing does. Refuses a database that already has
 * workspaces unless `force` is set, which first truncates every tenant table.
 */
export async function seedDemoWorld(
  ownerUrl: string,
  input: SeedOptionsInput = {},
  hooks: SeedHooks = {},
): Promise<SeedSummary> {
  const parsed = seedOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SeedRefusedError(`invalid seed option ${issue.path.join(".") || "(options)"}: ${issue.message}`);
  }
  const options = parsed.data;
  const log = hooks.log ?? (() => {});
  const config = SCALES[options.scale];
  const nowMs = (options.now ?? new Date()).getTime();
  const startedAt = Date.now();

  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [SEED_LOCK]);
    const existing = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM public.workspaces");
    if (existing.rows[0].n > 0) {
      if (!options.force) {
        throw new SeedRefusedError(
          `the database already has ${existing.rows[0].n} workspace(s); pass --force to wipe all workspace data and seed again`,
        );
      }
      await truncateTenantData(client);
      log("wiped existing workspace data");
    }

    // History lands in its month's partition, not the default one (maintenance creates months
    // from the current one on): a 90-day world spans up to four months.
    await ensurePartitionsCovering(
      client,
      new Date(nowMs - (config.days + 2) * 86_400_000),
      new Date(nowMs + 86_400_000),
    );

    const workspaces = planWorkspaces(config, options.seed, nowMs);
    await client.query(
      `INSERT INTO public.workspaces (id, slug, name, timezone, created_at, updated_at)
       SELECT id, slug, name, tz, created, created
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS w(id, slug, name, tz, created)`,
      [
        workspaces.map((w) => w.id),
        workspaces.map((w) => w.slug),
        workspaces.map((w) => w.name),
        workspaces.map((w) => w.timezone),
        workspaces.map((w) => new Date(w.createdAtMs).toISOString()),
      ],
    );

    const buffers = sinks();
    const historyTables = [buffers.runs, buffers.stages, buffers.llm, buffers.activity];
    const pendingRows = () => historyTables.reduce((sum, b) => sum + b.pending, 0);
    // PostgreSQL ingests one chunk while the next is generated (the server works on the other core).
    let inFlight: Promise<void> = Promise.resolve();
    const flushHistory = async () => {
      const copies = historyTables.map((buffer) => buffer.take());
      for (const copy of copies) await copy(client);
    };
    const total = workspaces.length * config.usersPerWorkspace;
    let done = 0;
    let memberUserId = "";
    hooks.onProgress?.({ done, total });
    for (const workspace of workspaces) {
      const world = new WorkspaceWorld(
        workspace,
        config,
        options.seed,
        nowMs,
        workspaces.filter((w) => w.slug !== workspace.slug).map((w) => w.slug),
      );
      world.writeAgentsAndUsers(buffers);
      if (workspace.index === 0) memberUserId = world.users[0].id;
      await inFlight;
      await buffers.agents.flush(client);
      await buffers.users.flush(client);
      for (let u = 0; u < world.users.length; u++) {
        world.writeUserHistory(u, buffers);
        done++;
        if (pendingRows() >= FLUSH_ROWS) {
          await inFlight;
          inFlight = flushHistory();
          hooks.onProgress?.({ done, total });
        }
        // Let the event loop pump the COPY stream between users.
        if (u % 8 === 7) await new Promise((resolve) => setImmediate(resolve));
      }
      hooks.onProgress?.({ done, total });
    }
    await inFlight;
    await flushHistory();

    const logins = await createDemoAccounts(client, {
      workspaceIds: workspaces.map((w) => w.id),
      memberWorkspaceId: workspaces[0].id,
      memberUserId,
      viewerWorkspaceId: workspaces[Math.min(1, workspaces.length - 1)].id,
    });
    await markDirtyHours(
      client,
      workspaces.map((w) => w.id),
    );
    await client.query("COMMIT");
    // Fresh statistics so the first dashboard queries get sensible plans.
    await client.query(
      "ANALYZE public.users, public.agents, public.agent_runs, public.run_stages, public.llm_usage_logs, analytics.user_activity, analytics.rollup_dirty_hours",
    );

    const counts = await countRows(client);
    return {
      scale: options.scale,
      seed: options.seed,
      now: new Date(nowMs).toISOString(),
      counts,
      logins,
      seconds: (Date.now() - startedAt) / 1000,
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/** Every table holding tenant data (it has a workspace_id), plus workspaces themselves. */
async function truncateTenantData(client: pg.Client) {
  const { rows } = await client.query<{ name: string }>(`
    SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
    WHERE n.nspname IN ('public', 'analytics') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY 1`);
  const tables = ["public.workspaces", ...rows.map((r) => r.name)];
  // CASCADE also empties tables that reference workspaces without a workspace_id column of their own.
  await client.query(`TRUNCATE ${tables.join(", ")} CASCADE`);
}

async function createDemoAccounts(
  client: pg.Client,
  {
    workspaceIds,
    memberWorkspaceId,
    memberUserId,
    viewerWorkspaceId,
  }: { workspaceIds: string[]; memberWorkspaceId: string; memberUserId: string; viewerWorkspaceId: string },
) {
  const accounts = [
    { email: DEMO_ACCOUNTS.admin, name: "Demo Admin", admin: true },
    { email: DEMO_ACCOUNTS.member, name: "Demo Member", admin: false },
    { email: DEMO_ACCOUNTS.viewer, name: "Demo Viewer", admin: false },
  ];
  const hashes = await Promise.all(accounts.map(() => hashPassword(DEMO_PASSWORD)));
  const { rows } = await client.query<{ id: string; email: string }>(
    `INSERT INTO public.accounts (email, name, password_hash, is_platform_admin)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])
     ON CONFLICT (email) DO UPDATE
       SET password_hash = EXCLUDED.password_hash, is_platform_admin = EXCLUDED.is_platform_admin, updated_at = now()
     RETURNING id, email`,
    [accounts.map((a) => a.email), accounts.map((a) => a.name), hashes, accounts.map((a) => a.admin)],
  );
  const idOf = (email: string) => rows.find((r) => r.email === email)?.id ?? "";
  await client.query(
    `INSERT INTO public.workspace_members (workspace_id, account_id, role)
     SELECT unnest($1::uuid[]), $2::uuid, 'owner'
     UNION ALL SELECT $3::uuid, $4::uuid, 'member'
     UNION ALL SELECT $5::uuid, $6::uuid, 'viewer'
     ON CONFLICT (workspace_id, account_id) DO UPDATE SET role = EXCLUDED.role, updated_at = now()`,
    [
      workspaceIds,
      idOf(DEMO_ACCOUNTS.admin),
      memberWorkspaceId,
      idOf(DEMO_ACCOUNTS.member),
      viewerWorkspaceId,
      idOf(DEMO_ACCOUNTS.viewer),
    ],
  );
  // The member is also a tracked user (the workspace's first power user), so "My usage" has data.
  await client.query(
    "UPDATE public.users SET account_id = $3, email = $4, name = 'Demo Member' WHERE workspace_id = $1 AND id = $2",
    [memberWorkspaceId, memberUserId, idOf(DEMO_ACCOUNTS.member), DEMO_ACCOUNTS.member],
  );
  return [
    { email: DEMO_ACCOUNTS.admin, role: "platform admin, owner of every workspace", password: DEMO_PASSWORD },
    { email: DEMO_ACCOUNTS.member, role: "member of one workspace, linked to a tracked user", password: DEMO_PASSWORD },
    { email: DEMO_ACCOUNTS.viewer, role: "viewer of one workspace", password: DEMO_PASSWORD },
  ];
}

/** Tells the rollup engine which (workspace, UTC hour) periods now hold raw rows. */
async function markDirtyHours(client: pg.Client, workspaceIds: string[]) {
  await client.query(
    `INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
     SELECT DISTINCT workspace_id, date_trunc('hour', ts, 'UTC') FROM (
       SELECT workspace_id, created_at AS ts FROM public.users WHERE workspace_id = ANY($1)
       UNION ALL SELECT workspace_id, started_at FROM public.agent_runs WHERE workspace_id = ANY($1)
       UNION ALL SELECT workspace_id, finished_at FROM public.agent_runs WHERE workspace_id = ANY($1) AND finished_at IS NOT NULL
       UNION ALL SELECT workspace_id, started_at FROM public.run_stages WHERE workspace_id = ANY($1)
       UNION ALL SELECT workspace_id, created_at FROM public.llm_usage_logs WHERE workspace_id = ANY($1)
       UNION ALL SELECT workspace_id, created_at FROM analytics.user_activity WHERE workspace_id = ANY($1)
     ) AS touched
     ON CONFLICT (workspace_id, hour) DO UPDATE SET marked_at = now()`,
    [workspaceIds],
  );
}

async function countRows(client: pg.Client): Promise<Record<string, number>> {
  const { rows } = await client.query<Record<string, number>>(`
    SELECT
      (SELECT count(*)::int FROM public.workspaces) AS workspaces,
      (SELECT count(*)::int FROM public.accounts) AS accounts,
      (SELECT count(*)::int FROM public.workspace_members) AS workspace_members,
      (SELECT count(*)::int FROM public.agents) AS agents,
      (SELECT count(*)::int FROM public.users) AS users,
      (SELECT count(*)::int FROM public.agent_runs) AS agent_runs,
      (SELECT count(*)::int FROM public.run_stages) AS run_stages,
      (SELECT count(*)::int FROM public.llm_usage_logs) AS llm_usage_logs,
      (SELECT count(*)::int FROM analytics.user_activity) AS user_activity,
      (SELECT count(*)::int FROM analytics.rollup_dirty_hours) AS rollup_dirty_hours`);
  return rows[0];
}
