import { z } from "zod";
import type { WorkspaceAccess } from "@/lib/access/authorize";
import { withUserContext } from "@/lib/db/context";
import { appPrisma } from "@/lib/db/prisma";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { createApiKey, createApiKeyInputSchema, listApiKeys, revokeApiKey, type ApiKeySummary } from "./keys";

/**
 * What the API-keys settings page and its server actions do, once `authorizeWorkspace(slug,
 * "api_keys.manage")` has returned `access`. Row-level security checks the role again.
 */

/** Form fields: name, and one `scopes` entry per ticked box. */
export function parseCreateKeyForm(form: FormData) {
  return createApiKeyInputSchema.parse({ name: form.get("name"), scopes: form.getAll("scopes") });
}

export async function createKeyFor(access: WorkspaceAccess, form: FormData, db: PrismaClient = appPrisma()) {
  const input = parseCreateKeyForm(form);
  return withUserContext(
    access.account.id,
    (tx) => createApiKey(tx, access.workspace.id, input, access.account.id),
    db,
  );
}

export const revokeKeyFormSchema = z.object({ keyId: z.uuid({ message: "Unknown key" }) });

export async function revokeKeyFor(
  access: WorkspaceAccess,
  form: FormData,
  db: PrismaClient = appPrisma(),
): Promise<boolean> {
  const { keyId } = revokeKeyFormSchema.parse({ keyId: form.get("keyId") });
  return withUserContext(access.account.id, (tx) => revokeApiKey(tx, access.workspace.id, keyId), db);
}

export async function listKeysFor(access: WorkspaceAccess, db: PrismaClient = appPrisma()): Promise<ApiKeySummary[]> {
  return withUserContext(access.account.id, (tx) => listApiKeys(tx, access.workspace.id), db);
}
