import { appPrisma } from "@/lib/db/prisma";
import { handleIngestRequest } from "@/lib/ingest/handler";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  return handleIngestRequest(request, { db: appPrisma() });
}
