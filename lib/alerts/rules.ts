/**
 * Rule storage: create, edit, duplicate, enable/disable, snooze, delete, acknowledge. Every
 * function takes the caller's transaction (withUserContext), so row-level security decides what
 * the account may touch; the server actions check the permission first for a clear 403.
 */
import { z } from "zod";
import type { Tx } from "@/lib/db/prisma";
import { assertSafeTarget, UnsafeTargetError } from "./ssrf";
import { generateSigningSecret } from "./signing";
import { resolveRuleForEdit } from "./reset";
import { conditionChanged, type ChannelInput, type RuleInput } from "./schema";

export class RuleInputError extends Error {
  constructor(readonly fieldErrors: Record<string, string>) {
    super(Object.values(fieldErrors).join("; "));
    this.name = "RuleInputError";
  }
}

/** Refuses unsafe webhook/Slack URLs with a field error per channel. */
export async function checkChannelTargets(channels: ChannelInput[]): Promise<void> {
  const errors: Record<string, string> = {};
  await Promise.all(
    channels.map(async (channel, index) => {
      if (channel.kind === "email") return;
      try {
        await assertSafeTarget(channel.url);
      } catch (error) {
        if (!(error instanceof UnsafeTargetError)) throw error;
        errors[`channels.${index}.url`] = error.message;
      }
    }),
  );
  if (Object.keys(errors).length) throw new RuleInputError(errors);
}

/** A webhook secret, shown once to whoever saved the channel. */
export type NewSecret = { channelId: string; url: string; secret: string };

function ruleColumns(input: RuleInput) {
  const needsValue = input.scopeKind === "agent" || input.scopeKind === "user" || input.scopeKind === "model";
  return {
    name: input.name,
    description: input.description === "" ? null : input.description,
    isActive: input.isActive,
    metricType: input.metric,
    condition: input.comparator,
    conditionKind: input.conditionKind,
    thresholdValue: input.threshold,
    evaluationWindowMinutes: input.windowMinutes,
    scopeKind: input.scopeKind,
    scopeValue: needsValue ? input.scopeValue : null,
    pendingSeconds: input.pendingMinutes * 60,
    repeatIntervalSeconds: input.repeatMinutes === null ? null : input.repeatMinutes * 60,
    noDataPolicy: input.noDataPolicy,
    errorPolicy: input.errorPolicy,
    // 004's summary columns, kept filled for tools that read them.
    notificationChannels: [...new Set(input.channels.map((c) => c.kind))],
    notificationRecipients: input.channels.flatMap((c) => (c.kind === "email" ? c.recipients : [])),
  };
}

async function writeChannels(
  tx: Tx,
  workspaceId: string,
  ruleId: string,
  channels: ChannelInput[],
): Promise<NewSecret[]> {
  const existing = await tx.alertChannel.findMany({ where: { workspaceId, alertRuleId: ruleId } });
  const keep = new Set(channels.map((c) => c.id).filter((id): id is string => id !== undefined));
  const removed = existing.filter((c) => !keep.has(c.id)).map((c) => c.id);
  if (removed.length) await tx.alertChannel.deleteMany({ where: { workspaceId, id: { in: removed } } });
  const secrets: NewSecret[] = [];
  for (const channel of channels) {
    const data = {
      kind: channel.kind,
      url: channel.kind === "email" ? null : channel.url,
      emailRecipients: channel.kind === "email" ? channel.recipients : [],
    };
    const previous = channel.id ? existing.find((c) => c.id === channel.id && c.kind === channel.kind) : undefined;
    if (previous) {
      // Saving a channel again re-enables it (e.g. after a 410 disabled it and the URL was fixed).
      await tx.alertChannel.update({
        where: { workspaceId_id: { workspaceId, id: previous.id } },
        data: { ...data, isEnabled: true, disabledReason: null, updatedAt: new Date() },
      });
      continue;
    }
    const created = await tx.alertChannel.create({ data: { workspaceId, alertRuleId: ruleId, ...data } });
    if (channel.kind === "webhook") {
      const secret = generateSigningSecret();
      await tx.alertChannelSecret.create({ data: { workspaceId, alertChannelId: created.id, signingSecret: secret } });
      secrets.push({ channelId: created.id, url: channel.url, secret });
    }
  }
  return secrets;
}

export async function createRule(
  tx: Tx,
  args: { workspaceId: string; accountId: string | null; input: RuleInput },
): Promise<{ id: string; secrets: NewSecret[] }> {
  await checkChannelTargets(args.input.channels);
  const rule = await tx.alertRule.create({
    data: { workspaceId: args.workspaceId, createdBy: args.accountId, ...ruleColumns(args.input) },
    select: { id: true },
  });
  const secrets = await writeChannels(tx, args.workspaceId, rule.id, args.input.channels);
  return { id: rule.id, secrets };
}

export async function updateRule(
  tx: Tx,
  args: { workspaceId: string; ruleId: string; input: RuleInput; now?: Date },
): Promise<{ secrets: NewSecret[]; stateReset: boolean }> {
  await checkChannelTargets(args.input.channels);
  const before = await tx.alertRule.findUnique({
    where: { workspaceId_id: { workspaceId: args.workspaceId, id: args.ruleId } },
  });
  if (!before) throw new RuleNotFoundError();
  const reset = conditionChanged(
    {
      metric: before.metricType,
      scopeKind: before.scopeKind,
      scopeValue: before.scopeValue ?? "",
      comparator: before.condition,
      conditionKind: before.conditionKind,
      threshold: Number(before.thresholdValue),
      windowMinutes: before.evaluationWindowMinutes,
    },
    args.input,
  );
  // Resolve first: the "resolved" notifications describe the rule as it was.
  if (reset) await resetRuleState(tx, args.workspaceId, args.ruleId, args.now);
  await tx.alertRule.update({
    where: { workspaceId_id: { workspaceId: args.workspaceId, id: args.ruleId } },
    data: { ...ruleColumns(args.input), updatedAt: new Date() },
  });
  const secrets = await writeChannels(tx, args.workspaceId, args.ruleId, args.input.channels);
  return { secrets, stateReset: reset };
}

/**
 * A changed condition makes old states meaningless: resolve every alerting series (history +
 * "resolved" notifications, see reset.ts), then close the open incidents.
 */
export async function resetRuleState(
  tx: Tx,
  workspaceId: string,
  ruleId: string,
  now: Date = new Date(),
): Promise<void> {
  await resolveRuleForEdit(tx, workspaceId, ruleId, now);
  await tx.alertIncident.updateMany({
    where: { workspaceId, alertRuleId: ruleId, resolvedAt: null },
    data: { resolvedAt: now },
  });
  // Let the next tick evaluate the new condition at once.
  await tx.alertRule.update({
    where: { workspaceId_id: { workspaceId, id: ruleId } },
    data: { lastEvaluatedAt: null },
  });
}

export class RuleNotFoundError extends Error {
  constructor() {
    super("Alert rule not found");
    this.name = "RuleNotFoundError";
  }
}

export async function duplicateRule(tx: Tx, args: { workspaceId: string; ruleId: string; accountId: string }) {
  const rule = await tx.alertRule.findUnique({
    where: { workspaceId_id: { workspaceId: args.workspaceId, id: args.ruleId } },
  });
  if (!rule) throw new RuleNotFoundError();
  const channels = await tx.alertChannel.findMany({
    where: { workspaceId: args.workspaceId, alertRuleId: args.ruleId },
  });
  const copy = await tx.alertRule.create({
    data: {
      workspaceId: args.workspaceId,
      name: `${rule.name} (copy)`.slice(0, 255),
      description: rule.description,
      // A copy starts disabled, so duplicating never doubles notifications by surprise.
      isActive: false,
      metricType: rule.metricType,
      condition: rule.condition,
      conditionKind: rule.conditionKind,
      thresholdValue: rule.thresholdValue,
      evaluationWindowMinutes: rule.evaluationWindowMinutes,
      scopeKind: rule.scopeKind,
      scopeValue: rule.scopeValue,
      pendingSeconds: rule.pendingSeconds,
      repeatIntervalSeconds: rule.repeatIntervalSeconds,
      noDataPolicy: rule.noDataPolicy,
      errorPolicy: rule.errorPolicy,
      notificationChannels: rule.notificationChannels ?? [],
      notificationRecipients: rule.notificationRecipients ?? [],
      createdBy: args.accountId,
    },
    select: { id: true },
  });
  const secrets = await writeChannels(
    tx,
    args.workspaceId,
    copy.id,
    channels.map((c): ChannelInput =>
      c.kind === "email"
        ? { kind: "email", recipients: c.emailRecipients }
        : { kind: c.kind === "slack" ? "slack" : "webhook", url: c.url ?? "" },
    ),
  );
  return { id: copy.id, secrets };
}

export async function setRuleActive(tx: Tx, workspaceId: string, ruleId: string, isActive: boolean) {
  const { count } = await tx.alertRule.updateMany({
    where: { workspaceId, id: ruleId },
    data: { isActive, updatedAt: new Date() },
  });
  if (count === 0) throw new RuleNotFoundError();
}

export async function snoozeRule(tx: Tx, workspaceId: string, ruleId: string, until: Date | null) {
  const { count } = await tx.alertRule.updateMany({
    where: { workspaceId, id: ruleId },
    data: { snoozedUntil: until, updatedAt: new Date() },
  });
  if (count === 0) throw new RuleNotFoundError();
}

export async function deleteRule(tx: Tx, workspaceId: string, ruleId: string) {
  const { count } = await tx.alertRule.deleteMany({ where: { workspaceId, id: ruleId } });
  if (count === 0) throw new RuleNotFoundError();
}

export const acknowledgeSchema = z.object({
  historyId: z.uuid("Unknown history entry"),
  note: z.string().trim().max(2000, "At most 2000 characters").default(""),
});

/** Records who acknowledged and when; a second acknowledgement keeps the first one's who/when. */
export async function acknowledge(
  tx: Tx,
  args: { workspaceId: string; accountId: string; historyId: string; note: string },
) {
  const { count } = await tx.alertHistory.updateMany({
    where: { workspaceId: args.workspaceId, id: args.historyId, acknowledgedAt: null },
    data: { acknowledgedAt: new Date(), acknowledgedBy: args.accountId, notes: args.note === "" ? null : args.note },
  });
  return count === 1;
}
