import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { runRollupCommand } from "./rollup";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.owner.query(
    "INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ('00000000-0000-4000-8000-000000000001', 'acme', 'Acme', 'America/New_York')",
  );
  await db.owner.query(
    "INSERT INTO public.users (workspace_id, id, external_id, created_at) VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'u', '2026-01-01Z')",
  );
  await db.owner.query(
    "INSERT INTO public.agents (workspace_id, id, external_id, name) VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000003', 'a', 'A')",
  );
  // 03:00Z on the 2nd is 22:00 on the 1st in New York.
  await db.owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at, runtime_seconds, credits_consumed)
     VALUES ('00000000-0000-4000-8000-000000000001', 'r', '00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002',
             'completed', '2026-02-02T03:00:00Z', '2026-02-02T03:00:04Z', 4, 2)`,
  );
});
afterAll(async () => {
  await db?.drop();
});

describe("admin rollup command", () => {
  it("rebuilds the range for one workspace by slug", async () => {
    const out: string[] = [];
    const code = await runRollupCommand(["--from", "2026-02-01", "--to", "2026-02-03", "--workspace", "acme"], {
      ownerUrl: db.ownerUrl,
      out: (line) => out.push(line),
      progress: false,
    });
    expect(code).toBe(0);
    expect(out.join("\n")).toMatch(/rolled up 6 scope-day\(s\) \(2 scope\(s\)\)/);
    const { rows } = await db.owner.query(
      "SELECT metric_date::text AS d, workspace_id IS NULL AS platform, total_runs FROM analytics.daily_metrics ORDER BY 2, 1",
    );
    expect(rows).toEqual([
      { d: "2026-02-01", platform: false, total_runs: 1 },
      { d: "2026-02-02", platform: true, total_runs: 1 },
    ]);
  });

  it("answers mistakes with a message and exit code 2", async () => {
    const out: string[] = [];
    const io = { ownerUrl: db.ownerUrl, out: (line: string) => out.push(line), progress: false };
    expect(await runRollupCommand(["--from", "2026-02-01", "--to", "2026-02-03", "--workspace", "nope"], io)).toBe(2);
    expect(out.at(-1)).toBe('error: no workspace with slug "nope"');
    expect(await runRollupCommand(["--from", "2026-02-05", "--to", "2026-02-03"], io)).toBe(2);
    expect(out.at(-1)).toMatch(/--from must not be after --to/);
    expect(await runRollupCommand(["--to", "2026-02-03"], io)).toBe(2);
    expect(out.at(-1)).toMatch(/--from is required/);
    expect(await runRollupCommand(["--from", "2026-13-45", "--to", "2026-13-46"], io)).toBe(2);
    expect(out.at(-1)).toMatch(/not a calendar date/);
    expect(await runRollupCommand(["--from", "2026-02-30", "--to", "2026-03-02"], io)).toBe(2);
    expect(out.at(-1)).toMatch(/not a calendar date/);
  });
});
