import { gunzipSync } from "node:zlib";
import protobuf from "protobufjs";
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import {
  authenticate,
  ingestConfigFromEnv,
  problem,
  readLimitedBody,
  takeRateLimitTokens,
  type IngestConfig,
} from "./http";
import { IngestUnavailableError, processBatch, type IngestHooks } from "./process";
import { MAX_BATCH_ITEMS } from "./schemas";

/**
 * POST /api/v1/otel/v1/traces: OTLP/HTTP traces (protobuf or JSON) following the OpenTelemetry
 * GenAI semantic conventions. Spans become ingest items and go through the same validation and
 * writer as the batch API, with the span as the event id ("otel:<trace id>:<span id>"), so a
 * re-exported span is a duplicate.
 *
 *  - `gen_ai.operation.name = invoke_agent` → a run (agent from gen_ai.agent.id / .name);
 *  - any other span with gen_ai.request.model / gen_ai.response.model → an llm_call, linked to the
 *    nearest invoke_agent ancestor exported in the same request, else to the first ancestor missing
 *    from the request (linked when that span arrives as a run);
 *  - user from user.id / enduser.id (span, else resource); without one, the user "anonymous".
 */

// The subset of opentelemetry/proto/collector/trace/v1 that carries what we read.
const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
                ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;
const root = protobuf.parse(OTLP_PROTO, { keepCase: false }).root;
const ExportRequest = root.lookupType("otlp.ExportTraceServiceRequest");
const ExportResponse = root.lookupType("otlp.ExportTraceServiceResponse");

// The OTLP/JSON shape (also what protobuf decodes to, after ids are turned into hex).
type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: unknown;
  bytesValue?: string;
};
const anyValueSchema: z.ZodType<AnyValue> = z.lazy(() =>
  z.object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: z.union([z.string(), z.number()]).optional(),
    doubleValue: z.number().optional(),
    arrayValue: z.object({ values: z.array(anyValueSchema).optional() }).optional(),
    kvlistValue: z.unknown().optional(),
    bytesValue: z.string().optional(),
  }),
);
const keyValueSchema = z.object({ key: z.string(), value: anyValueSchema.optional() });
const nanosSchema = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]).transform(String);
const spanSchema = z.object({
  traceId: z.string().regex(/^[0-9a-fA-F]{32}$/, { message: "must be 32 hex digits" }),
  spanId: z.string().regex(/^[0-9a-fA-F]{16}$/, { message: "must be 16 hex digits" }),
  parentSpanId: z.string().optional(),
  name: z.string().optional(),
  startTimeUnixNano: nanosSchema,
  endTimeUnixNano: nanosSchema.optional(),
  attributes: z.array(keyValueSchema).optional(),
  status: z.object({ code: z.union([z.number(), z.string()]).optional(), message: z.string().optional() }).optional(),
});
export const otlpTraceRequestSchema = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: z.object({ attributes: z.array(keyValueSchema).optional() }).optional(),
        scopeSpans: z.array(z.object({ spans: z.array(z.unknown()).optional() })).optional(),
      }),
    )
    .optional(),
});
type OtlpSpan = z.infer<typeof spanSchema>;

export type OtelHandlerDeps = {
  db: PrismaClient;
  config?: Partial<IngestConfig>;
  maxAttempts?: number;
  hooks?: IngestHooks;
};

export async function handleOtelTracesRequest(request: Request, deps: OtelHandlerDeps): Promise<Response> {
  const config = { ...ingestConfigFromEnv(), ...deps.config };
  const auth = await authenticate(request, deps.db, "ingest");
  if ("response" in auth) return auth.response;
  const body = await readLimitedBody(request, config.maxBodyBytes);
  if ("response" in body) return body.response;

  const contentType = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const isProtobuf = contentType === "application/x-protobuf" || contentType === "application/protobuf";
  if (!isProtobuf && contentType !== "application/json") {
    return problem(415, "unsupported_media_type", "Send OTLP as application/x-protobuf or application/json.");
  }
  let bytes = body.bytes;
  if ((request.headers.get("content-encoding") ?? "").toLowerCase() === "gzip") {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: config.maxBodyBytes });
    } catch {
      return problem(
        413,
        "payload_too_large",
        `The body is not valid gzip or inflates past ${config.maxBodyBytes} bytes.`,
      );
    }
  }

  let decoded: unknown;
  try {
    decoded = isProtobuf ? decodeProtobuf(bytes) : JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    return problem(
      400,
      "invalid_otlp",
      `The body is not a valid OTLP ExportTraceServiceRequest (${error instanceof Error ? error.message : "unreadable"}).`,
    );
  }
  const parsed = otlpTraceRequestSchema.safeParse(decoded);
  if (!parsed.success)
    return problem(400, "invalid_otlp", `The body is not an OTLP ExportTraceServiceRequest: ${parsed.error.message}`);

  const { items, rejected, messages } = spansToItems(parsed.data);
  if (items.length > MAX_BATCH_ITEMS * 10) {
    return problem(413, "batch_too_large", `At most ${MAX_BATCH_ITEMS * 10} GenAI spans per export.`);
  }
  let rejectedSpans = rejected;
  if (items.length > 0) {
    const limited = await takeRateLimitTokens(deps.db, auth.key, items.length, config);
    if (limited) return limited;
    try {
      const result = await processBatch(items, {
        db: deps.db,
        workspaceId: auth.key.workspaceId,
        apiKeyId: auth.key.apiKeyId,
        maxAttempts: deps.maxAttempts,
        hooks: deps.hooks,
      });
      rejectedSpans += result.body.errors.length;
      messages.push(...result.body.errors.map((e) => `${e.id}: ${e.message}`));
    } catch (error) {
      if (error instanceof IngestUnavailableError) {
        return problem(503, "unavailable", "The database is briefly unavailable; retry the export.", {
          "Retry-After": "1",
        });
      }
      throw error;
    }
  }
  const partialSuccess =
    rejectedSpans > 0 ? { rejectedSpans, errorMessage: messages.slice(0, 20).join("; ") } : undefined;
  if (isProtobuf) {
    const message = ExportResponse.fromObject(partialSuccess ? { partialSuccess } : {});
    return new Response(Buffer.from(ExportResponse.encode(message).finish()), {
      status: 200,
      headers: { "content-type": "application/x-protobuf" },
    });
  }
  return Response.json(
    partialSuccess ? { partialSuccess: { ...partialSuccess, rejectedSpans: String(rejectedSpans) } } : {},
  );
}

function decodeProtobuf(bytes: Uint8Array): unknown {
  const message = ExportRequest.decode(bytes);
  const object = ExportRequest.toObject(message, { longs: String, bytes: String, defaults: false, oneofs: false });
  // OTLP/JSON carries ids as hex; protobufjs gives base64.
  const toHex = (value: unknown) => (typeof value === "string" ? Buffer.from(value, "base64").toString("hex") : value);
  for (const resourceSpans of (object.resourceSpans ?? []) as {
    scopeSpans?: { spans?: Record<string, unknown>[] }[];
  }[]) {
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        span.traceId = toHex(span.traceId);
        span.spanId = toHex(span.spanId);
        if (span.parentSpanId !== undefined) span.parentSpanId = toHex(span.parentSpanId);
      }
    }
  }
  return object;
}

type Attributes = Map<string, string | number | boolean | string[]>;

function attributesOf(list: { key: string; value?: AnyValue }[] | undefined, into: Attributes = new Map()): Attributes {
  for (const { key, value } of list ?? []) {
    if (!value) continue;
    if (value.stringValue !== undefined) into.set(key, value.stringValue);
    else if (value.intValue !== undefined) into.set(key, Number(value.intValue));
    else if (value.doubleValue !== undefined) into.set(key, value.doubleValue);
    else if (value.boolValue !== undefined) into.set(key, value.boolValue);
    else if (value.arrayValue)
      into.set(
        key,
        (value.arrayValue.values ?? []).map((v) => String(v.stringValue ?? v.intValue ?? v.doubleValue ?? "")),
      );
  }
  return into;
}

const str = (attrs: Attributes, ...keys: string[]) => {
  for (const key of keys) {
    const value = attrs.get(key);
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
};
const num = (attrs: Attributes, key: string) => {
  const value = attrs.get(key);
  return typeof value === "number"
    ? value
    : typeof value === "string" && /^\d+$/.test(value)
      ? Number(value)
      : undefined;
};
const nanosToIso = (nanos: string) => new Date(Number(BigInt(nanos) / 1_000_000n)).toISOString();
const nanosToMs = (start: string, end: string) => Number((BigInt(end) - BigInt(start)) / 1_000_000n);

/** Maps spans to ingest items (raw: the batch validator checks them like any client's). */
export function spansToItems(request: z.infer<typeof otlpTraceRequestSchema>): {
  items: unknown[];
  rejected: number;
  messages: string[];
} {
  const spans: { span: OtlpSpan; attrs: Attributes; own: Attributes; resource: Attributes }[] = [];
  let rejected = 0;
  const messages: string[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resourceAttrs = attributesOf(resourceSpans.resource?.attributes);
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const raw of scope.spans ?? []) {
        const parsed = spanSchema.safeParse(raw);
        if (!parsed.success) {
          rejected++;
          messages.push(`span: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join(", ")}`);
          continue;
        }
        spans.push({
          span: parsed.data,
          attrs: attributesOf(parsed.data.attributes, new Map(resourceAttrs)),
          own: attributesOf(parsed.data.attributes),
          resource: resourceAttrs,
        });
      }
    }
  }
  const bySpanId = new Map(spans.map((s) => [s.span.spanId.toLowerCase(), s]));
  const isAgent = (attrs: Attributes) => attrs.get("gen_ai.operation.name") === "invoke_agent";
  const runIdOf = (span: OtlpSpan) => `otel:${span.traceId.toLowerCase()}:${span.spanId.toLowerCase()}`;
  const agentAncestor = (span: OtlpSpan) => {
    let parent = span.parentSpanId ? bySpanId.get(span.parentSpanId.toLowerCase()) : undefined;
    for (let depth = 0; parent && depth < 64; depth++) {
      if (isAgent(parent.attrs)) return parent;
      parent = parent.span.parentSpanId ? bySpanId.get(parent.span.parentSpanId.toLowerCase()) : undefined;
    }
    return undefined;
  };
  /**
   * The first ancestor that is not in this request, as a run id. A batch span processor exports a
   * model call when it ends, usually before its (longer) agent span, so the agent often arrives in a
   * later request; the call is then stored pointing at that ancestor and linked when a run with
   * that id arrives (app.ingest_write_batch, migration 0096). If the ancestor turns out not to be
   * an agent span, the call simply stays without a run.
   */
  const missingAncestorRunId = (span: OtlpSpan) => {
    let current = span;
    for (let depth = 0; depth < 64; depth++) {
      const parentId = current.parentSpanId?.toLowerCase();
      if (!parentId || /^0*$/.test(parentId)) return undefined;
      const parent = bySpanId.get(parentId);
      if (!parent) return `otel:${current.traceId.toLowerCase()}:${parentId}`;
      current = parent.span;
    }
    return undefined;
  };

  const items: unknown[] = [];
  for (const { span, attrs, own, resource } of spans) {
    const id = runIdOf(span);
    const timestamp = nanosToIso(span.startTimeUnixNano);
    const ended = span.endTimeUnixNano !== undefined && span.endTimeUnixNano !== "0";
    const failed = Number(span.status?.code ?? 0) === 2 || span.status?.code === "STATUS_CODE_ERROR";
    const agent = agentAncestor(span);
    // The span's own user, else its agent's, else the resource's.
    const userId =
      str(own, "user.id", "enduser.id") ??
      (agent ? str(agent.own, "user.id", "enduser.id") : undefined) ??
      str(resource, "user.id", "enduser.id") ??
      "anonymous";
    const userEmail = str(attrs, "user.email");
    if (isAgent(attrs)) {
      items.push({
        id,
        type: "run",
        timestamp,
        body: {
          runId: id,
          agentId: str(attrs, "gen_ai.agent.id", "gen_ai.agent.name") ?? "unknown-agent",
          agentName: str(attrs, "gen_ai.agent.name"),
          userId,
          userEmail,
          status: !ended ? "running" : failed ? "failed" : "completed",
          startedAt: timestamp,
          finishedAt: ended && span.endTimeUnixNano ? nanosToIso(span.endTimeUnixNano) : undefined,
          errorType: failed ? (str(attrs, "error.type") ?? "error") : undefined,
          errorMessage: failed ? span.status?.message || undefined : undefined,
        },
      });
      continue;
    }
    const model = str(attrs, "gen_ai.response.model", "gen_ai.request.model");
    if (!model) continue; // not a GenAI call: accepted, nothing to store
    const finishReasons = attrs.get("gen_ai.response.finish_reasons");
    items.push({
      id,
      type: "llm_call",
      timestamp,
      body: {
        runId: agent ? runIdOf(agent.span) : missingAncestorRunId(span),
        agentId:
          str(attrs, "gen_ai.agent.id") ??
          (agent ? str(agent.attrs, "gen_ai.agent.id", "gen_ai.agent.name") : undefined),
        userId,
        userEmail,
        provider: str(attrs, "gen_ai.provider.name", "gen_ai.system") ?? "unknown",
        model,
        promptTokens: num(attrs, "gen_ai.usage.input_tokens") ?? 0,
        completionTokens: num(attrs, "gen_ai.usage.output_tokens") ?? 0,
        latencyMs:
          ended && span.endTimeUnixNano ? Math.max(0, nanosToMs(span.startTimeUnixNano, span.endTimeUnixNano)) : 0,
        finishReason: Array.isArray(finishReasons) ? finishReasons[0] || undefined : undefined,
        success: !failed,
        errorType: failed ? (str(attrs, "error.type") ?? "error") : undefined,
      },
    });
  }
  return { items, rejected, messages };
}
