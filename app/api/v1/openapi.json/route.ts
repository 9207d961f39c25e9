import "@/lib/ingest/openapi";
import "@/lib/metrics/openapi";
import { buildOpenApiDocument } from "@/lib/openapi/registry";

export const dynamic = "force-static";

export function GET(): Response {
  return Response.json(buildOpenApiDocument());
}
