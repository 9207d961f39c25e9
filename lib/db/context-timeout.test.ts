import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  dashboardStatementTimeoutMs,
  NestedReadContextError,
  QueryTimeoutError,
  withUserContext,
  withUserReadContext,
} from "@/lib/db/context";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

let db: TestDatabase;
let accountId: string;
const savedTimeout = process.env.DASHBOARD_STATEMENT_TIMEOUT_MS;

beforeAll(async () => {
  db = await createTestDatabase();
  accountId = (
    await db.owner.query<{ id: string }>("INSERT INTO public.accounts (email) VALUES ('slow@x.test') RETURNING id")
  ).rows[0].id;
});
afterAll(async () => db.drop());
afterEach(() => {
  if (savedTimeout === undefined) delete process.env.DASHBOARD_STATEMENT_TIMEOUT_MS;
  else process.env.DASHBOARD_STATEMENT_TIMEOUT_MS = savedTimeout;
});

describe("statement_timeout on dashboard reads", () => {
  it("defaults to 5000 ms and validates DASHBOARD_STATEMENT_TIMEOUT_MS", () => {
    expect(dashboardStatementTimeoutMs(undefined)).toBe(5000);
    expect(dashboardStatementTimeoutMs("250")).toBe(250);
    expect(() => dashboardStatementTimeoutMs("0")).toThrow(/DASHBOARD_STATEMENT_TIMEOUT_MS must be at least 1/);
    expect(() => dashboardStatementTimeoutMs("soon")).toThrow(/DASHBOARD_STATEMENT_TIMEOUT_MS/);
  });

  it("is set transaction-locally: the request sees it, the pooled connection afterwards does not", async () => {
    process.env.DASHBOARD_STATEMENT_TIMEOUT_MS = "1234";
    const inside = await withUserContext(
      accountId,
      (tx) => tx.$queryRaw<{ t: string }[]>`SELECT current_setting('statement_timeout') AS t`,
      db.appPrisma,
    );
    expect(inside).toEqual([{ t: "1234ms" }]);
    const outside = await db.appPrisma.$queryRaw<{ t: string }[]>`SELECT current_setting('statement_timeout') AS t`;
    expect(outside[0].t).not.toBe("1234ms");
  });

  it("cancels a slow query with a QueryTimeoutError naming the limit, and the next request works", async () => {
    process.env.DASHBOARD_STATEMENT_TIMEOUT_MS = "200";
    const slow = withUserContext(accountId, (tx) => tx.$queryRaw`SELECT pg_sleep(30)`, db.appPrisma);
    await expect(slow).rejects.toBeInstanceOf(QueryTimeoutError);
    await expect(slow).rejects.toThrow(/ran longer than 200 ms and was cancelled \(DASHBOARD_STATEMENT_TIMEOUT_MS\)/);
    // The read-only variant (primary when no replica is configured) applies the same limit.
    await expect(
      withUserReadContext(accountId, (tx) => tx.$queryRaw`SELECT pg_sleep(30)`, db.appPrisma),
    ).rejects.toBeInstanceOf(QueryTimeoutError);
    const fine = await withUserContext(
      accountId,
      (tx) => tx.$queryRaw<{ n: number }[]>`SELECT 41 + 1 AS n`,
      db.appPrisma,
    );
    expect(fine).toEqual([{ n: 42 }]);
  });

  it("a read context opened inside another is refused at once, not left waiting for a slot", async () => {
    await expect(
      withUserReadContext(accountId, () => withUserReadContext(accountId, async () => 1, db.appPrisma), db.appPrisma),
    ).rejects.toThrow(NestedReadContextError);
    // Side by side is fine, and the slots were given back.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        withUserReadContext(accountId, (tx) => tx.$queryRaw<{ n: number }[]>`SELECT ${i}::int AS n`, db.appPrisma),
      ),
    );
    expect(results.map((r) => r[0].n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("withUserReadContext runs a read-only transaction: writes are refused", async () => {
    await expect(
      withUserReadContext(
        accountId,
        (tx) => tx.$queryRaw`UPDATE public.accounts SET name = 'x' WHERE id = ${accountId}::uuid`,
        db.appPrisma,
      ),
    ).rejects.toThrow(/read-only transaction/);
    const readBack = await withUserReadContext(
      accountId,
      (tx) => tx.$queryRaw<{ ro: string }[]>`SELECT current_setting('transaction_read_only') AS ro`,
      db.appPrisma,
    );
    expect(readBack).toEqual([{ ro: "on" }]);
  });
});
