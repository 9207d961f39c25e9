/**
 * "Send test": one notification to every channel of a rule, now, with the result per channel.
 * Runs as the requesting admin (RLS lets owners/admins read the signing secrets and log attempts).
 */
import type { Tx } from "@/lib/db/prisma";
import { sendToChannel, type DeliveryOutcome } from "./channels";
import { comparatorSchema, conditionKindSchema, describeCondition } from "./condition";
import { channelTarget, messageId } from "./deliver";
import { alertLink, buildPayload } from "./payload";
import { RuleNotFoundError } from "./rules";

export type TestResult = {
  channelId: string;
  kind: string;
  target: string;
  outcome: DeliveryOutcome;
  httpStatus: number | null;
  error: string | null;
};

export async function sendTestNotifications(
  tx: Tx,
  args: { workspace: { id: string; slug: string }; ruleId: string; now?: Date },
): Promise<TestResult[]> {
  const now = args.now ?? new Date();
  const rule = await tx.alertRule.findUnique({
    where: { workspaceId_id: { workspaceId: args.workspace.id, id: args.ruleId } },
  });
  if (!rule) throw new RuleNotFoundError();
  const channels = await tx.alertChannel.findMany({
    where: { workspaceId: args.workspace.id, alertRuleId: rule.id },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
  const secrets = await tx.alertChannelSecret.findMany({
    where: { workspaceId: args.workspace.id, alertChannelId: { in: channels.map((c) => c.id) } },
  });
  const threshold = Number(rule.thresholdValue);
  const results: TestResult[] = [];
  for (const channel of channels) {
    const kind = channel.kind === "email" || channel.kind === "slack" ? channel.kind : "webhook";
    const target = channelTarget({
      kind,
      url: channel.url,
      email_recipients: channel.emailRecipients,
      signing_secret: secrets.find((s) => s.alertChannelId === channel.id)?.signingSecret ?? null,
    });
    const payload = buildPayload({
      rule: {
        id: rule.id,
        name: rule.name,
        metric_type: rule.metricType,
        workspace_id: args.workspace.id,
        workspace_slug: args.workspace.slug,
        threshold_value: threshold,
      },
      conditionText: describeCondition(
        {
          comparator: comparatorSchema.parse(rule.condition),
          kind: conditionKindSchema.parse(rule.conditionKind),
          threshold,
        },
        rule.metricType,
      ),
      event: "test",
      series: { key: "", label: "Test" },
      state: "firing",
      previousState: null,
      value: null,
      incidentId: null,
      at: now,
      link: alertLink(args.workspace.slug, rule.id, now),
    });
    const started = performance.now();
    const result = target
      ? await sendToChannel(target, messageId(crypto.randomUUID()), payload)
      : { outcome: "failed" as const, httpStatus: null, error: "the channel has no target or secret" };
    await tx.alertDeliveryAttempt.create({
      data: {
        workspaceId: args.workspace.id,
        alertRuleId: rule.id,
        alertChannelId: channel.id,
        isTest: true,
        attempt: 1,
        durationMs: Math.round(performance.now() - started),
        httpStatus: result.httpStatus,
        // A test never retries: a retryable answer is reported as a failure.
        outcome: result.outcome === "retry" ? "failed" : result.outcome,
        error: result.error,
      },
    });
    results.push({
      channelId: channel.id,
      kind,
      target: channel.url ?? channel.emailRecipients.join(", "),
      outcome: result.outcome === "retry" ? "failed" : result.outcome,
      httpStatus: result.httpStatus,
      error: result.error,
    });
  }
  return results;
}
