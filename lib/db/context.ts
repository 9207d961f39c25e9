import { AsyncLocalStorage } from "node:async_hooks";
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { appPrisma, dashboardConcurrency, poolOf, type Tx } from "./prisma";
import type pg from "pg";
import { isConnectionLost, pgReadTx, type ReadTx } from "./read-tx";
import { dashboardReadPrisma } from "./replicas";

const DEFAULT_DASHBOARD_STATEMENT_TIMEOUT_MS = 5000;
const statementTimeoutSchema = z.coerce
  .number()
  .int()
  .min(1, "must be at least 1 (milliseconds)")
  .max(600_000, "must be at most 600000 (10 minutes)");

/**
 * How long one statement of a request may run (`DASHBOARD_STATEMENT_TIMEOUT_MS`, default 5000), so
 * one heavy dashboard query is cancelled instead of holding a connection the others queue for.
 */
export function dashboardStatementTimeoutMs(
  raw: string | undefined = process.env.DASHBOARD_STATEMENT_TIMEOUT_MS,
): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_DASHBOARD_STATEMENT_TIMEOUT_MS;
  const parsed = statementTimeoutSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`DASHBOARD_STATEMENT_TIMEOUT_MS ${parsed.error.issues[0]?.message ?? "is invalid"} (got "${raw}")`);
  }
  return parsed.data;
}

/** A request's statement ran past the statement timeout and PostgreSQL cancelled it (SQLSTATE 57014). */
export class QueryTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(
      `The query ran longer than ${timeoutMs} ms and was cancelled (DASHBOARD_STATEMENT_TIMEOUT_MS). Narrow the date range or filters and try again.`,
      options,
    );
    this.name = "QueryTimeoutError";
  }
}

/** True when `error` (or anything in its cause/meta chain) is PostgreSQL's statement-timeout cancel. */
export function isStatementTimeout(error: unknown, depth = 0): boolean {
  if (depth > 6 || typeof error !== "object" || error === null) return false;
  const record = error as Record<string, unknown>;
  if (record.code === "57014" || record.originalCode === "57014") return true;
  if (typeof record.message === "string" && record.message.includes("canceling statement due to statement timeout"))
    return true;
  return ["cause", "meta", "driverAdapterError"].some((key) => isStatementTimeout(record[key], depth + 1));
}

/** The RLS settings a request can act under (see the app.* functions in migration 0006 and 0071). */
type ContextSetting = "app.current_user_id" | "app.current_read_workspace_id";
type ContextOptions = { readOnly: boolean; setting?: ContextSetting };

/*
 * Read transactions queue here, process-wide and first come first served, for one of
 * DASHBOARD_DB_CONCURRENCY slots — the size of the primary's read pool (primaryReadPrisma). A page
 * renders a dozen cards at once and fifty viewers of a dashboard ask together; queued in the pool
 * instead, a read waiting past Prisma's maxWait failed with "Unable to start a transaction in the
 * given time" (seen on the usage page and in the load test). Here it waits for its turn.
 * A read context must not open another inside it (use the `tx` it was given): with every slot held
 * by such outer reads, the inner ones would wait forever. That mistake throws at once instead.
 */
const readSlots = { running: 0, waiting: [] as (() => void)[] };
const insideReadSlot = new AsyncLocalStorage<true>();

export class NestedReadContextError extends Error {
  constructor() {
    super("A read context was opened inside another: run the query on the outer context's tx instead.");
    this.name = "NestedReadContextError";
  }
}

async function withReadSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (insideReadSlot.getStore()) throw new NestedReadContextError();
  if (readSlots.running >= dashboardConcurrency())
    await new Promise<void>((resolve) => readSlots.waiting.push(resolve));
  else readSlots.running++;
  try {
    return await insideReadSlot.run(true, fn);
  } finally {
    // Hand the slot straight to the next waiter (running stays the same), or free it.
    const next = readSlots.waiting.shift();
    if (next) next();
    else readSlots.running--;
  }
}

async function inReadTransaction<T>(
  client: PrismaClient,
  subjectId: string,
  fn: (tx: ReadTx) => Promise<T>,
  setting: ContextSetting,
): Promise<T> {
  return withReadSlot(async () => {
    const pool = poolOf(client);
    if (!pool) return inTransactionAs(client, subjectId, fn, { readOnly: true, setting });
    const timeoutMs = dashboardStatementTimeoutMs();
    const connection = await beginReadOnly(pool);
    let broken: Error | undefined;
    try {
      // Read-only, the RLS subject and the statement timeout, all transaction-local, in the same
      // transaction as the reads: a pooled connection never carries them into the next request.
      await connection.query("SELECT set_config($1, $2, true), set_config('statement_timeout', $3, true)", [
        setting,
        subjectId,
        String(timeoutMs),
      ]);
      const result = await fn(pgReadTx(connection));
      await connection.query("COMMIT");
      return result;
    } catch (error) {
      await connection.query("ROLLBACK").catch((rollbackError: unknown) => {
        // The connection is unusable (closed, or broken mid-protocol): drop it from the pool.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      if (isStatementTimeout(error)) throw new QueryTimeoutError(timeoutMs, { cause: error });
      throw error;
    } finally {
      connection.release(broken);
    }
  });
}

/**
 * A pooled connection inside `BEGIN READ ONLY`. A connection whose backend was terminated can sit
 * idle in the pool until its first statement finds out; that one is dropped and a fresh one tried
 * once (nothing had run on it).
 */
async function beginReadOnly(pool: pg.Pool): Promise<pg.PoolClient> {
  for (let attempt = 1; ; attempt++) {
    const connection = await pool.connect();
    try {
      await connection.query("BEGIN READ ONLY");
      return connection;
    } catch (error) {
      connection.release(error instanceof Error ? error : true);
      if (attempt >= 2 || !isConnectionLost(error)) throw error;
    }
  }
}

async function inTransactionAs<T>(
  client: PrismaClient,
  subjectId: string,
  fn: (tx: Tx) => Promise<T>,
  options: ContextOptions,
): Promise<T> {
  const setting = options.setting ?? "app.current_user_id";
  const timeoutMs = dashboardStatementTimeoutMs();
  try {
    return await client.$transaction(
      async (tx) => {
        // One round trip for the whole context. transaction_read_only may be switched on by the
        // transaction's first query (only switching it off after a snapshot is refused), which saves
        // a separate SET TRANSACTION READ ONLY on every dashboard read.
        if (options.readOnly) {
          await tx.$executeRaw`SELECT set_config('transaction_read_only', 'on', true),
                                      set_config(${setting}, ${subjectId}, true),
                                      set_config('statement_timeout', ${String(timeoutMs)}, true)`;
        } else {
          await tx.$executeRaw`SELECT set_config(${setting}, ${subjectId}, true),
                                      set_config('statement_timeout', ${String(timeoutMs)}, true)`;
        }
        return fn(tx);
      },
      // Prisma's own transaction timeout (5 s by default) must not fire before PostgreSQL's
      // statement timeout, or a slow query would surface as an opaque "transaction closed" error.
      // Waiting for a pooled connection gets as long as a statement may run (Prisma's default is
      // 2 s): on a busy server a queued request should be served late rather than fail.
      { timeout: Math.max(5000, timeoutMs * 2 + 1000), maxWait: Math.max(2000, timeoutMs) },
    );
  } catch (error) {
    if (isStatementTimeout(error)) throw new QueryTimeoutError(timeoutMs, { cause: error });
    throw error;
  }
}

/**
 * Runs `fn` in one transaction whose row-level-security context is the given account.
 * `set_config(..., true)` is transaction-local, so a pooled connection never carries one request's
 * identity into the next; with no context set, every policy reads nothing (fail closed).
 * Each statement is limited to `DASHBOARD_STATEMENT_TIMEOUT_MS`; a cancelled one throws QueryTimeoutError.
 */
export async function withUserContext<T>(
  accountId: string,
  fn: (tx: Tx) => Promise<T>,
  client: PrismaClient = appPrisma(),
): Promise<T> {
  return inTransactionAs(client, accountId, fn, { readOnly: false });
}

/**
 * Like withUserContext, for reads only: a READ ONLY transaction on the next read replica
 * (`DATABASE_REPLICA_URLS`, round robin), or on the primary when none is configured. Replicas lag
 * the primary by a little, so use it for dashboards and metrics, never to read back one's own write.
 */
export async function withUserReadContext<T>(
  accountId: string,
  fn: (tx: ReadTx) => Promise<T>,
  client: PrismaClient = dashboardReadPrisma(),
): Promise<T> {
  return inReadTransaction(client, accountId, fn, "app.current_user_id");
}

/**
 * Runs `fn` in one transaction acting for a workspace without a person: the ingest path, after an
 * API key was verified. Policies let this context write raw rows of that one workspace only.
 */
export async function withWorkspaceContext<T>(
  workspaceId: string,
  fn: (tx: Tx) => Promise<T>,
  client: PrismaClient = appPrisma(),
): Promise<T> {
  // Prisma's defaults (5 s, 2 s to get a connection) are sized for page reads; a 1,000-event batch
  // on a busy 2-core machine can take seconds, and hitting the limit answers 503 to a valid batch.
  return client.$transaction(
    async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.current_workspace_id', ${workspaceId}, true)`;
      return fn(tx);
    },
    { timeout: 20_000, maxWait: 10_000 },
  );
}

/**
 * Reads for an API key with the `read` scope (verified by the caller): a read-only transaction whose
 * only right is to read its workspace's rollups and labels (policies on app.current_read_workspace_id,
 * migration 0071). Kept apart from the ingest context so an ingest-only key can never read.
 */
export async function withApiKeyReadContext<T>(
  workspaceId: string,
  fn: (tx: ReadTx) => Promise<T>,
  client: PrismaClient = dashboardReadPrisma(),
): Promise<T> {
  return inReadTransaction(client, workspaceId, fn, "app.current_read_workspace_id");
}
