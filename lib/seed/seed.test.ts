import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPassword } from "@/lib/auth/password";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { parseSeedArgs } from "./cli";
import {
  DEMO_ACCOUNTS,
  DEMO_PASSWORD,
  SeedRefusedError,
  isDatabaseEmpty,
  seedDemoWorld,
  type SeedSummary,
} from "./seed";

const run = promisify(execFile);
const NOW = "2025-06-15T12:00:00Z";
const options = { scale: "small", seed: 42, now: NOW } as const;

let first: TestDatabase;
let second: TestDatabase;
let firstSummary: SeedSummary;

beforeAll(async () => {
  [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  expect(await isDatabaseEmpty(first.ownerUrl)).toBe(true);
  firstSummary = await seedDemoWorld(first.ownerUrl, options);
  await seedDemoWorld(second.ownerUrl, options);
});
afterAll(async () => {
  await Promise.all([first?.drop(), second?.drop()]);
});

/** Every deterministic column of every generated row, hashed per table (account ids/hashes are random). */
async function fingerprint(db: TestDatabase) {
  const { rows } = await db.owner.query(`
    SELECT
      (SELECT md5(string_agg(w::text, '|' ORDER BY w.id)) FROM public.workspaces w) AS workspaces,
      (SELECT md5(string_agg(concat_ws(',', u.workspace_id, u.id, u.external_id, u.email, u.name, u.created_at), '|' ORDER BY u.id)) FROM public.users u) AS users,
      (SELECT md5(string_agg(a::text, '|' ORDER BY a.id)) FROM public.agents a) AS agents,
      (SELECT md5(string_agg(r::text, '|' ORDER BY r.id)) FROM public.agent_runs r) AS runs,
      (SELECT md5(string_agg(s::text, '|' ORDER BY s.id)) FROM public.run_stages s) AS stages,
      (SELECT md5(string_agg((l.workspace_id, l.id, l.run_id, l.model, l.prompt_tokens, l.completion_tokens, l.total_cost_usd, l.latency_ms, l.created_at)::text, '|' ORDER BY l.id)) FROM public.llm_usage_logs l) AS llm,
      (SELECT md5(string_agg(e::text, '|' ORDER BY e.id)) FROM analytics.user_activity e) AS activity,
      (SELECT sum(credits_consumed)::text FROM public.agent_runs) AS credits,
      (SELECT sum(total_cost_usd)::text FROM public.llm_usage_logs) AS cost`);
  return rows[0] as Record<string, string>;
}

describe("seedDemoWorld (small scale, fixed seed and now)", () => {
  it("is deterministic: two databases get identical rows and aggregates", async () => {
    const [a, b] = await Promise.all([fingerprint(first), fingerprint(second)]);
    expect(a).toEqual(b);
    expect(Number(a.credits)).toBeGreaterThan(0);
  });

  it("loads a few hundred to a few thousand rows per table and reports the counts it loaded", async () => {
    const { counts } = firstSummary;
    expect(counts.workspaces).toBe(4);
    expect(counts.users).toBe(24);
    expect(counts.agents).toBe(20);
    expect(counts.agent_runs).toBeGreaterThan(300);
    expect(counts.agent_runs).toBeLessThan(3000);
    const { rows } = await first.owner.query<{ n: number }>("SELECT count(*)::int AS n FROM public.agent_runs");
    expect(rows[0].n).toBe(counts.agent_runs);
  });

  it("covers all ten activity event types, in sessions", async () => {
    const { rows } = await first.owner.query<{ types: number; sessionless: number }>(
      `SELECT count(DISTINCT event_type)::int AS types, count(*) FILTER (WHERE session_id IS NULL)::int AS sessionless
       FROM analytics.user_activity`,
    );
    expect(rows[0]).toEqual({ types: 10, sessionless: 0 });
  });

  it("gives every workspace runs in all four statuses, with running runs started in the last minutes", async () => {
    const { rows } = await first.owner.query<{
      slug: string;
      statuses: number;
      running_recent: number;
      running_old: number;
    }>(
      `SELECT w.slug,
              count(DISTINCT r.status)::int AS statuses,
              count(*) FILTER (WHERE r.status = 'running' AND r.started_at > $1::timestamptz - interval '15 minutes')::int AS running_recent,
              count(*) FILTER (WHERE r.status = 'running' AND r.started_at <= $1::timestamptz - interval '15 minutes')::int AS running_old
       FROM public.workspaces w JOIN public.agent_runs r ON r.workspace_id = w.id GROUP BY w.slug ORDER BY w.slug`,
      [NOW],
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.statuses).toBe(4);
      expect(row.running_recent).toBeGreaterThan(0);
      expect(row.running_old).toBe(0);
    }
  });

  it("keeps runs internally consistent: running runs unfinished, others finished with runtime = finished - started", async () => {
    const { rows } = await first.owner.query<{ bad: number; failed_without_error: number; errors: number }>(
      `SELECT count(*) FILTER (WHERE (status = 'running') <> (finished_at IS NULL)
                                 OR runtime_seconds <> extract(epoch FROM finished_at - started_at)::numeric(12,3))::int AS bad,
              count(*) FILTER (WHERE status = 'failed' AND error_type IS NULL)::int AS failed_without_error,
              count(DISTINCT error_type)::int AS errors
       FROM public.agent_runs`,
    );
    expect(rows[0].bad).toBe(0);
    expect(rows[0].failed_without_error).toBe(0);
    expect(rows[0].errors).toBeGreaterThanOrEqual(3);
  });

  it("puts history into its months' partitions, never the default partition", async () => {
    const { rows } = await first.owner.query<{ parent: string; months: number; default_rows: number }>(
      `SELECT t.parent,
              (SELECT count(*)::int FROM app.time_partitions(t.parent::regclass) p
                WHERE NOT p.is_default AND p.range_start < $1::timestamptz) AS months,
              (SELECT count(*)::int FROM raw_partitions.user_activity_default WHERE t.parent = 'analytics.user_activity')
            + (SELECT count(*)::int FROM raw_partitions.llm_usage_logs_default WHERE t.parent = 'public.llm_usage_logs')
            + (SELECT count(*)::int FROM raw_partitions.agent_runs_default WHERE t.parent = 'public.agent_runs')
            + (SELECT count(*)::int FROM raw_partitions.run_stages_default WHERE t.parent = 'public.run_stages') AS default_rows
         FROM unnest(ARRAY['analytics.user_activity', 'public.llm_usage_logs', 'public.agent_runs', 'public.run_stages']) AS t(parent)
        ORDER BY 1`,
      [NOW],
    );
    // 90 days back from 2025-06-15 reach into March: March, April, May and June.
    expect(rows).toEqual([
      { parent: "analytics.user_activity", months: 4, default_rows: 0 },
      { parent: "public.agent_runs", months: 4, default_rows: 0 },
      { parent: "public.llm_usage_logs", months: 4, default_rows: 0 },
      { parent: "public.run_stages", months: 4, default_rows: 0 },
    ]);
  });

  it("writes nothing after now", async () => {
    const { rows } = await first.owner.query<{ late: number }>(
      `SELECT ((SELECT count(*) FROM public.agent_runs WHERE started_at > $1 OR finished_at > $1)
             + (SELECT count(*) FROM public.llm_usage_logs WHERE created_at > $1)
             + (SELECT count(*) FROM analytics.user_activity WHERE created_at > $1)
             + (SELECT count(*) FROM public.users WHERE created_at > $1))::int AS late`,
      [NOW],
    );
    expect(rows[0].late).toBe(0);
  });

  it("spreads sign-ups over at least 60 days in every workspace", async () => {
    const { rows } = await first.owner.query<{ days: number }>(
      `SELECT min(extract(epoch FROM max_at - min_at) / 86400)::float AS days
       FROM (SELECT workspace_id, min(created_at) AS min_at, max(created_at) AS max_at FROM public.users GROUP BY workspace_id) s`,
    );
    expect(rows[0].days).toBeGreaterThanOrEqual(60);
  });

  it("follows office hours and weekdays in each workspace's own time zone", async () => {
    const { rows } = await first.owner.query<{ office: number; night: number; weekday: number; weekend: number }>(
      `SELECT count(*) FILTER (WHERE extract(hour FROM r.started_at AT TIME ZONE w.timezone) BETWEEN 9 AND 16)::int AS office,
              count(*) FILTER (WHERE extract(hour FROM r.started_at AT TIME ZONE w.timezone) BETWEEN 0 AND 7)::int AS night,
              count(*) FILTER (WHERE extract(isodow FROM r.started_at AT TIME ZONE w.timezone) <= 5)::int AS weekday,
              count(*) FILTER (WHERE extract(isodow FROM r.started_at AT TIME ZONE w.timezone) > 5)::int AS weekend
       FROM public.agent_runs r JOIN public.workspaces w ON w.id = r.workspace_id`,
    );
    const { office, night, weekday, weekend } = rows[0];
    // Eight hours each: office hours must clearly dominate; per day, weekdays over weekend days.
    expect(office).toBeGreaterThan(3 * night);
    expect(weekday / 5).toBeGreaterThan(1.8 * (weekend / 2));
  });

  it("has multi-stage runs whose failed stage is followed only by skipped stages", async () => {
    const { rows } = await first.owner.query<{
      stage_names: number;
      after_failure_not_skipped: number;
      runs_with_stages: number;
    }>(
      `SELECT (SELECT count(DISTINCT name)::int FROM public.run_stages) AS stage_names,
              (SELECT count(DISTINCT run_id)::int FROM public.run_stages) AS runs_with_stages,
              (SELECT count(*)::int FROM public.run_stages later
                 JOIN public.run_stages failed ON failed.workspace_id = later.workspace_id AND failed.run_id = later.run_id
                WHERE failed.status = 'failed' AND later.stage_index > failed.stage_index AND later.status <> 'skipped') AS after_failure_not_skipped`,
    );
    expect(rows[0].stage_names).toBeGreaterThanOrEqual(4);
    expect(rows[0].runs_with_stages).toBeGreaterThan(50);
    expect(rows[0].after_failure_not_skipped).toBe(0);
  });

  it("logs LLM calls across four providers, with unpriced self-hosted calls and some failures", async () => {
    const { rows } = await first.owner.query<{
      providers: number;
      unpriced: number;
      unpriced_with_cost: number;
      failed: number;
      calls_without_run: number;
    }>(
      `SELECT count(DISTINCT provider)::int AS providers,
              count(*) FILTER (WHERE cost_source = 'unpriced' AND provider = 'self-hosted')::int AS unpriced,
              count(*) FILTER (WHERE cost_source = 'unpriced' AND total_cost_usd IS NOT NULL)::int AS unpriced_with_cost,
              count(*) FILTER (WHERE NOT success AND error_type IS NOT NULL)::int AS failed,
              count(*) FILTER (WHERE run_id IS NULL)::int AS calls_without_run
       FROM public.llm_usage_logs`,
    );
    expect(rows[0].providers).toBe(4);
    expect(rows[0].unpriced).toBeGreaterThan(0);
    expect(rows[0].unpriced_with_cost).toBe(0);
    expect(rows[0].failed).toBeGreaterThan(0);
    expect(rows[0].calls_without_run).toBeGreaterThan(0);
  });

  it("marks the hour of every raw row dirty for the rollup engine", async () => {
    const { rows } = await first.owner.query<{ missing: number; marked: number }>(
      `SELECT (SELECT count(*)::int FROM (
                 SELECT workspace_id, date_trunc('hour', ts, 'UTC') AS hour FROM (
                   SELECT workspace_id, created_at AS ts FROM public.users
                   UNION ALL SELECT workspace_id, started_at FROM public.agent_runs
                   UNION ALL SELECT workspace_id, finished_at FROM public.agent_runs WHERE finished_at IS NOT NULL
                   UNION ALL SELECT workspace_id, started_at FROM public.run_stages
                   UNION ALL SELECT workspace_id, created_at FROM public.llm_usage_logs
                   UNION ALL SELECT workspace_id, created_at FROM analytics.user_activity) raw
                 EXCEPT SELECT workspace_id, hour FROM analytics.rollup_dirty_hours) m) AS missing,
              (SELECT count(*)::int FROM analytics.rollup_dirty_hours) AS marked`,
    );
    expect(rows[0].missing).toBe(0);
    expect(rows[0].marked).toBeGreaterThan(100);
  });

  it("creates the demo accounts with their roles, and links the member to a tracked user with usage", async () => {
    const { rows } = await first.owner.query<{
      email: string;
      is_platform_admin: boolean;
      roles: string[];
      password_hash: string;
    }>(
      `SELECT a.email, a.is_platform_admin, a.password_hash,
              array_agg(m.role ORDER BY m.role) AS roles
       FROM public.accounts a JOIN public.workspace_members m ON m.account_id = a.id
       GROUP BY a.id ORDER BY a.email`,
    );
    expect(rows.map((r) => [r.email, r.is_platform_admin, r.roles])).toEqual([
      [DEMO_ACCOUNTS.admin, true, ["owner", "owner", "owner", "owner"]],
      [DEMO_ACCOUNTS.member, false, ["member"]],
      [DEMO_ACCOUNTS.viewer, false, ["viewer"]],
    ]);
    expect(await verifyPassword(rows[1].password_hash, DEMO_PASSWORD)).toBe(true);
    const linked = await first.owner.query<{ users: number; runs: number; same_workspace: boolean }>(
      `SELECT count(DISTINCT u.id)::int AS users, count(r.id)::int AS runs,
              bool_and(EXISTS (SELECT 1 FROM public.workspace_members m WHERE m.account_id = a.id AND m.workspace_id = u.workspace_id)) AS same_workspace
       FROM public.accounts a JOIN public.users u ON u.account_id = a.id
       LEFT JOIN public.agent_runs r ON r.workspace_id = u.workspace_id AND r.user_id = u.id
       WHERE a.email = $1`,
      [DEMO_ACCOUNTS.member],
    );
    expect(linked.rows[0].users).toBe(1);
    expect(linked.rows[0].runs).toBeGreaterThan(10);
    expect(linked.rows[0].same_workspace).toBe(true);
  });

  it("refuses to seed a non-empty database, and with force replaces the data instead of doubling it", async () => {
    expect(await isDatabaseEmpty(second.ownerUrl)).toBe(false);
    await expect(seedDemoWorld(second.ownerUrl, options)).rejects.toBeInstanceOf(SeedRefusedError);
    const before = await fingerprint(second);
    const again = await seedDemoWorld(second.ownerUrl, { ...options, force: true });
    expect(again.counts.agent_runs).toBe(firstSummary.counts.agent_runs);
    expect(again.counts.accounts).toBe(3);
    expect(await fingerprint(second)).toEqual(before);
  });

  it("gives a different world for a different seed", async () => {
    const other = await createTestDatabase();
    try {
      await seedDemoWorld(other.ownerUrl, { ...options, seed: 7 });
      const [a, b] = await Promise.all([fingerprint(first), fingerprint(other)]);
      expect(b.runs).not.toBe(a.runs);
      expect(b.credits).not.toBe(a.credits);
    } finally {
      await other.drop();
    }
  });
});

describe("parseSeedArgs", () => {
  it("parses flags and defaults", () => {
    expect(parseSeedArgs([])).toMatchObject({ scale: "demo", seed: 42, force: false });
    const parsed = parseSeedArgs(["--scale", "small", "--seed", "7", "--now", NOW, "--reset"]);
    expect(parsed).toMatchObject({ scale: "small", seed: 7, force: true });
    expect(parsed.now?.toISOString()).toBe("2025-06-15T12:00:00.000Z");
  });

  it("rejects bad flags with an actionable message", () => {
    expect(() => parseSeedArgs(["--scale", "huge"])).toThrow(/--scale: .*usage: npm run db:seed/);
    expect(() => parseSeedArgs(["--seed", "-1"])).toThrow(/--seed/);
    expect(() => parseSeedArgs(["--now", "yesterday"])).toThrow(/--now/);
    expect(() => parseSeedArgs(["--colour"])).toThrow(/Unknown option '--colour'/);
  });
});

describe("npm run db:seed (subprocess)", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const seedCli = (args: string[]) =>
    run("npx", ["tsx", "scripts/db-seed.ts", ...args], {
      env: { ...process.env, DATABASE_URL: db.ownerUrl },
      cwd: process.cwd(),
    });

  it("prints counts and logins, then refuses a second run with one error line and exit code 1", async () => {
    const { stdout } = await seedCli(["--scale", "small", "--now", NOW]);
    expect(stdout).toMatch(/seeded scale=small seed=42 now=2025-06-15T12:00:00.000Z/);
    expect(stdout).toMatch(/^ {2}workspaces +4$/m);
    expect(stdout).toContain(DEMO_ACCOUNTS.admin);
    expect(stdout).toContain(`password for all: ${DEMO_PASSWORD}`);
    const failure = await seedCli(["--scale", "small"]).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    const lines = failure?.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("npm warn")) ?? [];
    expect(lines).toEqual([expect.stringMatching(/^error: the database already has 4 workspace\(s\); pass --force/)]);
  });
});
