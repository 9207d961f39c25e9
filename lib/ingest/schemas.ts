import { z } from "zod";

/**
 * The ingest API's wire format. These schemas validate every request and generate the OpenAPI
 * document (lib/openapi), so the two cannot drift.
 */

export const MAX_BATCH_ITEMS = 1_000;
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
export const MAX_METADATA_BYTES = 8 * 1024;

// PostgreSQL text cannot hold NUL; reject it here with a message instead of failing in the database.
const noNul = (value: string) => !value.includes("\u0000");
const text = (min: number, max: number) =>
  z.string().min(min).max(max).refine(noNul, { message: "must not contain NUL (\\u0000) characters" });

/** The platform's own id of a user, agent or run. */
export const externalIdSchema = text(1, 255);

// Timestamps: ISO 8601 with a time zone (Z or ±hh:mm), not in the far future (a clock bug, not data).
const FUTURE_TOLERANCE_MS = 24 * 60 * 60 * 1000;
export const timestampSchema = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z" })
  .refine(
    (value) => {
      const ms = Date.parse(value);
      return Number.isFinite(ms) && ms >= Date.UTC(1970, 0, 1) && ms <= Date.now() + FUTURE_TOLERANCE_MS;
    },
    { message: "must be after 1970-01-01 and at most one day in the future" },
  );

const tokenCount = z.number().int().min(0).max(1_000_000_000);
const durationMs = z.number().int().min(0).max(2_147_483_647);
const costUsd = z.number().min(0).max(999_999);
const emailSchema = z
  .email({ message: "must be an e-mail address" })
  .max(320)
  .transform((email) => email.toLowerCase());

export const ACTIVITY_EVENT_TYPES = [
  "page_view",
  "agent_run",
  "login",
  "logout",
  "workspace_switch",
  "feature_use",
  "error",
  "api_call",
  "export",
  "report_view",
] as const;

export const RUN_STATUSES = ["running", "completed", "failed", "cancelled"] as const;
export const FINAL_RUN_STATUSES: readonly RunStatus[] = ["completed", "failed", "cancelled"];
export type RunStatus = (typeof RUN_STATUSES)[number];

const metadataSchema = z
  .record(z.string(), z.json())
  .refine((value) => Buffer.byteLength(JSON.stringify(value), "utf8") <= MAX_METADATA_BYTES, {
    message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
  })
  .refine((value) => !JSON.stringify(value).includes("\\u0000"), {
    message: "must not contain NUL (\\u0000) characters",
  });

export const activityBodySchema = z.strictObject({
  userId: externalIdSchema,
  userEmail: emailSchema.optional(),
  eventType: z.enum(ACTIVITY_EVENT_TYPES),
  eventName: text(1, 100).optional(),
  pagePath: text(1, 255).optional(),
  sessionId: z.uuid({ message: "must be a UUID" }).optional(),
  referrer: text(1, 2048).optional(),
  userAgent: text(1, 1024).optional(),
  ipAddress: z.union([z.ipv4(), z.ipv6()], { message: "must be an IPv4 or IPv6 address" }).optional(),
  metadata: metadataSchema.optional(),
});

export const runStageSchema = z.strictObject({
  name: text(1, 200),
  model: text(1, 200).optional(),
  promptTokens: tokenCount.optional(),
  completionTokens: tokenCount.optional(),
  costUsd: costUsd.optional(),
  durationMs: durationMs.optional(),
  status: z.enum(["running", "completed", "failed", "skipped"]).optional(),
});

export const runBodySchema = z
  .strictObject({
    runId: externalIdSchema,
    agentId: externalIdSchema,
    agentName: text(1, 200).optional(),
    userId: externalIdSchema,
    userEmail: emailSchema.optional(),
    status: z.enum(RUN_STATUSES),
    startedAt: timestampSchema,
    finishedAt: timestampSchema.optional(),
    creditsConsumed: z.number().min(0).max(99_999_999_999).optional(),
    errorType: text(1, 200).optional(),
    errorMessage: text(1, 10_000).optional(),
    rating: z.number().int().min(1).max(5).optional(),
    stages: z.array(runStageSchema).max(100).optional(),
  })
  .superRefine((run, ctx) => {
    if (run.status === "running" && run.finishedAt !== undefined) {
      ctx.addIssue({ code: "custom", path: ["finishedAt"], message: "must be absent while status is running" });
    }
    if (run.status !== "running" && run.finishedAt === undefined) {
      ctx.addIssue({ code: "custom", path: ["finishedAt"], message: `is required when status is ${run.status}` });
    }
    if (run.finishedAt !== undefined && Date.parse(run.finishedAt) < Date.parse(run.startedAt)) {
      ctx.addIssue({ code: "custom", path: ["finishedAt"], message: "must not be before startedAt" });
    }
  });

export const llmCallBodySchema = z.strictObject({
  runId: externalIdSchema.optional(),
  agentId: externalIdSchema.optional(),
  agentName: text(1, 200).optional(),
  userId: externalIdSchema,
  userEmail: emailSchema.optional(),
  provider: text(1, 100),
  model: text(1, 200),
  promptTokens: tokenCount,
  completionTokens: tokenCount,
  costUsd: costUsd.optional(),
  latencyMs: durationMs,
  timeToFirstTokenMs: durationMs.optional(),
  finishReason: text(1, 100).optional(),
  success: z.boolean().optional(),
  errorType: text(1, 200).optional(),
});

const itemBase = {
  id: text(1, 255),
  timestamp: timestampSchema,
};

export const ingestItemSchema = z.discriminatedUnion("type", [
  z.strictObject({ ...itemBase, type: z.literal("activity"), body: activityBodySchema }),
  z.strictObject({ ...itemBase, type: z.literal("run"), body: runBodySchema }),
  z.strictObject({ ...itemBase, type: z.literal("llm_call"), body: llmCallBodySchema }),
]);

/** The envelope only: items are validated one by one so one bad item does not sink the batch. */
export const ingestEnvelopeSchema = z.strictObject({
  batch: z.array(z.unknown()).min(1, { message: "must hold at least one item" }),
});

/** For the OpenAPI document: the envelope with typed items. */
export const ingestRequestSchema = z.strictObject({
  batch: z.array(ingestItemSchema).min(1).max(MAX_BATCH_ITEMS),
});

export const ingestSuccessSchema = z.object({
  id: z.string(),
  index: z.number().int(),
  status: z.enum(["created", "duplicate"]),
});
export const ingestErrorSchema = z.object({
  id: z.string().nullable(),
  index: z.number().int(),
  status: z.number().int(),
  message: z.string(),
});
export const ingestResponseSchema = z.object({
  successes: z.array(ingestSuccessSchema),
  errors: z.array(ingestErrorSchema),
});
export const problemSchema = z.object({ error: z.string(), message: z.string() });

export type IngestItem = z.infer<typeof ingestItemSchema>;
export type ActivityItem = Extract<IngestItem, { type: "activity" }>;
export type RunItem = Extract<IngestItem, { type: "run" }>;
export type LlmCallItem = Extract<IngestItem, { type: "llm_call" }>;
export type IngestResponse = z.infer<typeof ingestResponseSchema>;
export type IngestSuccess = z.infer<typeof ingestSuccessSchema>;
export type IngestError = z.infer<typeof ingestErrorSchema>;

/** "body.stages.0.model: must be ..." — which field is wrong and why, for every issue. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
