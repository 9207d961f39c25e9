import pg from "pg";
import { Prisma } from "@/lib/generated/prisma/client";

/**
 * What a read context hands its callback: `$queryRaw` only (every dashboard and metric read is a
 * typed `$queryRaw` over rollups). A Prisma client or transaction satisfies it, and so does
 * `pgReadTx`, which runs the same `Prisma.sql` straight on a `pg` connection.
 *
 * Why a second way to run a query: Prisma 7 compiles every query, raw ones included, through its
 * query compiler (WebAssembly) and runs an interactive transaction through several promise and
 * timer hops. Measured per read context (BEGIN, the RLS settings, one query, COMMIT), on this
 * 2-core machine: ~1.0 ms of Node CPU and ~4 ms wall with Prisma against ~0.07 ms and ~0.45 ms with
 * `pg` — and the wall time is time a read slot and a pooled connection are held. Results keep
 * Prisma's `$queryRaw` types (bigint for int8, Prisma.Decimal for numeric, Date for date and
 * timestamps, parsed JSON, Uint8Array for bytea), pinned by read-tx.test.ts against Prisma itself.
 */
export interface ReadTx {
  $queryRaw<T = unknown>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T>;
}

// PostgreSQL type oids whose text form Prisma's $queryRaw turns into something else than pg does.
const INT8 = 20;
const NUMERIC = 1700;
const DATE = 1082;
const TIMESTAMP = 1114;
const TIME = 1083;
const BYTEA = 17;
const INT8_ARRAY = 1016;
const NUMERIC_ARRAY = 1231;
const DATE_ARRAY = 1182;
const TIMESTAMP_ARRAY = 1115;

type Parser = (text: string) => unknown;

const parseDate = (text: string) => new Date(`${text}T00:00:00Z`);
// timestamp without time zone: Prisma reads the wall-clock value as UTC.
const parseTimestamp = (text: string) => new Date(`${text.replace(" ", "T")}Z`);

/** Parses PostgreSQL's text form of a one-dimensional array whose elements need no quoting rules beyond NULL. */
function parseArray(parse: Parser): Parser {
  return (text) => {
    if (text === "{}") return [];
    return text
      .slice(1, -1)
      .split(",")
      .map((item) => {
        if (item === "NULL") return null;
        return parse(item.startsWith('"') ? item.slice(1, -1) : item);
      });
  };
}

const pgParseBytea = pg.types.getTypeParser(BYTEA, "text") as (text: string) => Buffer;
const parseBytea = (text: string) => new Uint8Array(pgParseBytea(text));

const PARSERS: Record<number, Parser> = {
  [INT8]: (text) => BigInt(text),
  [NUMERIC]: (text) => new Prisma.Decimal(text),
  [DATE]: parseDate,
  [TIMESTAMP]: parseTimestamp,
  [TIME]: (text) => new Date(`1970-01-01T${text}Z`),
  [INT8_ARRAY]: parseArray((text) => BigInt(text)),
  [NUMERIC_ARRAY]: parseArray((text) => new Prisma.Decimal(text)),
  [DATE_ARRAY]: parseArray(parseDate),
  [TIMESTAMP_ARRAY]: parseArray(parseTimestamp),
};

// timestamptz keeps pg's own parser (a Date, as Prisma's).
const typeParsers = {
  getTypeParser: (oid: number, format?: "text" | "binary") => {
    const custom = format !== "binary" ? PARSERS[oid] : undefined;
    if (custom) return custom;
    if (oid === BYTEA) return parseBytea;
    return pg.types.getTypeParser(oid, format ?? "text");
  },
};

/** Query arguments as Prisma sends them: decimals and bigints as their exact text. */
function argument(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Prisma.Decimal.isDecimal(value)) return value.toString();
  if (Array.isArray(value)) return value.map(argument);
  return value;
}

const CONNECTION_LOST_CODES = new Set(["57P01", "57P02", "57P03", "ECONNRESET", "EPIPE"]);

/**
 * True when `error` says the connection itself is gone (its backend terminated or restarted, the
 * socket closed), not that the statement failed: nothing ran, so a read may try a fresh connection.
 */
export function isConnectionLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_LOST_CODES.has(code)) return true;
  return /Connection terminated|not queryable|terminating connection/i.test(error.message);
}

/**
 * A ReadTx over one connection: a checked-out one (inside a transaction the caller opened), or a
 * pool for single statements outside any transaction (each query on whichever connection is free).
 * On a pool, a statement that met a lost connection runs once more on another: a connection whose
 * backend was terminated can sit idle in the pool until its first statement finds out (seen when a
 * write transaction's backend was killed and the next request's first statement took its connection).
 */
export function pgReadTx(client: pg.PoolClient | pg.Pool): ReadTx {
  return {
    async $queryRaw<T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): Promise<T> {
      const sql = query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
      const config = { text: sql.text, values: sql.values.map(argument), types: typeParsers };
      try {
        return (await client.query(config)).rows as T;
      } catch (error) {
        if (!(client instanceof pg.Pool) || !isConnectionLost(error)) throw error;
        return (await client.query(config)).rows as T;
      }
    },
  };
}
