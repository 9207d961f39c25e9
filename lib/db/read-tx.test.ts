import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "@/lib/generated/prisma/client";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { poolOf } from "./prisma";
import { withUserReadContext } from "./context";
import { pgReadTx } from "./read-tx";

/**
 * The read contexts run dashboard queries on `pg` directly (pgReadTx) instead of through Prisma's
 * $queryRaw. Every page and the metrics API parse those rows, so the two must hand back the same
 * JavaScript values for the same SQL: checked here against Prisma itself, type by type.
 */
describe("pgReadTx gives the same rows as Prisma's $queryRaw", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  async function both(query: Prisma.Sql): Promise<[unknown, unknown]> {
    const pool = poolOf(db.ownerPrisma);
    if (!pool) throw new Error("the test database's client has no pg pool");
    const connection = await pool.connect();
    try {
      const viaPg = await pgReadTx(connection).$queryRaw(query);
      const viaPrisma = await db.ownerPrisma.$queryRaw(query);
      return [viaPg, viaPrisma];
    } finally {
      connection.release();
    }
  }

  const cases: [string, Prisma.Sql][] = [
    [
      "scalars",
      Prisma.sql`SELECT 1::int2 AS a, 2::int4 AS b, 3000000000::int8 AS c, 1.5::float4 AS d, 2.25::float8 AS e,
                        12.3400::numeric AS f, 'x'::text AS g, true AS h, NULL::int8 AS i, NULL::numeric AS j,
                        '0b4a4a5e-8a61-4c1b-9a51-1f0c1d8a2b3c'::uuid AS k, 'y'::varchar AS l`,
    ],
    [
      "time types",
      Prisma.sql`SELECT '2026-03-29'::date AS d, '2026-03-29 02:30:00'::timestamp AS ts,
                        '2026-03-29 02:30:00.123+02'::timestamptz AS tstz, '13:45:10'::time AS t`,
    ],
    [
      "arrays",
      Prisma.sql`SELECT ARRAY[1, 2]::int4[] AS a, ARRAY[3000000000, NULL]::int8[] AS b, ARRAY[1.5, 2]::numeric[] AS c,
                        ARRAY['a', 'b c', NULL]::text[] AS d, ARRAY['2026-01-01', '2026-12-31']::date[] AS e,
                        ARRAY['2026-01-01 00:00:00']::timestamp[] AS f, ARRAY[]::int8[] AS g,
                        ARRAY[0.5, 1.25]::float8[] AS h`,
    ],
    ["json and bytes", Prisma.sql`SELECT '{"a": [1, 2]}'::jsonb AS j, '[1]'::json AS k, '\\x0102ff'::bytea AS b`],
    [
      "bound parameters of every kind",
      Prisma.sql`SELECT ${"text"}::text AS a, ${42}::int AS b, ${1.5}::float8 AS c, ${true}::bool AS d,
                        ${new Date("2026-05-01T10:00:00Z")}::timestamptz AS e, ${["x", "y"]}::text[] AS f,
                        ${BigInt("9007199254740993")}::int8 AS g, ${new Prisma.Decimal("1.10")}::numeric AS h,
                        ${null}::text AS i`,
    ],
  ];

  it.each(cases)("%s", async (_name, query) => {
    const [viaPg, viaPrisma] = await both(query);
    expect(viaPg).toEqual(viaPrisma);
    // Same classes too (bigint, Decimal, Date, Uint8Array), not only equal-looking values.
    const row = (viaPg as Record<string, unknown>[])[0];
    const prismaRow = (viaPrisma as Record<string, unknown>[])[0];
    for (const key of Object.keys(prismaRow)) {
      expect([key, Object.prototype.toString.call(row[key])]).toEqual([
        key,
        Object.prototype.toString.call(prismaRow[key]),
      ]);
    }
  });

  it("a tagged template runs with its values bound, not pasted", async () => {
    const pool = poolOf(db.ownerPrisma);
    if (!pool) throw new Error("no pool");
    const connection = await pool.connect();
    try {
      const hostile = "'; DROP TABLE public.accounts; --";
      const rows = await pgReadTx(connection).$queryRaw<{ v: string }[]>`SELECT ${hostile}::text AS v`;
      expect(rows).toEqual([{ v: hostile }]);
    } finally {
      connection.release();
    }
  });

  it("a pooled connection whose backend was terminated is replaced, not answered with an error", async () => {
    const pool = poolOf(db.appPrisma);
    if (!pool) throw new Error("no pool");
    // Each round: terminate the backend of an idle pooled connection, then read at once. Whether the
    // pool noticed first is a race; either way the read must succeed (a single statement on the
    // pool, and a read context's BEGIN, each try one fresh connection).
    for (let round = 0; round < 20; round++) {
      const connection = await pool.connect();
      const { rows } = await connection.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      connection.release();
      await db.owner.query("SELECT pg_terminate_backend($1)", [rows[0].pid]);
      const read =
        round % 2 === 0
          ? await pgReadTx(pool).$queryRaw<{ n: number }[]>`SELECT ${round}::int AS n`
          : await withUserReadContext(
              "00000000-0000-0000-0000-000000000000",
              (tx) => tx.$queryRaw<{ n: number }[]>`SELECT ${round}::int AS n`,
              db.appPrisma,
            );
      expect(read).toEqual([{ n: round }]);
    }
  });
});
