/**
 * Delivers due notifications. A deliverer claims rows (FOR UPDATE SKIP LOCKED + a claim deadline),
 * so two workers never send the same notification; each attempt is one row in
 * alert_delivery_attempts; failures are retried with exponential backoff and full jitter under the
 * same webhook-id; 410 Gone disables the channel; the history row's notifications_sent and
 * notification_status are recomputed in SQL from its notifications after every outcome.
 */
import { z } from "zod";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { alertPayloadSchema, type ChannelTarget, type DeliveryResult, sendToChannel } from "./channels";

export type BackoffOptions = {
  /** First retry delay; doubles every attempt. */
  baseMs: number;
  maxMs: number;
  /** After this many attempts a notification is failed for good. */
  maxAttempts: number;
};

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 8 };

/** Exponential backoff with jitter: uniformly in [½, 1] × base·2^(attempt−1), capped. */
export function retryDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

const claimedSchema = z.object({
  workspace_id: z.string(),
  id: z.string(),
  alert_rule_id: z.string(),
  alert_channel_id: z.string(),
  alert_history_id: z.string().nullable(),
  attempts: z.number().int(),
  payload: alertPayloadSchema,
  kind: z.enum(["webhook", "slack", "email"]),
  url: z.string().nullable(),
  email_recipients: z.array(z.string()),
  signing_secret: z.string().nullable(),
  is_enabled: z.boolean(),
});
type Claimed = z.infer<typeof claimedSchema>;

// Long enough for one send (10 s timeout) and its bookkeeping; a crashed deliverer's claim lapses.
const CLAIM_SECONDS = 60;

export function channelTarget(row: {
  kind: "webhook" | "slack" | "email";
  url: string | null;
  email_recipients: string[];
  signing_secret: string | null;
}): ChannelTarget | null {
  if (row.kind === "email")
    return row.email_recipients.length ? { kind: "email", recipients: row.email_recipients } : null;
  if (!row.url) return null;
  if (row.kind === "slack") return { kind: "slack", url: row.url };
  return row.signing_secret ? { kind: "webhook", url: row.url, signingSecret: row.signing_secret } : null;
}

/** The Standard Webhooks message id of a notification: stable across its retries. */
export function messageId(notificationId: string): string {
  return `msg_${notificationId.replaceAll("-", "")}`;
}

async function claim(db: PrismaClient, now: Date, limit: number): Promise<Claimed[]> {
  const rows = await db.$queryRaw`
    WITH due AS (
      SELECT workspace_id, id FROM analytics.alert_notifications
      WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ${now}
        AND (claimed_until IS NULL OR claimed_until < ${now})
      ORDER BY next_attempt_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE analytics.alert_notifications n
      SET claimed_until = ${now}::timestamptz + make_interval(secs => ${CLAIM_SECONDS}), attempts = n.attempts + 1
      FROM due WHERE n.workspace_id = due.workspace_id AND n.id = due.id
      RETURNING n.*
    )
    SELECT c.workspace_id::text, c.id::text, c.alert_rule_id::text, c.alert_channel_id::text,
      c.alert_history_id::text, c.attempts, c.payload, ch.kind, ch.url, ch.email_recipients, s.signing_secret, ch.is_enabled
    FROM claimed c
    JOIN analytics.alert_channels ch ON ch.workspace_id = c.workspace_id AND ch.id = c.alert_channel_id
    LEFT JOIN analytics.alert_channel_secrets s ON s.workspace_id = ch.workspace_id AND s.alert_channel_id = ch.id`;
  return z.array(claimedSchema).parse(rows);
}

/** Recomputes a history row's notification summary from its notifications (SQL aggregate). */
export async function refreshHistoryStatus(db: PrismaClient, workspaceId: string, historyId: string): Promise<void> {
  await db.$executeRaw`
    UPDATE analytics.alert_history h SET
      notifications_sent = agg.sent,
      notification_status = agg.status
    FROM (
      SELECT
        coalesce(jsonb_agg(jsonb_build_object('channel_id', n.alert_channel_id, 'kind', ch.kind, 'event', n.event,
          'status', n.status, 'attempts', n.attempts, 'error', n.last_error) ORDER BY ch.created_at, ch.id), '[]') AS sent,
        CASE
          WHEN count(*) = 0 THEN 'none'
          WHEN bool_and(n.status = 'suppressed') THEN 'suppressed'
          WHEN bool_or(n.status IN ('pending', 'retrying')) THEN 'pending'
          WHEN bool_and(n.status IN ('delivered', 'suppressed')) THEN 'sent'
          WHEN bool_or(n.status = 'delivered') THEN 'partial'
          ELSE 'failed'
        END AS status
      FROM analytics.alert_notifications n
      JOIN analytics.alert_channels ch ON ch.workspace_id = n.workspace_id AND ch.id = n.alert_channel_id
      WHERE n.workspace_id = ${workspaceId}::uuid AND n.alert_history_id = ${historyId}::uuid
    ) AS agg
    WHERE h.workspace_id = ${workspaceId}::uuid AND h.id = ${historyId}::uuid`;
}

async function record(
  db: PrismaClient,
  row: Claimed,
  result: DeliveryResult,
  durationMs: number,
  now: Date,
  backoff: BackoffOptions,
) {
  let status: "delivered" | "retrying" | "failed" | "disabled";
  let outcome = result.outcome;
  switch (result.outcome) {
    case "delivered":
      status = "delivered";
      break;
    case "disabled":
      status = "disabled";
      break;
    case "refused":
    case "failed":
      status = "failed";
      break;
    case "retry":
      status = row.attempts >= backoff.maxAttempts ? "failed" : "retrying";
      if (status === "failed") outcome = "failed";
      break;
  }
  const nextAttemptAt = new Date(now.getTime() + retryDelayMs(row.attempts, backoff));
  await db.$transaction(async (tx) => {
    await tx.$executeRaw`
      INSERT INTO analytics.alert_delivery_attempts (workspace_id, alert_rule_id, alert_channel_id, notification_id,
        is_test, attempt, duration_ms, http_status, outcome, error)
      VALUES (${row.workspace_id}::uuid, ${row.alert_rule_id}::uuid, ${row.alert_channel_id}::uuid, ${row.id}::uuid,
        false, ${row.attempts}, ${durationMs}, ${result.httpStatus}, ${outcome}, ${result.error})`;
    await tx.$executeRaw`
      UPDATE analytics.alert_notifications SET
        status = ${status},
        claimed_until = NULL,
        delivered_at = CASE WHEN ${status} = 'delivered' THEN ${now}::timestamptz END,
        next_attempt_at = CASE WHEN ${status} = 'retrying' THEN ${nextAttemptAt}::timestamptz ELSE next_attempt_at END,
        last_error = ${result.error}
      WHERE workspace_id = ${row.workspace_id}::uuid AND id = ${row.id}::uuid`;
    if (status === "disabled") {
      await tx.$executeRaw`
        UPDATE analytics.alert_channels SET is_enabled = false, disabled_reason = ${result.error}, updated_at = now()
        WHERE workspace_id = ${row.workspace_id}::uuid AND id = ${row.alert_channel_id}::uuid`;
      // Nothing else will reach a gone endpoint: its other queued notifications stop too.
      await tx.$executeRaw`
        UPDATE analytics.alert_notifications SET status = 'disabled', claimed_until = NULL, last_error = ${result.error}
        WHERE workspace_id = ${row.workspace_id}::uuid AND alert_channel_id = ${row.alert_channel_id}::uuid
          AND status IN ('pending', 'retrying')`;
    }
  });
  if (row.alert_history_id) await refreshHistoryStatus(db, row.workspace_id, row.alert_history_id);
}

export type DeliverySummary = {
  attempted: number;
  delivered: number;
  retrying: number;
  failed: number;
  disabled: number;
};

/** Sends every due notification once (one attempt each). Safe to run in several processes at once. */
export async function deliverDueNotifications(
  db: PrismaClient,
  options: { now?: Date; backoff?: BackoffOptions; batchSize?: number; concurrency?: number } = {},
): Promise<DeliverySummary> {
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const summary: DeliverySummary = { attempted: 0, delivered: 0, retrying: 0, failed: 0, disabled: 0 };
  for (;;) {
    const now = options.now ?? new Date();
    const rows = await claim(db, now, options.batchSize ?? 20);
    if (rows.length === 0) break;
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++];
        const target = row.is_enabled ? channelTarget(row) : null;
        const started = performance.now();
        const result: DeliveryResult = target
          ? await sendToChannel(target, messageId(row.id), row.payload)
          : { outcome: "disabled", httpStatus: null, error: "the channel is disabled" };
        await record(db, row, result, Math.round(performance.now() - started), now, backoff);
        summary.attempted += 1;
        if (result.outcome === "delivered") summary.delivered += 1;
        else if (result.outcome === "disabled") summary.disabled += 1;
        else if (result.outcome === "retry" && row.attempts < backoff.maxAttempts) summary.retrying += 1;
        else summary.failed += 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, rows.length) }, worker));
    // With an injected clock, retries scheduled after `now` are not due again in this call.
  }
  return summary;
}
