import { getSessionAccount } from "@/lib/auth/session";
import { appPrisma } from "@/lib/db/prisma";
import { dashboardReadPrisma } from "@/lib/db/replicas";
import { handleMetricsRequest } from "@/lib/metrics/api";

export const dynamic = "force-dynamic";

/** GET /api/v1/export/metrics — the same query as /api/v1/metrics, as a CSV download. */
export async function GET(request: Request): Promise<Response> {
  return handleMetricsRequest(
    request,
    {
      db: appPrisma(),
      readDb: dashboardReadPrisma(),
      sessionAccountId: async () => (await getSessionAccount())?.id ?? null,
    },
    "csv",
  );
}
