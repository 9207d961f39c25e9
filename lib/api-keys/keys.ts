import { createHash, randomBytes } from "node:crypto";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { poolOf, type Tx } from "@/lib/db/prisma";
import { pgReadTx } from "@/lib/db/read-tx";
import { z } from "zod";

/**
 * API keys: `pb_<8 hex>_<43 base64url>`. The first part is the displayed prefix; the whole key is
 * hashed with sha256 (right for a 256-bit random secret: nothing to brute-force, and cheap enough
 * to check on every request). The key itself exists only in the answer that creates it.
 */
export const API_KEY_SCOPES = ["ingest", "read"] as const;
export const apiKeyScopeSchema = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof apiKeyScopeSchema>;

const API_KEY_PATTERN = /^pb_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/;

export const createApiKeyInputSchema = z.object({
  name: z.string().trim().min(1, { message: "Give the key a name" }).max(100),
  scopes: z
    .array(apiKeyScopeSchema)
    .min(1, { message: "Pick at least one scope" })
    .transform((s) => [...new Set(s)].sort()),
});
export type CreateApiKeyInput = z.input<typeof createApiKeyInputSchema>;

export type GeneratedApiKey = { key: string; prefix: string; secretSha256: Buffer };

export function generateApiKey(): GeneratedApiKey {
  const prefix = `pb_${randomBytes(4).toString("hex")}`;
  const key = `${prefix}_${randomBytes(32).toString("base64url")}`;
  return { key, prefix, secretSha256: hashApiKey(key) };
}

export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

export type VerifiedApiKey = {
  apiKeyId: string;
  workspaceId: string;
  /** The key's workspace, read with the key (migration 0135): readers need its time zone and slug. */
  workspace: { id: string; slug: string; timezone: string };
  scopes: ApiKeyScope[];
  rateLimitPerSecond: number | null;
  rateLimitBurst: number | null;
};

/**
 * The key behind an `Authorization: Bearer` value, or null (malformed, unknown or revoked). Runs
 * without any RLS context, through the SECURITY DEFINER app.verify_api_key().
 */
export async function verifyApiKey(db: PrismaClient, presented: string): Promise<VerifiedApiKey | null> {
  if (!API_KEY_PATTERN.test(presented)) return null;
  // On the client's pg pool directly (lib/db/read-tx.ts): every API request starts here, and one
  // statement needs neither a transaction nor Prisma's query compiler.
  const pool = poolOf(db);
  const rows = await (pool ? pgReadTx(pool) : db).$queryRaw<
    {
      api_key_id: string;
      workspace_id: string;
      scopes: string[];
      rate_limit_per_second: number | null;
      rate_limit_burst: number | null;
      workspace_slug: string;
      workspace_timezone: string;
    }[]
  >`SELECT api_key_id, workspace_id, scopes, rate_limit_per_second, rate_limit_burst, workspace_slug, workspace_timezone
      FROM app.verify_api_key(${hashApiKey(presented)}::bytea)`;
  const row = rows[0];
  if (!row) return null;
  return {
    apiKeyId: row.api_key_id,
    workspaceId: row.workspace_id,
    workspace: { id: row.workspace_id, slug: row.workspace_slug, timezone: row.workspace_timezone },
    scopes: row.scopes.filter((s): s is ApiKeyScope => apiKeyScopeSchema.safeParse(s).success),
    rateLimitPerSecond: row.rate_limit_per_second,
    rateLimitBurst: row.rate_limit_burst,
  };
}

export function bearerToken(authorization: string | null): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1] : null;
}

export type ApiKeySummary = {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
};

/** Creates a key; `tx` must carry a context allowed to insert (an owner/admin, or the owner client). */
export async function createApiKey(
  tx: Tx | PrismaClient,
  workspaceId: string,
  input: CreateApiKeyInput,
  createdBy: string | null,
): Promise<{ key: string; summary: ApiKeySummary }> {
  const parsed = createApiKeyInputSchema.parse(input);
  const generated = generateApiKey();
  const rows = await tx.$queryRaw<
    {
      id: string;
      name: string;
      prefix: string;
      scopes: string[];
      created_at: Date;
      last_used_at: Date | null;
      revoked_at: Date | null;
    }[]
  >`INSERT INTO public.api_keys (workspace_id, name, prefix, secret_sha256, scopes, created_by)
    VALUES (${workspaceId}::uuid, ${parsed.name}, ${generated.prefix}, ${generated.secretSha256}::bytea,
            ${parsed.scopes}::text[], ${createdBy}::uuid)
    RETURNING id, name, prefix, scopes, created_at, last_used_at, revoked_at`;
  const row = rows[0];
  return { key: generated.key, summary: toSummary(row) };
}

export async function listApiKeys(tx: Tx | PrismaClient, workspaceId: string): Promise<ApiKeySummary[]> {
  const rows = await tx.$queryRaw<
    {
      id: string;
      name: string;
      prefix: string;
      scopes: string[];
      created_at: Date;
      last_used_at: Date | null;
      revoked_at: Date | null;
    }[]
  >`SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at
      FROM public.api_keys WHERE workspace_id = ${workspaceId}::uuid
     ORDER BY revoked_at IS NOT NULL, created_at DESC`;
  return rows.map(toSummary);
}

/** Revokes a key (idempotent). Returns false when no such key exists in the workspace. */
export async function revokeApiKey(tx: Tx | PrismaClient, workspaceId: string, apiKeyId: string): Promise<boolean> {
  const updated = await tx.$executeRaw`
    UPDATE public.api_keys SET revoked_at = coalesce(revoked_at, now())
     WHERE workspace_id = ${workspaceId}::uuid AND id = ${apiKeyId}::uuid`;
  return updated > 0;
}

function toSummary(row: {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}): ApiKeySummary {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
