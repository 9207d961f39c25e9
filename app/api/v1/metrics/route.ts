import { getSessionAccount } from "@/lib/auth/session";
import { appPrisma } from "@/lib/db/prisma";
import { dashboardReadPrisma } from "@/lib/db/replicas";
import { handleMetricsRequest } from "@/lib/metrics/api";

export const dynamic = "force-dynamic";

/** GET /api/v1/metrics — see lib/metrics/openapi.ts for the contract. */
export async function GET(request: Request): Promise<Response> {
  return handleMetricsRequest(request, {
    db: appPrisma(),
    readDb: dashboardReadPrisma(),
    sessionAccountId: async () => (await getSessionAccount())?.id ?? null,
  });
}
