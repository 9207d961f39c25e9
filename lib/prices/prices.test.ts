import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withUserContext } from "@/lib/db/context";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { processBatch } from "@/lib/ingest/process";
import { createWorkspace } from "@/lib/ingest/test-fixtures";
import { addPrice, countRepriceableCalls, listPrices, repriceCalls } from "./prices";

let db: TestDatabase;
let workspaceId: string;
let adminId: string;
let viewerId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = await createWorkspace(db.owner, "pricing");
  const accounts = await db.owner.query<{ id: string }>(
    "INSERT INTO public.accounts (email) VALUES ('admin@example.com'), ('viewer@example.com') RETURNING id",
  );
  [adminId, viewerId] = accounts.rows.map((r) => r.id);
  await db.owner.query(
    "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'admin'), ($1, $3, 'viewer')",
    [workspaceId, adminId, viewerId],
  );
  const { rows } = await db.owner.query<{ id: string }>(
    "INSERT INTO public.api_keys (workspace_id, name, prefix, secret_sha256, scopes) VALUES ($1, 'k', 'pb_x', sha256('x'), '{ingest}') RETURNING id",
    [workspaceId],
  );
  const call = (id: string, day: string, extra: Record<string, unknown> = {}) => ({
    id,
    type: "llm_call",
    timestamp: `2025-06-${day}T12:00:00Z`,
    body: {
      userId: "u",
      provider: "acme",
      model: "house-1",
      promptTokens: 2_000_000,
      completionTokens: 1_000_000,
      latencyMs: 1,
      ...extra,
    },
  });
  await processBatch([call("c1", "01"), call("c2", "10"), call("c3", "20"), call("c4", "20", { costUsd: 9 })], {
    db: db.appPrisma,
    workspaceId,
    apiKeyId: rows[0].id,
  });
});
afterAll(async () => {
  await db?.drop();
});

async function costs() {
  const { rows } = await db.owner.query<{ cost: string | null; source: string }>(
    "SELECT total_cost_usd::text AS cost, cost_source AS source FROM public.llm_usage_logs ORDER BY created_at, cost_source",
  );
  return rows.map((r) => [r.cost, r.source]);
}

describe("model prices", () => {
  it("stores unknown models as unpriced, then re-prices history from a date with the version in force", async () => {
    expect(await costs()).toEqual([
      [null, "unpriced"],
      [null, "unpriced"],
      ["9.00000000", "reported"],
      [null, "unpriced"],
    ]);
    await withUserContext(
      adminId,
      async (tx) => {
        await addPrice(
          tx,
          workspaceId,
          {
            provider: "acme",
            model: "House-1",
            inputUsdPerMillion: 1,
            outputUsdPerMillion: 2,
            effectiveFrom: "2025-06-05T00:00:00Z",
          },
          adminId,
        );
        await addPrice(
          tx,
          workspaceId,
          {
            provider: "acme",
            model: "house-1",
            inputUsdPerMillion: "3",
            outputUsdPerMillion: "4",
            effectiveFrom: "2025-06-15T00:00:00Z",
          },
          adminId,
        );
      },
      db.appPrisma,
    );
    // A viewer cannot change prices (RLS refuses even if the app forgot to check).
    await expect(
      withUserContext(
        viewerId,
        (tx) =>
          addPrice(
            tx,
            workspaceId,
            { provider: "a", model: "b", inputUsdPerMillion: 1, outputUsdPerMillion: 1, effectiveFrom: "2025-01-01" },
            viewerId,
          ),
        db.appPrisma,
      ),
    ).rejects.toThrow();

    expect(await countRepriceableCalls(db.appPrisma, workspaceId, new Date("2025-06-02T00:00:00Z"))).toBe(2);
    await db.owner.query("DELETE FROM analytics.rollup_dirty_hours");
    expect(await repriceCalls(db.appPrisma, workspaceId, new Date("2025-06-02T00:00:00Z"))).toBe(2);
    expect(await costs()).toEqual([
      [null, "unpriced"], // before the chosen date: untouched
      ["4.00000000", "price_table"], // 2M × $1 + 1M × $2
      ["10.00000000", "price_table"], // 2M × $3 + 1M × $4
      ["9.00000000", "reported"], // the client's own cost is never re-priced
    ]);
    const hours = await db.owner.query<{ hour: Date }>("SELECT hour FROM analytics.rollup_dirty_hours ORDER BY hour");
    expect(hours.rows.map((r) => r.hour.toISOString())).toEqual([
      "2025-06-10T12:00:00.000Z",
      "2025-06-20T12:00:00.000Z",
    ]);

    const list = await withUserContext(viewerId, (tx) => listPrices(tx, workspaceId), db.appPrisma);
    const house = list.filter((p) => p.model === "house-1");
    expect(house.map((p) => [p.input_usd_per_million, p.in_force])).toEqual([
      ["3.000000", true],
      ["1.000000", false],
    ]);
    expect(list.some((p) => p.source === "default" && p.model === "gpt-4o" && p.in_force)).toBe(true);
  });
});
