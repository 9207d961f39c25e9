import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { withUserContext, withWorkspaceContext } from "@/lib/db/context";
import type { Tx } from "@/lib/db/prisma";

/**
 * The model price table: global defaults (migration-seeded) plus a workspace's own versions.
 * A price is changed by adding a version with a later effective_from; history keeps the old one,
 * and calls are priced by the version in force at their own time (app.model_price_at).
 */

const usdPerMillion = z.coerce
  .number({ message: "must be a number" })
  .min(0, { message: "must not be negative" })
  .max(999_999, { message: "must be below 1,000,000" });

export const priceInputSchema = z.object({
  provider: z.string().trim().toLowerCase().min(1, { message: "Provider is required" }).max(100),
  model: z.string().trim().toLowerCase().min(1, { message: "Model is required" }).max(200),
  inputUsdPerMillion: usdPerMillion,
  outputUsdPerMillion: usdPerMillion,
  effectiveFrom: z.coerce.date({ message: "must be a date" }),
});
export type PriceInput = z.input<typeof priceInputSchema>;

export const repriceInputSchema = z.object({ from: z.coerce.date({ message: "must be a date" }) });

const priceRowSchema = z.object({
  id: z.string(),
  source: z.enum(["workspace", "default"]),
  provider: z.string(),
  model: z.string(),
  input_usd_per_million: z.string(),
  output_usd_per_million: z.string(),
  effective_from: z.date(),
  in_force: z.boolean(),
});
export type PriceRow = z.infer<typeof priceRowSchema>;

/** Every version, the workspace's and the defaults, with which one is in force now per model. */
export async function listPrices(tx: Tx | PrismaClient, workspaceId: string): Promise<PriceRow[]> {
  const rows = await tx.$queryRaw<unknown[]>`
    WITH versions AS (
      SELECT id::text, 'workspace' AS source, 0 AS source_rank, provider, model, input_usd_per_million,
             output_usd_per_million, effective_from
        FROM public.model_prices WHERE workspace_id = ${workspaceId}::uuid
      UNION ALL
      SELECT id::text, 'default', 1, provider, model, input_usd_per_million, output_usd_per_million, effective_from
        FROM public.default_model_prices
    ), ranked AS (
      SELECT v.*, row_number() OVER (PARTITION BY provider, model
                                     ORDER BY source_rank, (effective_from <= now()) DESC, effective_from DESC) AS pick
        FROM versions v
    )
    SELECT id, source, provider, model, input_usd_per_million::text, output_usd_per_million::text, effective_from,
           (pick = 1 AND effective_from <= now()) AS in_force
      FROM ranked
     ORDER BY provider, model, source_rank, effective_from DESC`;
  return z.array(priceRowSchema).parse(rows);
}

/** Adds a workspace price version (RLS: owners/admins of the workspace). */
export async function addPrice(
  tx: Tx,
  workspaceId: string,
  input: PriceInput,
  createdBy: string | null,
): Promise<void> {
  const price = priceInputSchema.parse(input);
  await tx.$executeRaw`
    INSERT INTO public.model_prices (workspace_id, provider, model, input_usd_per_million, output_usd_per_million,
                                     effective_from, created_by)
    VALUES (${workspaceId}::uuid, ${price.provider}, ${price.model}, ${price.inputUsdPerMillion}::numeric,
            ${price.outputUsdPerMillion}::numeric, ${price.effectiveFrom}::timestamptz, ${createdBy}::uuid)
    ON CONFLICT (workspace_id, model, provider, effective_from) DO UPDATE SET
      input_usd_per_million = EXCLUDED.input_usd_per_million, output_usd_per_million = EXCLUDED.output_usd_per_million`;
}

export async function deletePrice(tx: Tx, workspaceId: string, priceId: string): Promise<boolean> {
  return (
    (await tx.$executeRaw`DELETE FROM public.model_prices WHERE workspace_id = ${workspaceId}::uuid AND id = ${priceId}::uuid`) >
    0
  );
}

/**
 * Re-pricing rewrites raw calls, which only the workspace's write context may do; callers must
 * have checked prices.manage for the workspace first (the server action does).
 */
export async function countRepriceableCalls(db: PrismaClient, workspaceId: string, from: Date): Promise<number> {
  const rows = await withWorkspaceContext(
    workspaceId,
    (tx) =>
      tx.$queryRaw<
        { n: bigint }[]
      >`SELECT app.count_repriceable_llm_calls(${workspaceId}::uuid, ${from}::timestamptz) AS n`,
    db,
  );
  return Number(rows[0]?.n ?? 0);
}

export async function repriceCalls(db: PrismaClient, workspaceId: string, from: Date): Promise<number> {
  const rows = await withWorkspaceContext(
    workspaceId,
    (tx) =>
      tx.$queryRaw<{ n: bigint }[]>`SELECT app.reprice_llm_calls(${workspaceId}::uuid, ${from}::timestamptz) AS n`,
    db,
  );
  return Number(rows[0]?.n ?? 0);
}

/** For pages: the list as the signed-in account sees it. */
export function listPricesForAccount(db: PrismaClient, accountId: string, workspaceId: string) {
  return withUserContext(accountId, (tx) => listPrices(tx, workspaceId), db);
}
