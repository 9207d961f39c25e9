import type { Metadata } from "next";
import Link from "next/link";
import { authorizePage } from "@/lib/access/authorize";
import { roleHasPermission } from "@/lib/access/permissions";
import { historyFilterSchema, listHistory, listRules } from "@/lib/alerts/queries";
import { ALERT_STATES } from "@/lib/alerts/state-machine";
import { withUserContext } from "@/lib/db/context";
import { AcknowledgeForm } from "./acknowledge-form";

export const metadata: Metadata = { title: "Alert history" };

function formatValue(value: number | null): string {
  return value === null ? "—" : String(Math.round(value * 10_000) / 10_000);
}

/** The overview dashboard over the day around the event. */
function dashboardLink(slug: string, at: Date): string {
  const from = new Date(at.getTime() - 12 * 3_600_000).toISOString().slice(0, 10);
  const to = new Date(at.getTime() + 12 * 3_600_000).toISOString().slice(0, 10);
  return `/w/${slug}?range=custom&from=${from}&to=${to}`;
}

export default async function AlertHistoryPage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "alerts.read", `/w/${slug}/alerts/history`);
  const canManage = access.role !== null && roleHasPermission(access.role, "alerts.manage");
  const raw = await searchParams;
  const filter = historyFilterSchema.parse({
    rule: typeof raw.rule === "string" && raw.rule !== "" ? raw.rule : undefined,
    state: typeof raw.state === "string" && raw.state !== "" ? raw.state : undefined,
    from: typeof raw.from === "string" && raw.from !== "" ? raw.from : undefined,
    to: typeof raw.to === "string" && raw.to !== "" ? raw.to : undefined,
  });
  const { rules, history } = await withUserContext(access.account.id, async (tx) => ({
    rules: await listRules(tx, access.workspace.id),
    history: await listHistory(tx, access.workspace, filter),
  }));
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">Alert history</h1>
        <p className="page-subtitle">
          Every state change of every rule, newest first. <Link href={`/w/${slug}/alerts`}>Alert rules</Link>
        </p>
      </div>
      <form className="card alert-filters" method="get" aria-label="Filter alert history">
        <div className="field">
          <label htmlFor="filter-rule">Rule</label>
          <select id="filter-rule" name="rule" className="input" defaultValue={filter.rule ?? ""}>
            <option value="">All rules</option>
            {rules.map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-state">State</label>
          <select id="filter-state" name="state" className="input" defaultValue={filter.state ?? ""}>
            <option value="">Any state</option>
            {ALERT_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-from">From</label>
          <input id="filter-from" name="from" type="date" className="input" defaultValue={filter.from ?? ""} />
        </div>
        <div className="field">
          <label htmlFor="filter-to">To</label>
          <input id="filter-to" name="to" type="date" className="input" defaultValue={filter.to ?? ""} />
        </div>
        <button type="submit" className="button">
          Filter
        </button>
      </form>
      {history.length === 0 ? (
        <div className="empty-state">
          <h2>Nothing here</h2>
          <p>No state changes match these filters.</p>
        </div>
      ) : (
        <div className="table-wrap">
          <table className="data-table" aria-label="Alert history">
            <thead>
              <tr>
                <th>When (UTC)</th>
                <th>Rule</th>
                <th>Series</th>
                <th>Change</th>
                <th>Value / threshold</th>
                <th>Notifications</th>
                <th>Acknowledged</th>
              </tr>
            </thead>
            <tbody>
              {history.map((h) => (
                <tr key={h.id} data-testid="history-row" data-state={h.state ?? ""}>
                  <td>
                    {h.triggered_at.toISOString().slice(0, 16).replace("T", " ")}
                    <div>
                      <Link href={dashboardLink(slug, h.triggered_at)}>Dashboard at that time</Link>
                    </div>
                  </td>
                  <td>{h.rule_name}</td>
                  <td>{h.series_key ? h.series_label : "—"}</td>
                  <td data-testid="history-state">
                    {h.previous_state ?? "?"} → <strong>{h.state ?? "?"}</strong>
                    {h.error_message ? <div className="field-hint">{h.error_message}</div> : null}
                  </td>
                  <td>
                    {formatValue(h.metric_value)} / {formatValue(h.threshold_value)}
                  </td>
                  <td>
                    {h.notification_status}
                    {h.notifications_sent.length ? (
                      <div className="field-hint">
                        {h.notifications_sent.map((n) => `${n.kind}: ${n.status}`).join(", ")}
                      </div>
                    ) : null}
                  </td>
                  <td data-testid="history-ack">
                    {h.acknowledged_at ? (
                      <>
                        by {h.acknowledged_by_email ?? "a removed account"} at{" "}
                        {h.acknowledged_at.toISOString().slice(0, 16).replace("T", " ")}
                        {h.notes ? <div className="field-hint">“{h.notes}”</div> : null}
                      </>
                    ) : canManage && (h.state === "firing" || h.state === "no_data" || h.state === "error") ? (
                      <AcknowledgeForm slug={slug} historyId={h.id} />
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
