import type { Metadata } from "next";
import { authorizePage } from "@/lib/access/authorize";
import { listMembers, listOpenInvitations } from "@/lib/accounts/members";
import { withUserContext } from "@/lib/db/context";
import { InviteForm, RemoveForm, RevokeInvitationForm, RoleForm } from "./members-forms";

export const metadata: Metadata = { title: "Members" };

export default async function MembersPage({ params }: { params: Promise<{ workspace: string }> }) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "members.manage", `/w/${encodeURIComponent(slug)}/settings/members`);
  const { members, invitations } = await withUserContext(access.account.id, async (tx) => ({
    members: await listMembers(tx, access.workspace.id),
    invitations: await listOpenInvitations(tx, access.workspace.id),
  }));
  return (
    <main className="page">
      <div className="page-header">
        <div>
          <h1 className="page-title">Members of {access.workspace.name}</h1>
          <p className="page-subtitle">
            Owners and admins manage members. Only an owner can grant or remove the owner role, and a workspace always
            keeps at least one owner. Role changes apply on the member&apos;s next request.
          </p>
        </div>
      </div>
      <InviteForm slug={access.workspace.slug} />
      <div className="table-wrap">
        <table className="data-table" aria-label="Members">
          <thead>
            <tr>
              <th>Name</th>
              <th>E-mail</th>
              <th>Role</th>
              <th>Remove</th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => {
              // Removing yourself from here would lock you out mid-page; it is not offered on your own row.
              const self = m.account_id === access.account.id;
              return (
                <tr key={m.account_id} data-testid="member-row">
                  <td>
                    {m.name ?? "—"}
                    {self ? <span className="text-muted"> (you)</span> : null}
                  </td>
                  <td>{m.email}</td>
                  <td>
                    <RoleForm slug={access.workspace.slug} accountId={m.account_id} email={m.email} role={m.role} />
                  </td>
                  <td>
                    {self ? null : <RemoveForm slug={access.workspace.slug} accountId={m.account_id} email={m.email} />}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <section aria-labelledby="open-invitations" className="page-section">
        <h2 id="open-invitations" className="section-title">
          Open invitations
        </h2>
        {invitations.length === 0 ? (
          <p className="text-muted">No open invitations.</p>
        ) : (
          <div className="table-wrap">
            <table className="data-table" aria-label="Open invitations">
              <thead>
                <tr>
                  <th>E-mail</th>
                  <th>Role</th>
                  <th>Expires</th>
                  <th>Revoke</th>
                </tr>
              </thead>
              <tbody>
                {invitations.map((i) => (
                  <tr key={i.id}>
                    <td>{i.email}</td>
                    <td>{i.role}</td>
                    <td>{i.expired ? "expired" : i.expires_at.toISOString().slice(0, 10)}</td>
                    <td>
                      <RevokeInvitationForm slug={access.workspace.slug} invitationId={i.id} email={i.email} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </main>
  );
}
