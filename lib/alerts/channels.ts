/**
 * The three ways an alert leaves Pulseboard. Each sender takes the frozen payload of a
 * notification and returns what happened; none of them retries (the deliverer decides that from
 * the outcome, so retries survive a restart and are logged one attempt per row).
 */
import nodemailer from "nodemailer";
import { z } from "zod";
import { postJson, type HttpOutcome } from "./http";
import { webhookHeaders } from "./signing";
import { alertStateSchema, notificationEventSchema } from "./state-machine";

export const CHANNEL_KINDS = ["webhook", "slack", "email"] as const;
export const channelKindSchema = z.enum(CHANNEL_KINDS);
export type ChannelKind = z.infer<typeof channelKindSchema>;

export const alertPayloadSchema = z.object({
  type: z.string(), // "alert.firing", "alert.resolved", ..., "alert.test"
  timestamp: z.string(),
  data: z.object({
    event: z.union([notificationEventSchema, z.literal("test")]),
    rule: z.object({ id: z.string(), name: z.string(), metric: z.string(), condition: z.string() }),
    workspace: z.object({ id: z.string(), slug: z.string() }),
    series: z.object({ key: z.string(), label: z.string() }),
    state: alertStateSchema,
    previousState: alertStateSchema.nullable(),
    value: z.number().nullable(),
    threshold: z.number(),
    incidentId: z.string().nullable(),
    link: z.string(),
  }),
});
export type AlertPayload = z.infer<typeof alertPayloadSchema>;

export type DeliveryOutcome = "delivered" | "retry" | "failed" | "disabled" | "refused";
export type DeliveryResult = { outcome: DeliveryOutcome; httpStatus: number | null; error: string | null };

export type ChannelTarget =
  | { kind: "webhook"; url: string; signingSecret: string }
  | { kind: "slack"; url: string }
  | { kind: "email"; recipients: string[] };

/** 2xx delivered; 410 Gone disables the endpoint; any other answer or network error is retried. */
function classify(outcome: HttpOutcome): DeliveryResult {
  switch (outcome.kind) {
    case "refused":
      return { outcome: "refused", httpStatus: null, error: outcome.error };
    case "network_error":
      return { outcome: "retry", httpStatus: null, error: outcome.error };
    case "response":
      if (outcome.status >= 200 && outcome.status < 300)
        return { outcome: "delivered", httpStatus: outcome.status, error: null };
      if (outcome.status === 410) {
        return { outcome: "disabled", httpStatus: 410, error: "the receiver answered 410 Gone: endpoint disabled" };
      }
      return {
        outcome: "retry",
        httpStatus: outcome.status,
        error: `HTTP ${outcome.status}${outcome.status >= 300 && outcome.status < 400 ? " (redirects are not followed)" : ""}${outcome.body ? `: ${outcome.body.slice(0, 200)}` : ""}`,
      };
  }
}

const EVENT_WORDS: Record<AlertPayload["data"]["event"], string> = {
  firing: "Firing",
  repeat: "Still firing",
  resolved: "Resolved",
  no_data: "No data",
  error: "Evaluation error",
  test: "Test notification",
};

export function summary(payload: AlertPayload): string {
  const { data } = payload;
  const series = data.series.key === "" ? "" : ` (${data.series.label})`;
  return `[${EVENT_WORDS[data.event]}] ${data.rule.name}${series}`;
}

function valueText(payload: AlertPayload): string {
  return payload.data.value === null ? "no value" : String(Math.round(payload.data.value * 10_000) / 10_000);
}

export function slackMessage(payload: AlertPayload) {
  const { data } = payload;
  return {
    text: `${summary(payload)}: ${data.rule.condition}, value ${valueText(payload)}`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: summary(payload).slice(0, 150), emoji: false } },
      {
        type: "section",
        fields: [
          { type: "mrkdwn", text: `*State*\n${data.state}` },
          { type: "mrkdwn", text: `*Condition*\n${data.rule.condition}` },
          { type: "mrkdwn", text: `*Value*\n${valueText(payload)}` },
          { type: "mrkdwn", text: `*Threshold*\n${data.threshold}` },
          ...(data.series.key === "" ? [] : [{ type: "mrkdwn", text: `*Series*\n${data.series.label}` }]),
        ],
      },
      {
        type: "actions",
        elements: [{ type: "button", text: { type: "plain_text", text: "Open in Pulseboard" }, url: data.link }],
      },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: `Workspace ${data.workspace.slug} · ${payload.timestamp}` }],
      },
    ],
  };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}

export function emailMessage(payload: AlertPayload) {
  const { data } = payload;
  const rows: Array<[string, string]> = [
    ["Rule", data.rule.name],
    ["State", data.state],
    ["Condition", data.rule.condition],
    ["Value", valueText(payload)],
    ["Threshold", String(data.threshold)],
    ...(data.series.key === "" ? [] : ([["Series", data.series.label]] as Array<[string, string]>)),
    ["Workspace", data.workspace.slug],
    ["Time", payload.timestamp],
  ];
  const text = `${summary(payload)}\n\n${rows.map(([k, v]) => `${k}: ${v}`).join("\n")}\n\nOpen in Pulseboard: ${data.link}\n`;
  const html = `<h2>${escapeHtml(summary(payload))}</h2><table>${rows
    .map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join("")}</table><p><a href="${escapeHtml(data.link)}">Open in Pulseboard</a></p>`;
  return { subject: summary(payload), text, html };
}

const smtpSchema = z.object({
  SMTP_HOST: z.string().min(1, "SMTP_HOST is not set: email alerts need an SMTP server"),
  SMTP_PORT: z.coerce.number().int().min(1).max(65535).default(587),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  SMTP_FROM: z.string().min(3, "SMTP_FROM is not set: email alerts need a sender address"),
});

async function sendEmail(recipients: string[], payload: AlertPayload): Promise<DeliveryResult> {
  const settings = smtpSchema.safeParse(process.env);
  if (!settings.success) {
    return { outcome: "failed", httpStatus: null, error: settings.error.issues.map((i) => i.message).join("; ") };
  }
  const smtp = settings.data;
  const transport = nodemailer.createTransport({
    host: smtp.SMTP_HOST,
    port: smtp.SMTP_PORT,
    secure: smtp.SMTP_PORT === 465,
    auth: smtp.SMTP_USER ? { user: smtp.SMTP_USER, pass: smtp.SMTP_PASSWORD ?? "" } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 10_000,
  });
  try {
    const message = emailMessage(payload);
    await transport.sendMail({ from: smtp.SMTP_FROM, to: recipients, ...message });
    return { outcome: "delivered", httpStatus: null, error: null };
  } catch (error) {
    const responseCode = (error as { responseCode?: number }).responseCode;
    const message = error instanceof Error ? error.message : String(error);
    // 5xx SMTP replies are permanent (bad recipient, rejected); anything else may pass later.
    return {
      outcome: responseCode !== undefined && responseCode >= 500 ? "failed" : "retry",
      httpStatus: null,
      error: message,
    };
  } finally {
    transport.close();
  }
}

export async function sendToChannel(
  target: ChannelTarget,
  messageId: string,
  payload: AlertPayload,
): Promise<DeliveryResult> {
  switch (target.kind) {
    case "webhook": {
      const body = JSON.stringify(payload);
      return classify(await postJson(target.url, body, webhookHeaders(target.signingSecret, messageId, body)));
    }
    case "slack":
      return classify(await postJson(target.url, JSON.stringify(slackMessage(payload)), {}));
    case "email":
      return sendEmail(target.recipients, payload);
  }
}
