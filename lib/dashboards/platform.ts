import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { withUserContext, withUserReadContext } from "@/lib/db/context";

const rowSchema = z.object({
  workspace_id: z.string(),
  slug: z.string(),
  name: z.string(),
  timezone: z.string(),
  members: z.number(),
  agents: z.number(),
  runs: z.number(),
  credits: z.number(),
  cost_usd: z.number(),
  active_users: z.number(),
});
export type PlatformRow = z.infer<typeof rowSchema>;

/** Whether the account is a platform admin (read in its own RLS context). */
export async function isPlatformAdmin(accountId: string, db?: PrismaClient): Promise<boolean> {
  const rows = await withUserContext(
    accountId,
    (tx) =>
      tx.$queryRaw<
        { admin: boolean }[]
      >`SELECT coalesce((SELECT is_platform_admin FROM public.accounts WHERE id = ${accountId}::uuid), false) AS admin`,
    db,
  );
  return rows[0]?.admin ?? false;
}

/**
 * Every workspace side by side over local days from..to (each workspace's own days), from the
 * rollups: runs and credits (run_daily_totals), LLM cost (llm_usage_daily_totals) — the tables the
 * catalogue's runs/credits/cost_usd read — and distinct active users (user_daily_activity); members
 * and agents are current counts. Each side is aggregated apart and joined 1:1 on the workspace, so
 * no sum is multiplied by another side's rows (spec defect 4). Row-level security shows a platform
 * admin every workspace, anyone else only their own.
 *
 * Why the daily totals: the hourly dimension tables this read before hold a row per local hour and
 * agent/model/status, so a month of 20 busy workspaces meant summing hundreds of thousands of rows
 * (the platform page took 1.6 s at 10M runs). The daily totals (0110) hold one row per
 * workspace-local day: ~30 per workspace for a month, the same rows the catalogue's totals read.
 */
export async function platformSummary(
  accountId: string,
  from: string,
  to: string,
  db?: PrismaClient,
): Promise<PlatformRow[]> {
  const rows = await withUserReadContext(
    accountId,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH runs AS (
        SELECT workspace_id, sum(runs) AS runs, sum(credits) AS credits
        FROM analytics.run_daily_totals WHERE day BETWEEN ${from}::date AND ${to}::date GROUP BY workspace_id
      ), llm AS (
        SELECT workspace_id, sum(cost_usd) AS cost_usd
        FROM analytics.llm_usage_daily_totals WHERE day BETWEEN ${from}::date AND ${to}::date GROUP BY workspace_id
      )
      SELECT w.id::text AS workspace_id, w.slug, w.name, w.timezone,
             coalesce((SELECT count(*) FROM public.workspace_members m WHERE m.workspace_id = w.id), 0)::float8 AS members,
             coalesce((SELECT count(*) FROM public.agents a WHERE a.workspace_id = w.id), 0)::float8 AS agents,
             coalesce(runs.runs, 0)::float8 AS runs,
             coalesce(runs.credits, 0)::float8 AS credits,
             coalesce(llm.cost_usd, 0)::float8 AS cost_usd,
             coalesce((SELECT count(DISTINCT d.user_id) FROM analytics.user_daily_activity d
                        WHERE d.workspace_id = w.id AND d.activity_date BETWEEN ${from}::date AND ${to}::date), 0)::float8 AS active_users
      FROM public.workspaces w
      LEFT JOIN runs ON runs.workspace_id = w.id
      LEFT JOIN llm ON llm.workspace_id = w.id
      ORDER BY runs DESC, w.name`,
    db,
  );
  return z.array(rowSchema).parse(rows);
}
