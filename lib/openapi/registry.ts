import { z } from "zod";

/**
 * An OpenAPI 3.1 document built from the same zod schemas that validate requests (zod 4's
 * z.toJSONSchema emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is). Features register
 * their operations with `registerOperation` at module load; /api/v1/openapi.json serves
 * `buildOpenApiDocument()`.
 */

export type OpenApiResponse = { description: string; schema?: z.ZodType; headers?: Record<string, string> };

export type OpenApiOperation = {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string; // OpenAPI style: /api/v1/metrics/{metric}
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Defaults to the bearer API key. */
  security?: "apiKey" | "none";
  parameters?: {
    name: string;
    in: "path" | "query" | "header";
    required?: boolean;
    description?: string;
    schema: z.ZodType;
  }[];
  requestBody?: { contentType?: string; schema?: z.ZodType; description?: string; extraContentTypes?: string[] };
  responses: Record<number, OpenApiResponse>;
};

const operations = new Map<string, OpenApiOperation>();

export function registerOperation(operation: OpenApiOperation): void {
  operations.set(`${operation.method} ${operation.path}`, operation);
}

export function registeredOperations(): OpenApiOperation[] {
  return [...operations.values()];
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  // "input": what a client sends (before transforms/defaults); unrepresentable parts become {}.
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

export function buildOpenApiDocument(info: { title?: string; version?: string; serverUrl?: string } = {}) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of [...operations.values()].sort((a, b) => a.path.localeCompare(b.path))) {
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([name, description]) => [
                  name,
                  { description, schema: { type: "string" } },
                ]),
              ),
            }
          : {}),
        ...(response.schema ? { content: { "application/json": { schema: jsonSchema(response.schema) } } } : {}),
      };
    }
    const requestBody = op.requestBody
      ? {
          required: true,
          description: op.requestBody.description,
          content: {
            [op.requestBody.contentType ?? "application/json"]: op.requestBody.schema
              ? { schema: jsonSchema(op.requestBody.schema) }
              : {},
            ...Object.fromEntries((op.requestBody.extraContentTypes ?? []).map((type) => [type, {}])),
          },
        }
      : undefined;
    paths[op.path] ??= {};
    paths[op.path][op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.tags ? { tags: op.tags } : {}),
      security: op.security === "none" ? [] : [{ apiKey: [] }],
      ...(op.parameters
        ? {
            parameters: op.parameters.map((p) => ({
              name: p.name,
              in: p.in,
              required: p.in === "path" ? true : (p.required ?? false),
              ...(p.description ? { description: p.description } : {}),
              schema: jsonSchema(p.schema),
            })),
          }
        : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title ?? "Pulseboard API", version: info.version ?? "1" },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    components: {
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description: "A workspace API key (Settings → API keys): Authorization: Bearer pb_…",
        },
      },
    },
    paths,
  };
}
