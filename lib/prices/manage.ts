import { z } from "zod";
import type { WorkspaceAccess } from "@/lib/access/authorize";
import { withUserContext } from "@/lib/db/context";
import { appPrisma } from "@/lib/db/prisma";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import {
  addPrice,
  countRepriceableCalls,
  deletePrice,
  listPrices,
  priceInputSchema,
  repriceCalls,
  repriceInputSchema,
} from "./prices";

/**
 * The prices settings page's logic, after `authorizeWorkspace(slug, "prices.manage")` returned
 * `access` (reading the list needs only workspace.read).
 */

export function listPricesFor(access: WorkspaceAccess, db: PrismaClient = appPrisma()) {
  return withUserContext(access.account.id, (tx) => listPrices(tx, access.workspace.id), db);
}

export async function addPriceFor(access: WorkspaceAccess, form: FormData, db: PrismaClient = appPrisma()) {
  const input = priceInputSchema.parse({
    provider: form.get("provider"),
    model: form.get("model"),
    inputUsdPerMillion: form.get("inputUsdPerMillion"),
    outputUsdPerMillion: form.get("outputUsdPerMillion"),
    effectiveFrom: form.get("effectiveFrom"),
  });
  await withUserContext(access.account.id, (tx) => addPrice(tx, access.workspace.id, input, access.account.id), db);
  return input;
}

export async function deletePriceFor(access: WorkspaceAccess, form: FormData, db: PrismaClient = appPrisma()) {
  const { priceId } = z.object({ priceId: z.uuid() }).parse({ priceId: form.get("priceId") });
  return withUserContext(access.account.id, (tx) => deletePrice(tx, access.workspace.id, priceId), db);
}

/** Step one: how many calls a re-price from the date would change. Step two: do it. */
export async function repriceFor(access: WorkspaceAccess, form: FormData, db: PrismaClient = appPrisma()) {
  const { from } = repriceInputSchema.parse({ from: form.get("from") });
  const intent = z.enum(["count", "apply"]).parse(form.get("intent"));
  if (intent === "count")
    return { intent, from: from.toISOString(), calls: await countRepriceableCalls(db, access.workspace.id, from) };
  return { intent, from: from.toISOString(), calls: await repriceCalls(db, access.workspace.id, from) };
}
