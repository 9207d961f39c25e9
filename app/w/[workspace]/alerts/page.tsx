import type { Metadata } from "next";
import Link from "next/link";
import { authorizePage } from "@/lib/access/authorize";
import { roleHasPermission } from "@/lib/access/permissions";
import { describeCondition } from "@/lib/alerts/condition";
import { scopeLabel } from "@/lib/alerts/metric-source";
import { listRules } from "@/lib/alerts/queries";
import { comparatorSchema, conditionKindSchema } from "@/lib/alerts/condition";
import { scopeKindSchema } from "@/lib/alerts/rule-shape";
import { withUserContext } from "@/lib/db/context";
import { RuleRowActions } from "./rule-row-actions";

export const metadata: Metadata = { title: "Alerts" };

function stateSummary(rule: { firing: number; pending: number; no_data: number; errors: number }): string {
  const parts = [
    rule.firing ? `${rule.firing} firing` : "",
    rule.pending ? `${rule.pending} pending` : "",
    rule.no_data ? `${rule.no_data} no data` : "",
    rule.errors ? `${rule.errors} error` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(", ") : "ok";
}

export default async function AlertsPage({ params }: { params: Promise<{ workspace: string }> }) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "alerts.read", `/w/${slug}/alerts`);
  const canManage = access.role !== null && roleHasPermission(access.role, "alerts.manage");
  const rules = await withUserContext(access.account.id, (tx) => listRules(tx, access.workspace.id));
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">Alert rules</h1>
        <p className="page-subtitle">
          Evaluated every minute. <Link href={`/w/${slug}/alerts/history`}>Alert history</Link>
        </p>
      </div>
      {canManage ? (
        <p>
          <Link href={`/w/${slug}/alerts/new`} className="button button-primary">
            New rule
          </Link>
        </p>
      ) : null}
      {rules.length === 0 ? (
        <div className="empty-state">
          <h2>No alert rules yet</h2>
          <p>
            {canManage
              ? "Create one to be told when an agent fails, spend spikes or runtimes grow."
              : "Admins of this workspace can create rules."}
          </p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="data-table" aria-label="Alert rules">
            <thead>
              <tr>
                <th>Name</th>
                <th>Condition</th>
                <th>Scope</th>
                <th>State</th>
                <th>Channels</th>
                <th>Triggered</th>
                <th>Status</th>
                {canManage ? <th>Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {rules.map((rule) => {
                const condition = describeCondition(
                  {
                    comparator: comparatorSchema.parse(rule.condition),
                    kind: conditionKindSchema.parse(rule.condition_kind),
                    threshold: rule.threshold_value,
                  },
                  rule.metric_type,
                );
                const snoozed = rule.is_snoozed;
                return (
                  <tr key={rule.id} data-testid={`rule-${rule.name}`}>
                    <td>
                      {canManage ? <Link href={`/w/${slug}/alerts/${rule.id}`}>{rule.name}</Link> : rule.name}
                      {rule.description ? <div className="field-hint">{rule.description}</div> : null}
                    </td>
                    <td>
                      {condition} over {rule.evaluation_window_minutes} min
                    </td>
                    <td>
                      {scopeLabel({
                        scope_kind: scopeKindSchema.parse(rule.scope_kind),
                        scope_value: rule.scope_value,
                      })}
                    </td>
                    <td data-testid="rule-state">{stateSummary(rule)}</td>
                    <td>{rule.channel_kinds.join(", ") || "history only"}</td>
                    <td>
                      {rule.trigger_count}×
                      {rule.last_triggered_at
                        ? `, last ${rule.last_triggered_at.toISOString().slice(0, 16).replace("T", " ")} UTC`
                        : ""}
                    </td>
                    <td>
                      {rule.is_active ? "active" : "disabled"}
                      {snoozed
                        ? `, snoozed until ${rule.snoozed_until?.toISOString().slice(0, 16).replace("T", " ")} UTC`
                        : ""}
                    </td>
                    {canManage ? (
                      <td>
                        <RuleRowActions
                          slug={slug}
                          ruleId={rule.id}
                          name={rule.name}
                          isActive={rule.is_active}
                          snoozed={snoozed}
                        />
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
