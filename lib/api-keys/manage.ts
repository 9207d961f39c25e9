import { z } from "zod";
import type { WorkspaceAccess } from "@/lib/access/authorize";
import { recordAuditEvent } from "@/lib/accounts/audit";
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

export async function createKeyFor(
  access: WorkspaceAccess,
  form: FormData,
  db: PrismaClient = appPrisma(),
  ip: string | null = null,
) {
  const input = parseCreateKeyForm(form);
  return withUserContext(
    access.account.id,
    async (tx) => {
      const created = await createApiKey(tx, access.workspace.id, input, access.account.id);
      // Audited in the same transaction: no key exists without its audit row.
      await recordAuditEvent(tx, {
        workspaceId: access.workspace.id,
        action: "api_key.created",
        target: { type: "api_key", id: created.summary.id },
        details: { name: created.summary.name, prefix: created.summary.prefix, scopes: created.summary.scopes },
        ip,
      });
      return created;
    },
    db,
  );
}

export const revokeKeyFormSchema = z.object({ keyId: z.uuid({ message: "Unknown key" }) });

export async function revokeKeyFor(
  access: WorkspaceAccess,
  form: FormData,
  db: PrismaClient = appPrisma(),
  ip: string | null = null,
): Promise<boolean> {
  const { keyId } = revokeKeyFormSchema.parse({ keyId: form.get("keyId") });
  return withUserContext(
    access.account.id,
    async (tx) => {
      const revoked = await revokeApiKey(tx, access.workspace.id, keyId);
      if (revoked) {
        await recordAuditEvent(tx, {
          workspaceId: access.workspace.id,
          action: "api_key.revoked",
          target: { type: "api_key", id: keyId },
          ip,
        });
      }
      return revoked;
    },
    db,
  );
}

export async function listKeysFor(access: WorkspaceAccess, db: PrismaClient = appPrisma()): Promise<ApiKeySummary[]> {
  return withUserContext(access.account.id, (tx) => listApiKeys(tx, access.workspace.id), db);
}
