import type { PrismaClient } from "@/lib/generated/prisma/client";
import { appPrisma, type Tx } from "./prisma";

/**
 * Runs `fn` in one transaction whose row-level-security context is the given account.
 * `set_config(..., true)` is transaction-local, so a pooled connection never carries one request's
 * identity into the next; with no context set, every policy reads nothing (fail closed).
 */
export async function withUserContext<T>(
  accountId: string,
  fn: (tx: Tx) => Promise<T>,
  client: PrismaClient = appPrisma(),
): Promise<T> {
  return client.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT set_config('app.current_user_id', ${accountId}, true)`;
    return fn(tx);
  });
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
  return client.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT set_config('app.current_workspace_id', ${workspaceId}, true)`;
    return fn(tx);
  });
}
