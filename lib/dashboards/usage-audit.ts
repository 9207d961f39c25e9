import { headers } from "next/headers";
import type { WorkspaceAccess } from "@/lib/access/authorize";
import { clientIpFromHeaders, recordAuditEvent } from "@/lib/accounts/audit";
import { withUserContext } from "@/lib/db/context";

/**
 * Records that a person looked at one tracked user's usage (the usage page's drill-in). Written on
 * the primary in its own transaction: dashboards read in read-only transactions.
 */
export async function auditUsageView(access: WorkspaceAccess, trackedUserId: string): Promise<void> {
  const ip = clientIpFromHeaders(await headers());
  await withUserContext(access.account.id, (tx) =>
    recordAuditEvent(tx, {
      workspaceId: access.workspace.id,
      action: "usage.viewed_other_user",
      target: { type: "tracked_user", id: trackedUserId },
      ip,
    }),
  );
}
