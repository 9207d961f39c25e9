import { createHash } from "node:crypto";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { withWorkspaceContext } from "@/lib/db/context";
import type { Tx } from "@/lib/db/prisma";
import { classifyDbFailure, dbMessageOf } from "./db-errors";
import {
  describeIssues,
  ingestItemSchema,
  ingestResponseSchema,
  type IngestError,
  type IngestResponse,
  type IngestSuccess,
} from "./schemas";
import { writeItems, type IndexedItem } from "./write";

export type IngestHooks = {
  /** Test seam: runs inside the write transaction just before it commits. */
  beforeCommit?: (tx: Tx, attempt: number) => Promise<void>;
};

export type ProcessOptions = {
  db: PrismaClient;
  workspaceId: string;
  apiKeyId: string;
  /** Attempts for transient failures (deadlock, lost connection) before answering 503. */
  maxAttempts?: number;
  idempotency?: { key: string; requestSha256: Buffer } | null;
  hooks?: IngestHooks;
};

export type ProcessResult = { status: number; body: IngestResponse; replayed: boolean };

/** The database could not be reached or kept failing transiently: answer 503, the client retries. */
export class IngestUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`database unavailable: ${dbMessageOf(cause)}`, { cause });
  }
}

/** An Idempotency-Key reused with a different body. */
export class IdempotencyMismatchError extends Error {}

/**
 * Validates each raw item, then writes the valid ones of the batch in one transaction. If the
 * database rejects a value the schema let through, the batch is split in halves and retried, so
 * exactly the offending items are reported and every other item is still stored; each stored part
 * lands whole (its rows, its event ids and its dirty hours commit together).
 */
export async function processBatch(rawItems: unknown[], options: ProcessOptions): Promise<ProcessResult> {
  const successes: IngestSuccess[] = [];
  const errors: IngestError[] = [];
  const valid: IndexedItem[] = [];
  const seenIds = new Set<string>();
  rawItems.forEach((raw, index) => {
    const parsed = ingestItemSchema.safeParse(raw);
    if (!parsed.success) {
      errors.push({ id: rawIdOf(raw), index, status: 400, message: describeIssues(parsed.error) });
      return;
    }
    // The same id twice in one batch: the first is the event, the rest are acknowledged duplicates.
    if (seenIds.has(parsed.data.id)) {
      successes.push({ id: parsed.data.id, index, status: "duplicate" });
      return;
    }
    seenIds.add(parsed.data.id);
    valid.push({ index, item: parsed.data });
  });

  const finish = (written: Written) => {
    for (const { index, item } of valid) {
      const rejected = written.rejected.get(index);
      if (rejected) errors.push({ id: item.id, index, status: 400, message: rejected });
      else successes.push({ id: item.id, index, status: written.created.has(index) ? "created" : "duplicate" });
    }
    successes.sort((a, b) => a.index - b.index);
    errors.sort((a, b) => a.index - b.index);
    return ingestResponseSchema.parse({ successes, errors });
  };

  const idempotency = options.idempotency ?? null;
  let result: ProcessResult | null = null;
  try {
    result = await transaction(options, async (tx, attempt) => {
      if (idempotency) {
        const replay = await lookUpIdempotentAnswer(tx, options, idempotency);
        if (replay) return replay;
      }
      const outcome = await writeItems(tx, options.workspaceId, valid);
      const body = finish({ created: new Set(outcome.created), rejected: new Map() });
      if (idempotency) await storeIdempotentAnswer(tx, options, idempotency, 207, body);
      await options.hooks?.beforeCommit?.(tx, attempt);
      return { status: 207, body, replayed: false };
    });
  } catch (error) {
    if (classifyDbFailure(error) !== "data") throw error;
  }
  if (result) return result;

  // Some value was refused by the database: isolate it.
  const written = await writeIsolating(options, valid);
  const body = finish(written);
  if (idempotency) {
    await transaction(options, (tx) => storeIdempotentAnswer(tx, options, idempotency, 207, body));
  }
  return { status: 207, body, replayed: false };
}

type Written = { created: Set<number>; rejected: Map<number, string> };

async function writeIsolating(options: ProcessOptions, items: IndexedItem[]): Promise<Written> {
  const written: Written = { created: new Set(), rejected: new Map() };
  const attempt = async (part: IndexedItem[]): Promise<void> => {
    if (part.length === 0) return;
    try {
      const outcome = await transaction(options, (tx) => writeItems(tx, options.workspaceId, part));
      for (const index of outcome.created) written.created.add(index);
    } catch (error) {
      if (classifyDbFailure(error) !== "data") throw error;
      if (part.length === 1) {
        written.rejected.set(part[0].index, `rejected by the database: ${dbMessageOf(error)}`);
        return;
      }
      const middle = Math.ceil(part.length / 2);
      await attempt(part.slice(0, middle));
      await attempt(part.slice(middle));
    }
  };
  await attempt(items);
  return written;
}

/** One workspace-context transaction, retried on deadlocks and lost connections. */
async function transaction<T>(options: ProcessOptions, fn: (tx: Tx, attempt: number) => Promise<T>): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await withWorkspaceContext(options.workspaceId, (tx) => fn(tx, attempt), options.db);
    } catch (error) {
      if (classifyDbFailure(error) !== "transient") throw error;
      if (attempt >= maxAttempts) throw new IngestUnavailableError(error);
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
    }
  }
}

async function lookUpIdempotentAnswer(
  tx: Tx,
  options: ProcessOptions,
  idempotency: { key: string; requestSha256: Buffer },
): Promise<ProcessResult | null> {
  // Concurrent requests with one key queue here, so the second replays the first's answer.
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`${options.apiKeyId}:${idempotency.key}`}, 0))`;
  const rows = await tx.$queryRaw<{ request_sha256: Buffer | Uint8Array; status_code: number; response: unknown }[]>`
    SELECT request_sha256, status_code, response FROM public.ingest_idempotency_keys
     WHERE workspace_id = ${options.workspaceId}::uuid AND api_key_id = ${options.apiKeyId}::uuid
       AND idempotency_key = ${idempotency.key} AND created_at > now() - interval '24 hours'`;
  const row = rows[0];
  if (!row) return null;
  if (!Buffer.from(row.request_sha256).equals(idempotency.requestSha256)) {
    throw new IdempotencyMismatchError(
      "This Idempotency-Key was already used with a different request body in the last 24 hours; use a new key.",
    );
  }
  return { status: row.status_code, body: ingestResponseSchema.parse(row.response), replayed: true };
}

async function storeIdempotentAnswer(
  tx: Tx,
  options: ProcessOptions,
  idempotency: { key: string; requestSha256: Buffer },
  status: number,
  body: IngestResponse,
) {
  await tx.$executeRaw`
    INSERT INTO public.ingest_idempotency_keys (workspace_id, api_key_id, idempotency_key, request_sha256, status_code, response)
    VALUES (${options.workspaceId}::uuid, ${options.apiKeyId}::uuid, ${idempotency.key}, ${idempotency.requestSha256}::bytea,
            ${status}, ${JSON.stringify(body)}::jsonb)
    ON CONFLICT (workspace_id, api_key_id, idempotency_key) DO UPDATE SET
      request_sha256 = EXCLUDED.request_sha256, status_code = EXCLUDED.status_code,
      response = EXCLUDED.response, created_at = now()`;
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash("sha256").update(data).digest();
}

function rawIdOf(raw: unknown): string | null {
  if (raw !== null && typeof raw === "object" && "id" in raw) {
    const id = (raw as { id: unknown }).id;
    if (typeof id === "string") return id.slice(0, 255);
  }
  return null;
}
