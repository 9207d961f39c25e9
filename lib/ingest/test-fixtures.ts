import type pg from "pg";
import { generateApiKey, type ApiKeyScope } from "@/lib/api-keys/keys";

/** Test fixtures built with the owner pool (the tests' stand-in for the admin CLI). */
export async function createWorkspace(owner: pg.Pool, slug: string): Promise<string> {
  const { rows } = await owner.query<{ id: string }>(
    "INSERT INTO public.workspaces (slug, name) VALUES ($1, $1) RETURNING id",
    [slug],
  );
  return rows[0].id;
}

export async function createKey(
  owner: pg.Pool,
  workspaceId: string,
  scopes: ApiKeyScope[] = ["ingest", "read"],
  limits: { perSecond?: number; burst?: number } = {},
): Promise<string> {
  const generated = generateApiKey();
  await owner.query(
    `INSERT INTO public.api_keys (workspace_id, name, prefix, secret_sha256, scopes, rate_limit_per_second, rate_limit_burst)
     VALUES ($1, 'test', $2, $3, $4, $5, $6)`,
    [workspaceId, generated.prefix, generated.secretSha256, scopes, limits.perSecond ?? null, limits.burst ?? null],
  );
  return generated.key;
}
