import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdmin } from "@/lib/admin/run";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

let db: TestDatabase;
const WS = "00000000-0000-4000-8000-000000000001";
beforeAll(async () => {
  db = await createTestDatabase();
  process.env.DATABASE_URL = db.ownerUrl; // runAdmin connects like the CLI does
  await db.owner.query(
    "INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, 'acme', 'Acme', 'America/New_York')",
    [WS],
  );
  await db.owner.query(
    "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ($1, '00000000-0000-4000-8000-000000000002', 'u', '2026-01-01Z')",
    [WS],
  );
  await db.owner.query(
    "INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ($1, '00000000-0000-4000-8000-000000000003', 'a', 'A')",
    [WS],
  );
  // 03:00Z on the 2nd is 22:00 on the 1st in New York.
  await db.owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
     VALUES ($1, 'r', '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002',
             'completed', '2026-02-02T03:00:00Z', '2026-02-02T03:00:04Z', 4, 2)`,
    [WS],
  );
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
  await db?.drop();
});

async function admin(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(["rollup", ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe("npm run admin -- rollup", () => {
  it("rebuilds the range for one workspace by slug, plus the platform rows", async () => {
    const result = await admin(
      "--from",
      "2026-02-01",
      "--to",
      "2026-02-03",
      "--workspace",
      "acme",
      "--chunk-days",
      "2",
    );
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out.join("\n")).toMatch(/rolled up 6 scope-day\(s\) \(2 scope\(s\)\)/);
    const { rows } = await db.owner.query(
      "SELECT metric_date::text AS d, workspace_id IS NULL AS platform, total_runs FROM analytics.daily_metrics ORDER BY 2, 1",
    );
    expect(rows).toEqual([
      { d: "2026-02-01", platform: false, total_runs: 1 },
      { d: "2026-02-02", platform: true, total_runs: 1 },
    ]);
  });

  it("answers operator mistakes with one error line and exit code 1", async () => {
    const unknown = await admin("--from", "2026-02-01", "--to", "2026-02-03", "--workspace", "nope");
    expect([unknown.code, unknown.err]).toEqual([
      1,
      ['error: no workspace with slug "nope"; see npm run admin -- list-workspaces'],
    ]);
    const reversed = await admin("--from", "2026-02-05", "--to", "2026-02-03");
    expect(reversed.code).toBe(1);
    expect(reversed.err[0]).toMatch(/--from must not be after --to/);
    const missing = await admin("--to", "2026-02-03");
    expect(missing.err[0]).toMatch(/^error: --from is required/);
    const impossible = await admin("--from", "2026-02-30", "--to", "2026-03-02");
    expect(impossible.err[0]).toMatch(/--from: not a calendar date/);
  });
});
