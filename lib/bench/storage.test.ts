import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchStorage } from "@/lib/bench/storage";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  const ws = (
    await db.owner.query<{ id: string }>("INSERT INTO public.workspaces (slug, name) VALUES ('st', 'St') RETURNING id")
  ).rows[0].id;
  const user = (
    await db.owner.query<{ id: string }>(
      "INSERT INTO public.users (workspace_id, external_id) VALUES ($1, 'u') RETURNING id",
      [ws],
    )
  ).rows[0].id;
  const agent = (
    await db.owner.query<{ id: string }>(
      "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'a', 'A') RETURNING id",
      [ws],
    )
  ).rows[0].id;
  await db.owner.query(
    "INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, created_at) SELECT $1, $2, 'login', now() - make_interval(mins => g) FROM generate_series(1, 300) g",
    [ws, user],
  );
  await db.owner.query(
    `INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at)
     SELECT $1, 'r' || g, $2, $3, 'completed', now() - make_interval(mins => g) FROM generate_series(1, 100) g`,
    [ws, agent, user],
  );
});
afterAll(async () => db.drop());

describe("storage bench", () => {
  it("measures partitioned and plain raw tables, and bytes per raw event over all of them", async () => {
    const results = await benchStorage({
      scale: "small",
      ownerUrl: db.ownerUrl,
      appUrl: db.appUrl,
      owner: db.owner,
      log: () => {},
    });
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(byName["bytes per row: analytics.user_activity"].value).toBeGreaterThan(50);
    expect(byName["bytes per row: public.agent_runs"].value).toBeGreaterThan(50);
    expect(Number.isNaN(byName["bytes per row: public.llm_usage_logs"].value)).toBe(true); // no rows
    const total = byName["bytes per raw event (all raw tables ÷ activity + calls + runs)"];
    expect(total.note).toMatch(/over 400 events$/);
    expect(total.value).toBeGreaterThan(byName["bytes per row: analytics.user_activity"].value / 2);
  });
});
