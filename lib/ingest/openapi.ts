import { registerOperation } from "@/lib/openapi/registry";
import { ingestRequestSchema, ingestResponseSchema, MAX_BATCH_ITEMS, MAX_BODY_BYTES, problemSchema } from "./schemas";

/** The ingest endpoints' entries in the OpenAPI document, from the schemas that validate them. */
const errors = {
  400: { description: "Malformed envelope (not JSON, no batch, bad Idempotency-Key).", schema: problemSchema },
  401: { description: "Missing, unknown or revoked API key.", schema: problemSchema },
  403: { description: "The key lacks the ingest scope.", schema: problemSchema },
  413: {
    description: `Body over ${MAX_BODY_BYTES} bytes or more than ${MAX_BATCH_ITEMS} items.`,
    schema: problemSchema,
  },
  429: {
    description: "Over the key's rate limit.",
    schema: problemSchema,
    headers: { "Retry-After": "Seconds to wait." },
  },
  503: {
    description: "Database briefly unavailable; retry the same request.",
    schema: problemSchema,
    headers: { "Retry-After": "Seconds to wait." },
  },
};

registerOperation({
  method: "post",
  path: "/api/v1/ingest",
  operationId: "ingestBatch",
  summary: "Send a batch of activity, run and LLM-call events",
  description:
    "Each item is validated on its own: valid items are stored even when others fail (207). A repeated item id in the " +
    "workspace is acknowledged as a duplicate and ignored. Send an Idempotency-Key header to have a retried request " +
    "replay the first answer for 24 hours.",
  tags: ["ingest"],
  parameters: [
    {
      name: "Idempotency-Key",
      in: "header",
      description: "1–255 printable ASCII characters; the first answer is replayed for 24 h.",
      schema: ingestResponseSchema.shape.successes.element.shape.id,
    },
  ],
  requestBody: { schema: ingestRequestSchema },
  responses: {
    207: { description: "Per-item results.", schema: ingestResponseSchema },
    ...errors,
    422: { description: "Idempotency-Key reused with a different body.", schema: problemSchema },
  },
});

registerOperation({
  method: "post",
  path: "/api/v1/otel/v1/traces",
  operationId: "otlpTraces",
  summary: "OTLP/HTTP trace export (GenAI semantic conventions)",
  description:
    "An ExportTraceServiceRequest as application/x-protobuf or application/json. invoke_agent spans become runs; spans " +
    "with gen_ai.request.model / gen_ai.response.model become LLM calls; user.id / enduser.id attribute the user. " +
    "Re-exported spans (same trace and span id) are ignored.",
  tags: ["ingest"],
  requestBody: { contentType: "application/x-protobuf", extraContentTypes: ["application/json"] },
  responses: { 200: { description: "ExportTraceServiceResponse (partialSuccess lists rejected spans)." }, ...errors },
});
