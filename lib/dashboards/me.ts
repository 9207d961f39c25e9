import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { withUserReadContext } from "@/lib/db/context";
import { dashboardRange, type SearchParams } from "./range";
import type { DashboardScope } from "./scope";

const linkedSchema = z.object({
  user_id: z.string(),
  workspace_id: z.string(),
  slug: z.string(),
  name: z.string(),
  timezone: z.string(),
});
export type LinkedUsage = z.infer<typeof linkedSchema>;

/** The tracked users linked to this account (one per workspace where the platform knows them). */
export async function linkedTrackedUsers(accountId: string, db?: PrismaClient): Promise<LinkedUsage[]> {
  const rows = await withUserReadContext(
    accountId,
    (tx) => tx.$queryRaw<unknown[]>`
      SELECT u.id::text AS user_id, w.id::text AS workspace_id, w.slug, w.name, w.timezone
      FROM public.users u JOIN public.workspaces w ON w.id = u.workspace_id
      WHERE u.account_id = ${accountId}::uuid
      ORDER BY w.name`,
    db,
  );
  return z.array(linkedSchema).parse(rows);
}

/**
 * "My usage": a dashboard scope pinned to the person's own tracked user. Row-level security lets
 * them read their own per-user rollups even in workspaces they are not a member of.
 */
export function myUsageScope(
  accountId: string,
  linked: LinkedUsage,
  params: SearchParams,
  db?: PrismaClient,
): DashboardScope {
  const range = dashboardRange(params, linked.timezone);
  // Per-user rollups are daily: an hourly view of one person is not kept.
  if (range.granularity === "hour") range.granularity = "day";
  return {
    accountId,
    workspace: { id: linked.workspace_id, slug: linked.slug, name: linked.name, timezone: linked.timezone },
    range,
    filters: { userId: linked.user_id },
    canSeeAllUsers: false,
    canExportUsers: false,
    searchParams: params,
    db,
  };
}
