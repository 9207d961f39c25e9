import type { PrismaClient } from "@/lib/generated/prisma/client";
import { bearerToken, verifyApiKey, type ApiKeyScope, type VerifiedApiKey } from "@/lib/api-keys/keys";
import { MAX_BODY_BYTES } from "./schemas";

/** Shared by the batch API and the OTLP endpoint: auth, body limits, rate limits, error answers. */

export type IngestConfig = {
  /** Token bucket per key, in events: sustained rate and burst (INGEST_RATE_LIMIT_PER_SECOND / _BURST). */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  maxBodyBytes: number;
};

export function ingestConfigFromEnv(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const positive = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number (got "${raw}").`);
    return value;
  };
  return {
    rateLimitPerSecond: positive("INGEST_RATE_LIMIT_PER_SECOND", 200_000),
    rateLimitBurst: positive("INGEST_RATE_LIMIT_BURST", 400_000),
    maxBodyBytes: MAX_BODY_BYTES,
  };
}

export function problem(
  status: number,
  error: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ error, message }, { status, headers });
}

/** 401 without a valid key, 403 when the key lacks the scope; else the key. */
export async function authenticate(
  request: Request,
  db: PrismaClient,
  scope: ApiKeyScope,
): Promise<{ key: VerifiedApiKey } | { response: Response }> {
  const token = bearerToken(request.headers.get("authorization"));
  if (!token) {
    return {
      response: problem(401, "unauthorized", "Send an API key as 'Authorization: Bearer <key>'.", {
        "WWW-Authenticate": 'Bearer realm="pulseboard"',
      }),
    };
  }
  const key = await verifyApiKey(db, token);
  if (!key) {
    return {
      response: problem(401, "unauthorized", "The API key is unknown or revoked.", {
        "WWW-Authenticate": 'Bearer realm="pulseboard", error="invalid_token"',
      }),
    };
  }
  if (!key.scopes.includes(scope)) {
    return { response: problem(403, "forbidden", `This API key lacks the '${scope}' scope.`) };
  }
  return { key };
}

/**
 * Reads the body, refusing with 413 before anything is parsed: first from Content-Length, then
 * while streaming (a missing or lying Content-Length cannot get more than the limit into memory).
 */
export async function readLimitedBody(
  request: Request,
  maxBytes: number,
): Promise<{ bytes: Uint8Array } | { response: Response }> {
  const tooLarge = () =>
    problem(413, "payload_too_large", `The request body exceeds ${maxBytes} bytes; send smaller batches.`);
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBytes) return { response: tooLarge() };
  if (!request.body) return { bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return { response: tooLarge() };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes };
}

/** Takes `cost` events from the key's bucket; a 429 with Retry-After when it is empty. */
export async function takeRateLimitTokens(
  db: PrismaClient,
  key: VerifiedApiKey,
  cost: number,
  config: IngestConfig,
): Promise<Response | null> {
  const rate = key.rateLimitPerSecond ?? config.rateLimitPerSecond;
  const burst = key.rateLimitBurst ?? config.rateLimitBurst;
  const rows = await db.$queryRaw<{ wait: number }[]>`
    SELECT app.take_ingest_tokens(${key.apiKeyId}::uuid, ${cost}::float8, ${rate}::float8, ${burst}::float8) AS wait`;
  const wait = Number(rows[0]?.wait ?? 0);
  if (wait <= 0) return null;
  const retryAfter = Math.max(1, Math.ceil(wait));
  return problem(
    429,
    "rate_limited",
    `This API key is over its rate limit of ${rate} events/s (burst ${burst}); retry after ${retryAfter} s.`,
    { "Retry-After": String(retryAfter) },
  );
}
