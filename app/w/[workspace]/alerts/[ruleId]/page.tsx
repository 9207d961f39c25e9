import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { z } from "zod";
import { authorizePage } from "@/lib/access/authorize";
import { getRuleForEdit, recentAttempts, scopeOptions } from "@/lib/alerts/queries";
import { scopeKindSchema } from "@/lib/alerts/rule-shape";
import { comparatorSchema, conditionKindSchema } from "@/lib/alerts/condition";
import { errorPolicySchema, noDataPolicySchema } from "@/lib/alerts/state-machine";
import { withUserContext } from "@/lib/db/context";
import { RuleForm, type ChannelDraft, type RuleDraft } from "../rule-form";
import { RuleRowActions } from "../rule-row-actions";

export const metadata: Metadata = { title: "Edit alert rule" };

export default async function EditAlertRulePage({
  params,
}: {
  params: Promise<{ workspace: string; ruleId: string }>;
}) {
  const { workspace: slug, ruleId } = await params;
  const access = await authorizePage(slug, "alerts.manage", `/w/${slug}/alerts/${ruleId}`);
  if (!z.uuid().safeParse(ruleId).success) notFound();
  const data = await withUserContext(access.account.id, async (tx) => {
    const found = await getRuleForEdit(tx, access.workspace.id, ruleId);
    if (!found) return null;
    return {
      ...found,
      options: await scopeOptions(tx, access.workspace.id),
      attempts: await recentAttempts(tx, access.workspace.id, ruleId),
    };
  });
  if (!data) notFound();
  const { rule, channels, options, attempts, snoozed } = data;
  const draft: RuleDraft = {
    name: rule.name,
    description: rule.description ?? "",
    metric: rule.metricType,
    scopeKind: scopeKindSchema.parse(rule.scopeKind),
    scopeValue: rule.scopeValue ?? "",
    comparator: comparatorSchema.parse(rule.condition),
    conditionKind: conditionKindSchema.parse(rule.conditionKind),
    threshold: rule.thresholdValue.toString(),
    windowMinutes: String(rule.evaluationWindowMinutes),
    pendingMinutes: String(Math.round(rule.pendingSeconds / 60)),
    repeatMinutes: rule.repeatIntervalSeconds === null ? "" : String(Math.round(rule.repeatIntervalSeconds / 60)),
    noDataPolicy: noDataPolicySchema.parse(rule.noDataPolicy),
    errorPolicy: errorPolicySchema.parse(rule.errorPolicy),
    isActive: rule.isActive,
    channels: channels.map((c): ChannelDraft =>
      c.kind === "email"
        ? { kind: "email", id: c.id, recipients: c.emailRecipients.join(", ") }
        : { kind: c.kind === "slack" ? "slack" : "webhook", id: c.id, url: c.url ?? "" },
    ),
  };
  const disabled = channels.filter((c) => !c.isEnabled);
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">{rule.name}</h1>
        <p className="page-subtitle">
          Fired {rule.triggerCount}×
          {rule.lastTriggeredAt
            ? `, last at ${rule.lastTriggeredAt.toISOString().slice(0, 16).replace("T", " ")} UTC`
            : ""}
          .
        </p>
      </div>
      {disabled.length > 0 ? (
        <div className="alert-error" role="alert">
          {disabled.map((c) => (
            <p key={c.id}>
              {c.url}: disabled ({c.disabledReason ?? "by the system"}). Save the rule to enable it again.
            </p>
          ))}
        </div>
      ) : null}
      <RuleRowActions slug={slug} ruleId={rule.id} name={rule.name} isActive={rule.isActive} snoozed={snoozed} />
      <RuleForm slug={slug} ruleId={rule.id} initial={draft} {...options} />
      <section className="card">
        <h2 className="card-title">Recent delivery attempts</h2>
        {attempts.length === 0 ? (
          <p>None yet.</p>
        ) : (
          <table className="data-table">
            <thead>
              <tr>
                <th>When (UTC)</th>
                <th>Channel</th>
                <th>Attempt</th>
                <th>Outcome</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a, i) => (
                <tr key={i}>
                  <td>{a.attempted_at.toISOString().slice(0, 19).replace("T", " ")}</td>
                  <td>
                    {a.kind} {a.target}
                    {a.is_test ? " (test)" : ""}
                  </td>
                  <td>{a.attempt}</td>
                  <td>{a.outcome}</td>
                  <td>
                    {a.http_status ? `HTTP ${a.http_status} ` : ""}
                    {a.error ?? ""} ({a.duration_ms} ms)
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
