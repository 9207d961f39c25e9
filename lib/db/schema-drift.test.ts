import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";

/**
 * The SQL migrations are the schema; prisma/schema/*.prisma must mirror every table and column of
 * `public` and `analytics` (name, normalised type, nullability). This test builds a database from
 * the migrations (the test template) and compares it with the parsed Prisma models.
 */

type ColumnShape = { schema: string; table: string; column: string; type: string; nullable: boolean };

const SCHEMA_DIR = path.join(process.cwd(), "prisma", "schema");
const EXCLUDED_TABLES = new Set(["public._pulseboard_migrations"]);

/** PostgreSQL type names as format_type() prints them, minus precision that Prisma does not carry. */
function normaliseDbType(formatted: string): string {
  return formatted.replace(/^timestamp\(\d+\)/, "timestamp").replace(/^time\(\d+\)/, "time");
}

/** The PostgreSQL type a Prisma scalar (with its optional @db.* native type) maps to. */
function prismaToDbType(scalar: string, native: string | null, nativeArgs: string | null, list: boolean): string {
  const args = nativeArgs?.replace(/\s+/g, "") ?? null;
  let base: string;
  switch (scalar) {
    case "String":
      base =
        native === "Uuid"
          ? "uuid"
          : native === "VarChar"
            ? args
              ? `character varying(${args})`
              : "character varying"
            : native === "Char"
              ? `character(${args ?? "1"})`
              : native === "Inet"
                ? "inet"
                : native === "Citext"
                  ? "citext"
                  : "text";
      break;
    case "Int":
      base = native === "SmallInt" ? "smallint" : "integer";
      break;
    case "BigInt":
      base = "bigint";
      break;
    case "Boolean":
      base = "boolean";
      break;
    case "Float":
      base = native === "Real" ? "real" : "double precision";
      break;
    case "Decimal":
      base = `numeric(${args ?? "65,30"})`;
      break;
    case "DateTime":
      base =
        native === "Timestamptz"
          ? "timestamp with time zone"
          : native === "Date"
            ? "date"
            : native === "Time"
              ? "time without time zone"
              : "timestamp without time zone";
      break;
    case "Json":
      base = native === "Json" ? "json" : "jsonb";
      break;
    case "Bytes":
      base = "bytea";
      break;
    default:
      base = `unknown:${scalar}`;
  }
  return list ? `${base}[]` : base;
}

/** A small parser of `model` blocks: scalar fields only (relation fields name another model). */
function parsePrismaColumns(sources: string[]): ColumnShape[] {
  const text = sources.join("\n");
  const blocks = [...text.matchAll(/^[ \t]*model\s+(\w+)\s*\{([\s\S]*?)^[ \t]*\}/gm)];
  const modelNames = new Set(blocks.map((block) => block[1]));
  const columns: ColumnShape[] = [];
  for (const [, modelName, body] of blocks) {
    const lines = body.split("\n").map((line) => line.replace(/\/\/.*$/, "").trim());
    const table = /@@map\("([^"]+)"\)/.exec(body)?.[1] ?? modelName;
    const schema = /@@schema\("([^"]+)"\)/.exec(body)?.[1] ?? "public";
    for (const line of lines) {
      if (line === "" || line.startsWith("@@")) continue;
      const field = /^(\w+)\s+(\w+)(\[\])?(\?)?(?:\s+(.*))?$/.exec(line);
      if (!field) throw new Error(`Cannot parse field line in model ${modelName}: "${line}"`);
      const [, name, scalar, list, optional, attributes = ""] = field;
      if (modelNames.has(scalar)) continue; // relation field, no column
      const native = /@db\.(\w+)(?:\(([^)]*)\))?/.exec(attributes);
      columns.push({
        schema,
        table,
        column: /@map\("([^"]+)"\)/.exec(attributes)?.[1] ?? name,
        type: prismaToDbType(scalar, native?.[1] ?? null, native?.[2] ?? null, list !== undefined),
        nullable: optional !== undefined,
      });
    }
  }
  return columns;
}

function readPrismaSchemaSources(dir = SCHEMA_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".prisma"))
    .sort()
    .map((file) => readFileSync(path.join(dir, file), "utf8"));
}

async function readDatabaseColumns(db: TestDatabase): Promise<ColumnShape[]> {
  const { rows } = await db.owner.query<{
    schema: string;
    table: string;
    column: string;
    type: string;
    nullable: boolean;
  }>(`
    SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
           format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('public', 'analytics') AND c.relkind IN ('r', 'p')
      AND a.attnum > 0 AND NOT a.attisdropped`);
  return rows
    .filter((row) => !EXCLUDED_TABLES.has(`${row.schema}.${row.table}`))
    .map((row) => ({ ...row, type: normaliseDbType(row.type) }));
}

/** Every difference between the two sides, one readable line each; empty when they agree. */
function diffSchemas(database: ColumnShape[], prisma: ColumnShape[]): string[] {
  const key = (c: ColumnShape) => `${c.schema}.${c.table}.${c.column}`;
  const fromDb = new Map(database.map((c) => [key(c), c]));
  const fromPrisma = new Map(prisma.map((c) => [key(c), c]));
  const differences: string[] = [];
  for (const [name, dbColumn] of fromDb) {
    const prismaColumn = fromPrisma.get(name);
    if (!prismaColumn) {
      differences.push(`${name}: in the database (${dbColumn.type}) but in no Prisma model`);
      continue;
    }
    if (prismaColumn.type !== dbColumn.type) {
      differences.push(`${name}: type ${dbColumn.type} in the database, ${prismaColumn.type} in Prisma`);
    }
    // A Prisma scalar list cannot be optional, so a nullable array column cannot be mirrored
    // exactly: arrays compare by type only (prefer NOT NULL DEFAULT '{}' array columns).
    if (prismaColumn.nullable !== dbColumn.nullable && !dbColumn.type.endsWith("[]")) {
      differences.push(
        `${name}: ${dbColumn.nullable ? "nullable" : "NOT NULL"} in the database, ${prismaColumn.nullable ? "optional" : "required"} in Prisma`,
      );
    }
  }
  for (const [name, prismaColumn] of fromPrisma) {
    if (!fromDb.has(name)) differences.push(`${name}: in Prisma (${prismaColumn.type}) but not in the database`);
  }
  return differences.sort();
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

describe("Prisma schema mirrors the migrations", () => {
  it("has every table and column of public and analytics, with the same types and nullability", async () => {
    const database = await readDatabaseColumns(db);
    const prisma = parsePrismaColumns(readPrismaSchemaSources());
    // Sanity: both sides really were read (an empty comparison would pass vacuously).
    expect(database.length).toBeGreaterThan(200);
    expect(prisma.length).toBeGreaterThan(200);
    expect(diffSchemas(database, prisma)).toEqual([]);
  });

  it("reports a column added in SQL but not in Prisma", async () => {
    const client = await db.owner.connect();
    try {
      await client.query("BEGIN");
      await client.query("ALTER TABLE analytics.daily_metrics ADD COLUMN sneaky_total integer NOT NULL DEFAULT 0");
      const columns = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'daily_metrics' AND column_name = 'sneaky_total'",
      );
      expect(columns.rows[0].n).toBe("1");
      const { rows } = await client.query<ColumnShape>(`
        SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
               format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'analytics') AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relname <> '_pulseboard_migrations'`);
      const differences = diffSchemas(
        rows.map((row) => ({ ...row, type: normaliseDbType(row.type) })),
        parsePrismaColumns(readPrismaSchemaSources()),
      );
      expect(differences).toContain(
        "analytics.daily_metrics.sneaky_total: in the database (integer) but in no Prisma model",
      );
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
  });

  it("reports a Prisma field with no column, a type change and a nullability change", () => {
    const database: ColumnShape[] = [
      { schema: "analytics", table: "t", column: "id", type: "uuid", nullable: false },
      { schema: "analytics", table: "t", column: "amount", type: "numeric(10,2)", nullable: true },
      { schema: "analytics", table: "t", column: "label", type: "text", nullable: false },
    ];
    const prisma = parsePrismaColumns([
      `model T {
        id     String   @id @db.Uuid
        amount Decimal? @db.Decimal(12, 2)
        label  String?
        extra  Int      @map("extra_col")
        @@map("t")
        @@schema("analytics")
      }`,
    ]);
    expect(diffSchemas(database, prisma)).toEqual([
      "analytics.t.amount: type numeric(10,2) in the database, numeric(12,2) in Prisma",
      "analytics.t.extra_col: in Prisma (integer) but not in the database",
      "analytics.t.label: NOT NULL in the database, optional in Prisma",
    ]);
    expect(diffSchemas(database, database)).toEqual([]);
  });

  it("parses mapped names, schemas, lists, native types and skips relation fields", () => {
    const columns = parsePrismaColumns([
      `model Parent {
        id       String   @id @db.Uuid
        children Child[]
        @@map("parents")
        @@schema("public")
      }
      model Child {
        workspaceId String    @map("workspace_id") @db.Uuid
        tags        String[]  @default([]) @map("agent_ids") @db.Uuid
        at          DateTime? @map("seen_at") @db.Timestamptz(6)
        day         DateTime  @db.Date
        ip          String?   @db.Inet
        code        String    @db.VarChar(20)
        parent      Parent    @relation(fields: [workspaceId], references: [id])
        @@schema("analytics")
      }`,
    ]);
    expect(columns).toEqual([
      { schema: "public", table: "parents", column: "id", type: "uuid", nullable: false },
      { schema: "analytics", table: "Child", column: "workspace_id", type: "uuid", nullable: false },
      { schema: "analytics", table: "Child", column: "agent_ids", type: "uuid[]", nullable: false },
      { schema: "analytics", table: "Child", column: "seen_at", type: "timestamp with time zone", nullable: true },
      { schema: "analytics", table: "Child", column: "day", type: "date", nullable: false },
      { schema: "analytics", table: "Child", column: "ip", type: "inet", nullable: true },
      { schema: "analytics", table: "Child", column: "code", type: "character varying(20)", nullable: false },
    ]);
  });
});
