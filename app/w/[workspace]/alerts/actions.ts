"use server";

import { revalidatePath } from "next/cache";
import { headers } from "next/headers";
import { z } from "zod";
import { authorizeWorkspace, describeClientError, type ActionResult } from "@/lib/access/authorize";
import { clientIpFromHeaders, recordAuditEvent } from "@/lib/accounts/audit";
import { withUserContext } from "@/lib/db/context";
import type { Tx } from "@/lib/db/prisma";
import { conditionKindSchema, comparatorSchema } from "@/lib/alerts/condition";
import { previewRule, PREVIEW_RANGES, type PreviewSeries } from "@/lib/alerts/preview";
import { scopeKindSchema } from "@/lib/alerts/rule-shape";
import {
  acknowledge,
  acknowledgeSchema,
  createRule,
  deleteRule,
  duplicateRule,
  RuleInputError,
  RuleNotFoundError,
  setRuleActive,
  snoozeRule,
  updateRule,
  type NewSecret,
} from "@/lib/alerts/rules";
import { fieldErrors, ruleInputSchema } from "@/lib/alerts/schema";
import { sendTestNotifications, type TestResult } from "@/lib/alerts/send-test";
import { errorPolicySchema, noDataPolicySchema } from "@/lib/alerts/state-machine";
import { MetricQueryError } from "@/lib/metrics/errors";

/**
 * Server actions of the alert pages. Each one authorizes itself (alerts.manage to change anything)
 * and validates its input with zod; mistakes come back as field errors, never as a 500.
 */
async function run<T>(action: () => Promise<T>): Promise<ActionResult<T>> {
  try {
    return { ok: true, data: await action() };
  } catch (error) {
    if (error instanceof RuleInputError) {
      return {
        ok: false,
        status: 400,
        error: "Some fields need attention.",
        fields: Object.fromEntries(Object.entries(error.fieldErrors).map(([k, v]) => [k, [v]])),
      };
    }
    if (error instanceof z.ZodError) {
      return {
        ok: false,
        status: 400,
        error: "Some fields need attention.",
        fields: Object.fromEntries(Object.entries(fieldErrors(error)).map(([k, v]) => [k, [v]])),
      };
    }
    if (error instanceof RuleNotFoundError)
      return { ok: false, status: 404, error: "This alert rule no longer exists." };
    if (error instanceof MetricQueryError) return { ok: false, status: 400, error: error.message };
    const described = describeClientError(error);
    if (!described) throw error;
    return { ok: false, status: described.status, ...described.body };
  }
}

const ruleIdSchema = z.uuid("Unknown alert rule");

/** Every rule change is audited inside the transaction that makes it (who, what, from where). */
async function auditRuleChange(
  tx: Tx,
  workspaceId: string,
  action: "alert_rule.created" | "alert_rule.updated" | "alert_rule.deleted",
  ruleId: string,
  details: Record<string, string | boolean | number | null> = {},
) {
  await recordAuditEvent(tx, {
    workspaceId,
    action,
    target: { type: "alert_rule", id: ruleId },
    details,
    ip: clientIpFromHeaders(await headers()),
  });
}

export type SaveRuleResult = ActionResult<{ id: string; secrets: NewSecret[]; stateReset: boolean }>;

/** Creates (ruleId null) or edits a rule. Returns new webhook secrets: the only time they are shown. */
export async function saveRuleAction(slug: string, ruleId: string | null, raw: unknown): Promise<SaveRuleResult> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const input = ruleInputSchema.parse(raw);
    const result = await withUserContext(access.account.id, async (tx) => {
      if (ruleId === null) {
        const created = await createRule(tx, { workspaceId: access.workspace.id, accountId: access.account.id, input });
        await auditRuleChange(tx, access.workspace.id, "alert_rule.created", created.id, { name: input.name });
        return { ...created, stateReset: false };
      }
      const id = ruleIdSchema.parse(ruleId);
      const updated = await updateRule(tx, { workspaceId: access.workspace.id, ruleId: id, input });
      await auditRuleChange(tx, access.workspace.id, "alert_rule.updated", id, {
        name: input.name,
        stateReset: updated.stateReset,
      });
      return { id, ...updated };
    });
    revalidatePath(`/w/${slug}/alerts`);
    return result;
  });
}

export async function duplicateRuleAction(
  slug: string,
  ruleId: string,
): Promise<ActionResult<{ id: string; secrets: NewSecret[] }>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const id = ruleIdSchema.parse(ruleId);
    const copy = await withUserContext(access.account.id, async (tx) => {
      const duplicated = await duplicateRule(tx, {
        workspaceId: access.workspace.id,
        ruleId: id,
        accountId: access.account.id,
      });
      await auditRuleChange(tx, access.workspace.id, "alert_rule.created", duplicated.id, { duplicatedFrom: id });
      return duplicated;
    });
    revalidatePath(`/w/${slug}/alerts`);
    return copy;
  });
}

export async function setRuleActiveAction(
  slug: string,
  ruleId: string,
  isActive: boolean,
): Promise<ActionResult<null>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const id = ruleIdSchema.parse(ruleId);
    const active = z.boolean().parse(isActive);
    await withUserContext(access.account.id, async (tx) => {
      await setRuleActive(tx, access.workspace.id, id, active);
      await auditRuleChange(tx, access.workspace.id, "alert_rule.updated", id, { isActive: active });
    });
    revalidatePath(`/w/${slug}/alerts`);
    return null;
  });
}

export async function deleteRuleAction(slug: string, ruleId: string): Promise<ActionResult<null>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const id = ruleIdSchema.parse(ruleId);
    await withUserContext(access.account.id, async (tx) => {
      await deleteRule(tx, access.workspace.id, id);
      await auditRuleChange(tx, access.workspace.id, "alert_rule.deleted", id);
    });
    revalidatePath(`/w/${slug}/alerts`);
    return null;
  });
}

const snoozeSchema = z.object({
  // Minutes from now; 0 ends the snooze.
  minutes: z.coerce
    .number()
    .int()
    .min(0, "0 or more minutes")
    .max(30 * 24 * 60, "At most 30 days"),
});

export async function snoozeRuleAction(
  slug: string,
  ruleId: string,
  minutes: number,
): Promise<ActionResult<{ until: string | null }>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const id = ruleIdSchema.parse(ruleId);
    const parsed = snoozeSchema.parse({ minutes });
    const until = parsed.minutes === 0 ? null : new Date(Date.now() + parsed.minutes * 60_000);
    await withUserContext(access.account.id, async (tx) => {
      await snoozeRule(tx, access.workspace.id, id, until);
      await auditRuleChange(tx, access.workspace.id, "alert_rule.updated", id, {
        snoozedUntil: until?.toISOString() ?? null,
      });
    });
    revalidatePath(`/w/${slug}/alerts`);
    return { until: until?.toISOString() ?? null };
  });
}

export async function sendTestAction(slug: string, ruleId: string): Promise<ActionResult<TestResult[]>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const id = ruleIdSchema.parse(ruleId);
    const results = await withUserContext(access.account.id, (tx) =>
      sendTestNotifications(tx, { workspace: { id: access.workspace.id, slug: access.workspace.slug }, ruleId: id }),
    );
    revalidatePath(`/w/${slug}/alerts/${id}`);
    return results;
  });
}

export async function acknowledgeAction(
  slug: string,
  raw: { historyId: string; note: string },
): Promise<ActionResult<{ acknowledged: boolean }>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.manage");
    const input = acknowledgeSchema.parse(raw);
    const acknowledged = await withUserContext(access.account.id, (tx) =>
      acknowledge(tx, {
        workspaceId: access.workspace.id,
        accountId: access.account.id,
        historyId: input.historyId,
        note: input.note,
      }),
    );
    revalidatePath(`/w/${slug}/alerts/history`);
    return { acknowledged };
  });
}

const previewSchema = z.object({
  metric: z.string().min(1, "Choose a metric"),
  scopeKind: scopeKindSchema,
  scopeValue: z.string().trim().default(""),
  comparator: comparatorSchema,
  conditionKind: conditionKindSchema,
  threshold: z.coerce.number({ error: "Enter a threshold" }).refine(Number.isFinite, "Enter a threshold"),
  pendingMinutes: z.coerce.number().int().min(0).max(1440).default(0),
  noDataPolicy: noDataPolicySchema.default("no_data"),
  errorPolicy: errorPolicySchema.default("error"),
  range: z.enum(Object.keys(PREVIEW_RANGES) as ["24h", "7d"]),
});

/** Members may preview (it only reads the metric); the form is shown to managers only anyway. */
export async function previewRuleAction(slug: string, raw: unknown): Promise<ActionResult<PreviewSeries[]>> {
  return run(async () => {
    const access = await authorizeWorkspace(slug, "alerts.read");
    const input = previewSchema.parse(raw);
    const needsValue = input.scopeKind === "agent" || input.scopeKind === "user" || input.scopeKind === "model";
    if (needsValue && input.scopeValue === "")
      throw new RuleInputError({ scopeValue: `Choose the ${input.scopeKind} to preview` });
    return withUserContext(access.account.id, (tx) =>
      previewRule(tx, {
        workspace: { id: access.workspace.id, timezone: access.workspace.timezone },
        metric: input.metric,
        scopeKind: input.scopeKind,
        scopeValue: needsValue ? input.scopeValue : null,
        condition: { comparator: input.comparator, kind: input.conditionKind, threshold: input.threshold },
        policy: {
          pendingSeconds: input.pendingMinutes * 60,
          repeatIntervalSeconds: null,
          noDataPolicy: input.noDataPolicy,
          errorPolicy: input.errorPolicy,
          snoozedUntil: null,
        },
        range: input.range,
      }),
    );
  });
}
