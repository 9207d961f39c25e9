import { appPrisma } from "@/lib/db/prisma";
import { handleOtelTracesRequest } from "@/lib/ingest/otel";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  return handleOtelTracesRequest(request, { db: appPrisma() });
}
