import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prismaFor } from "@/lib/db/prisma";
import { withUserContext } from "@/lib/db/context";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

// Two people of different workspaces making concurrent requests through a pool of ONE connection:
// the context is transaction-local (set_config(..., true)), so the connection handed from one
// request to the next never carries the previous identity.
let db: TestDatabase;
const ids: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  const one = async (sql: string, params: unknown[] = []) =>
    (await db.owner.query<{ id: string }>(sql, params)).rows[0].id;
  ids.wa = await one("INSERT INTO public.workspaces (slug, name) VALUES ('a', 'A') RETURNING id");
  ids.wb = await one("INSERT INTO public.workspaces (slug, name) VALUES ('b', 'B') RETURNING id");
  ids.alice = await one("INSERT INTO public.accounts (email) VALUES ('alice@a.test') RETURNING id");
  ids.bob = await one("INSERT INTO public.accounts (email) VALUES ('bob@b.test') RETURNING id");
  await db.owner.query("INSERT INTO public.workspace_members VALUES ($1, $2, 'member'), ($3, $4, 'member')", [
    ids.wa,
    ids.alice,
    ids.wb,
    ids.bob,
  ]);
  // 30 agents in A, 20 in B: any leak changes a count.
  await db.owner.query(
    "INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'a' || g, 'A agent ' || g FROM generate_series(1, 30) g",
    [ids.wa],
  );
  await db.owner.query(
    "INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'b' || g, 'B agent ' || g FROM generate_series(1, 20) g",
    [ids.wb],
  );
});
afterAll(async () => db.drop());

describe("one-connection pool", () => {
  it("interleaved requests of two tenants each see exactly their own rows, and none after", async () => {
    const pool = prismaFor(`${db.appUrl}${db.appUrl.includes("?") ? "&" : "?"}application_name=one_connection_test`, {
      max: 1,
    });
    try {
      const request = (accountId: string) =>
        withUserContext(
          accountId,
          async (tx) => {
            const rows = await tx.$queryRaw<{ workspaces: string[]; n: number }[]>`
              SELECT array_agg(DISTINCT workspace_id::text) AS workspaces, count(*)::int AS n FROM public.agents`;
            await tx.$executeRaw`SELECT pg_sleep(0.005)`; // hold the connection so the others queue behind it
            return rows[0];
          },
          pool,
        );
      const results = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const who = i % 2 === 0 ? "alice" : "bob";
          return { who, ...(await request(ids[who])) };
        }),
      );
      expect(results.filter((r) => r.who === "alice").every((r) => r.n === 30 && r.workspaces.join() === ids.wa)).toBe(
        true,
      );
      expect(results.filter((r) => r.who === "bob").every((r) => r.n === 20 && r.workspaces.join() === ids.wb)).toBe(
        true,
      );
      // The same single connection, outside any transaction: no identity is left behind.
      const after = await pool.$queryRaw<{ n: number; setting: string | null }[]>`
        SELECT (SELECT count(*)::int FROM public.agents) AS n, nullif(current_setting('app.current_user_id', true), '') AS setting`;
      expect(after).toEqual([{ n: 0, setting: null }]);
      const backends = await db.owner.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'one_connection_test'",
      );
      expect(backends.rows[0].n).toBeLessThanOrEqual(1); // never a second connection
    } finally {
      await pool.$disconnect();
    }
  });
});
