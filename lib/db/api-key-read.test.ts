import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

let db: TestDatabase;
let app: pg.Client;
const ids: Record<"a" | "b", string> = { a: "", b: "" };

beforeAll(async () => {
  db = await createTestDatabase();
  for (const key of ["a", "b"] as const) {
    const { rows } = await db.owner.query<{ id: string }>(
      "INSERT INTO public.workspaces (slug, name) VALUES ($1, $1) RETURNING id",
      [`ws-${key}`],
    );
    ids[key] = rows[0].id;
    await db.owner.query(
      "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs) VALUES ('2026-11-01', $1, $2)",
      [ids[key], key === "a" ? 7 : 11],
    );
  }
  app = new pg.Client({ connectionString: db.appUrl });
  await app.connect();
});
afterAll(async () => {
  await app?.end();
  await db?.drop();
});

async function asContext(setting: string, workspaceId: string, sql: string) {
  await app.query("BEGIN");
  try {
    await app.query("SELECT set_config($1, $2, true)", [setting, workspaceId]);
    return (await app.query(sql)).rows;
  } finally {
    await app.query("ROLLBACK");
  }
}

describe("the API-key read context (app.current_read_workspace_id)", () => {
  it("reads its own workspace's rollups and nothing of another's", async () => {
    const rows = await asContext(
      "app.current_read_workspace_id",
      ids.a,
      "SELECT workspace_id::text, total_runs FROM analytics.daily_metrics",
    );
    expect(rows).toEqual([{ workspace_id: ids.a, total_runs: 7 }]);
  });

  it("cannot read raw events, memberships or write rollups", async () => {
    expect(await asContext("app.current_read_workspace_id", ids.a, "SELECT * FROM public.agent_runs")).toEqual([]);
    expect(await asContext("app.current_read_workspace_id", ids.a, "SELECT * FROM public.workspace_members")).toEqual(
      [],
    );
    await expect(
      asContext(
        "app.current_read_workspace_id",
        ids.a,
        `INSERT INTO analytics.daily_metrics (metric_date, workspace_id) VALUES ('2026-11-02', '${ids.a}')`,
      ),
    ).rejects.toThrow();
  });

  it("is not granted to the ingest context: an ingest key reads no rollups", async () => {
    expect(await asContext("app.current_workspace_id", ids.a, "SELECT * FROM analytics.daily_metrics")).toEqual([]);
  });
});
