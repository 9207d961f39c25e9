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
