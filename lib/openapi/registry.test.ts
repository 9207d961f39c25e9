import { describe, expect, it } from "vitest";
import "@/lib/ingest/openapi";
import { ingestItemSchema } from "@/lib/ingest/schemas";
import { GET } from "@/app/api/v1/openapi.json/route";

describe("OpenAPI document", () => {
  it("is OpenAPI 3.1 with the ingest operations generated from the validating schemas", async () => {
    const doc = (await GET().json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: Record<
                string,
                {
                  schema?: {
                    properties?: Record<
                      string,
                      { maxItems?: number; items?: { oneOf?: unknown[]; anyOf?: unknown[] } }
                    >;
                  };
                }
              >;
            };
            responses: Record<string, unknown>;
          }
        >
      >;
    };
    expect(doc.openapi).toBe("3.1.0");
    const ingest = doc.paths["/api/v1/ingest"].post;
    expect(Object.keys(ingest.responses).sort()).toEqual(["207", "400", "401", "403", "413", "422", "429", "503"]);
    const batch = ingest.requestBody?.content["application/json"].schema?.properties?.batch;
    expect(batch?.maxItems).toBe(1000);
    const variants = batch?.items?.oneOf ?? batch?.items?.anyOf ?? [];
    expect(variants).toHaveLength(3);
    expect(JSON.stringify(variants)).toContain('"page_view"');
    expect(doc.paths["/api/v1/otel/v1/traces"].post).toBeDefined();
    // The schema the document shows is the schema that validates.
    expect(
      ingestItemSchema.safeParse({
        id: "1",
        type: "activity",
        timestamp: "2025-01-01T00:00:00Z",
        body: { userId: "u", eventType: "login" },
      }).success,
    ).toBe(true);
  });
});
