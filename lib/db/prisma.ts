import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { z } from "zod";
import { PrismaClient } from "@/lib/generated/prisma/client";

export type Db = PrismaClient;
/** The client handed to code running inside a transaction (RLS context set). */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

const clients = new Map<string, PrismaClient>();
// Each client's pg pool, shared with the read contexts that run on `pg` directly (lib/db/read-tx.ts):
// one pool per client, so its size bounds both.
const pools = new WeakMap<PrismaClient, pg.Pool>();

/**
 * One client (and connection pool) per URL, pool size and pool name. `pool` separates pools that
 * share a URL and size on purpose (the dashboard read pool is one: see `primaryReadPrisma`).
 */
export function prismaFor(connectionString: string, options: { max?: number; pool?: string } = {}): PrismaClient {
  const key = `${connectionString}#${options.max ?? ""}#${options.pool ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
    // An idle connection the server closes (a restart, DROP DATABASE … WITH (FORCE) in tests) must
    // not crash the process before Prisma's adapter has attached its own listener.
    pool.on("error", () => {});
    // The adapter bundles its own copy of @types/pg; the runtime class is the same pg.Pool.
    const adapter = new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0], {
      disposeExternalPool: true,
    });
    client = new PrismaClient({ adapter });
    clients.set(key, client);
    pools.set(client, pool);
  }
  return client;
}

/** The pg pool under a client made by `prismaFor` (undefined for any other client). */
export function poolOf(client: PrismaClient): pg.Pool | undefined {
  return pools.get(client);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set. Start Pulseboard through "npm start" / "npm run dev", which set it.`);
  }
  return value;
}

/** App-role client (row-level security applies). Use through `withUserContext`. */
export function appPrisma(): PrismaClient {
  return prismaFor(required("DATABASE_APP_URL"));
}

/** Owner client: for the worker, seeding and the admin CLI only, never for serving a request. */
export function ownerPrisma(): PrismaClient {
  return prismaFor(required("DATABASE_URL"));
}

const dashboardConcurrencySchema = z.coerce
  .number({ error: "DASHBOARD_DB_CONCURRENCY must be a whole number of connections, e.g. 6" })
  .int("DASHBOARD_DB_CONCURRENCY must be a whole number of connections, e.g. 6")
  .min(1, "DASHBOARD_DB_CONCURRENCY must be at least 1")
  .max(64, "DASHBOARD_DB_CONCURRENCY must be at most 64");

/**
 * `DASHBOARD_DB_CONCURRENCY` (default 6), validated: dashboard and metric read transactions in
 * flight per server process, and the size of the primary's read pool. A typo is a configuration
 * error, not a silent default.
 */
export function dashboardConcurrency(raw: string | undefined = process.env.DASHBOARD_DB_CONCURRENCY): number {
  if (raw === undefined || raw.trim() === "") return 6;
  const parsed = dashboardConcurrencySchema.safeParse(raw);
  if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? "DASHBOARD_DB_CONCURRENCY is invalid");
  return parsed.data;
}

/**
 * App-role client for dashboard and metric reads on the primary (when no read replica is
 * configured): a pool of its own, `DASHBOARD_DB_CONCURRENCY` connections, apart from `appPrisma()`'s
 * pool that ingest and every write use. A bulkhead: PostgreSQL shares the CPU per backend, so fifty
 * dashboard viewers holding the ten connections of one shared pool got ten backends to ingest's few
 * and starved it (the load test's ingest p95 went past 700 ms). With their own small pool (and the
 * in-process queue in front of it, lib/db/context.ts), readers wait in the app instead, and writes
 * keep their share of the server. Size it near the database's cores: CPU-bound reads gain nothing
 * from more concurrency.
 */
export function primaryReadPrisma(): PrismaClient {
  return prismaFor(required("DATABASE_APP_URL"), { max: dashboardConcurrency(), pool: "read" });
}
