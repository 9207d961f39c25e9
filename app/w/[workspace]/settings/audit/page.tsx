import type { Metadata } from "next";
import Link from "next/link";
import { z } from "zod";
import { authorizePage } from "@/lib/access/authorize";
import { AUDIT_ACTIONS, auditFilterSchema, listAuditEvents } from "@/lib/accounts/audit";
import { withUserContext } from "@/lib/db/context";

export const metadata: Metadata = { title: "Audit log" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function AuditPage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const { workspace: slug } = await params;
  const base = `/w/${encodeURIComponent(slug)}/settings/audit`;
  const access = await authorizePage(slug, "audit.read", base);
  const raw = await searchParams;
  const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);
  const query = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, first(v)]));
  // A hand-edited URL with a bad filter shows the unfiltered log and says so, rather than failing.
  const parsed = auditFilterSchema.safeParse(query);
  const filter = parsed.success ? parsed.data : auditFilterSchema.parse({});
  // Platform admins can also browse account-level events (sign-ins, failed sign-ins).
  const platformScope = access.isPlatformAdmin && query.scope === "platform";
  const { rows, nextBefore } = await withUserContext(access.account.id, (tx) =>
    listAuditEvents(tx, platformScope ? null : access.workspace.id, filter),
  );
  const nextQuery = new URLSearchParams(
    Object.entries({ ...query, before: nextBefore?.toString() }).filter(
      (e): e is [string, string] => typeof e[1] === "string" && e[1] !== "",
    ),
  );
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">
          Audit log{platformScope ? " — sign-ins (platform)" : ` of ${access.workspace.name}`}
        </h1>
      </div>
      {!parsed.success ? (
        <p role="alert" className="alert-error">
          The filter was not understood ({z.prettifyError(parsed.error).replace(/\n/g, " ")}); showing all events.
        </p>
      ) : null}
      <form method="get" className="card" aria-label="Filter the audit log">
        {platformScope ? <input type="hidden" name="scope" value="platform" /> : null}
        <label>
          Action{" "}
          <select name="action" defaultValue={filter.action ?? ""}>
            <option value="">any</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>{" "}
        <label>
          Actor e-mail <input name="actor" type="search" defaultValue={filter.actor ?? ""} />
        </label>{" "}
        <label>
          From <input name="from" type="date" defaultValue={filter.from ?? ""} />
        </label>{" "}
        <label>
          To <input name="to" type="date" defaultValue={filter.to ?? ""} />
        </label>{" "}
        <button type="submit" className="button">
          Filter
        </button>
        {access.isPlatformAdmin ? (
          <p>
            <Link href={platformScope ? base : `${base}?scope=platform`}>
              {platformScope ? "Show this workspace's events" : "Show sign-ins and other account events (platform)"}
            </Link>
          </p>
        ) : null}
      </form>
      {rows.length === 0 ? (
        <p>No events match.</p>
      ) : (
        <table className="data-table" aria-label="Audit events">
          <thead>
            <tr>
              <th>When (UTC)</th>
              <th>Who</th>
              <th>Action</th>
              <th>Target</th>
              <th>Details</th>
              <th>IP</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id.toString()} data-testid="audit-row">
                <td>{r.created_at.toISOString().replace("T", " ").slice(0, 19)}</td>
                <td>{r.actor_email ?? (r.actor_account_id ? "deleted account" : "API key")}</td>
                <td>{r.action}</td>
                <td>{r.target_type ? `${r.target_type} ${r.target_id ?? ""}` : "—"}</td>
                <td>
                  <code>{JSON.stringify(r.details)}</code>
                </td>
                <td>{r.ip ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {nextBefore !== null ? <Link href={`${base}?${nextQuery.toString()}`}>Older events</Link> : null}
    </main>
  );
}
