import type { PrismaClient } from "@/lib/generated/prisma/client";
import {
  authenticate,
  ingestConfigFromEnv,
  problem,
  readLimitedBody,
  takeRateLimitTokens,
  type IngestConfig,
} from "./http";
import { IdempotencyMismatchError, IngestUnavailableError, processBatch, sha256, type IngestHooks } from "./process";
import { describeIssues, ingestEnvelopeSchema, MAX_BATCH_ITEMS } from "./schemas";

export type IngestHandlerDeps = {
  db: PrismaClient;
  config?: Partial<IngestConfig>;
  maxAttempts?: number;
  hooks?: IngestHooks;
};

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * POST /api/v1/ingest. Order matters: authenticate (401/403) → size (413, before parsing) →
 * envelope (400) → rate limit (429) → items (207). The workspace comes from the key only.
 */
export async function handleIngestRequest(request: Request, deps: IngestHandlerDeps): Promise<Response> {
  const config = { ...ingestConfigFromEnv(), ...deps.config };
  const auth = await authenticate(request, deps.db, "ingest");
  if ("response" in auth) return auth.response;
  const { key } = auth;

  const idempotencyKey = request.headers.get("idempotency-key");
  if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    return problem(
      400,
      "invalid_idempotency_key",
      "Idempotency-Key must be 1–255 printable ASCII characters without spaces.",
    );
  }

  const body = await readLimitedBody(request, config.maxBodyBytes);
  if ("response" in body) return body.response;

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body.bytes));
  } catch (error) {
    const reason = error instanceof Error ? error.message : "unreadable";
    return problem(400, "invalid_json", `The body is not valid UTF-8 JSON (${reason}). Send {"batch": [...]}.`);
  }
  const envelope = ingestEnvelopeSchema.safeParse(json);
  if (!envelope.success) {
    return problem(
      400,
      "invalid_envelope",
      `${describeIssues(envelope.error)}. Expected {"batch": [{"id", "type", "timestamp", "body"}]}.`,
    );
  }
  const items = envelope.data.batch;
  if (items.length > MAX_BATCH_ITEMS) {
    return problem(
      413,
      "batch_too_large",
      `The batch holds ${items.length} items; at most ${MAX_BATCH_ITEMS} are allowed per request.`,
    );
  }

  const limited = await takeRateLimitTokens(deps.db, key, items.length, config);
  if (limited) return limited;

  try {
    const result = await processBatch(items, {
      db: deps.db,
      workspaceId: key.workspaceId,
      apiKeyId: key.apiKeyId,
      maxAttempts: deps.maxAttempts,
      idempotency: idempotencyKey ? { key: idempotencyKey, requestSha256: sha256(body.bytes) } : null,
      hooks: deps.hooks,
    });
    return Response.json(result.body, {
      status: result.status,
      headers: result.replayed ? { "Idempotent-Replayed": "true" } : {},
    });
  } catch (error) {
    if (error instanceof IdempotencyMismatchError) return problem(422, "idempotency_key_reused", error.message);
    if (error instanceof IngestUnavailableError) {
      return problem(
        503,
        "unavailable",
        "The database is briefly unavailable. Retry the same batch: items already stored are acknowledged as duplicates, never stored twice.",
        {
          "Retry-After": "1",
        },
      );
    }
    throw error;
  }
}
