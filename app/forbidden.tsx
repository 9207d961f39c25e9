import Link from "next/link";

/** Rendered with status 403 when a member's role lacks the permission a page needs (see authorizePage). */
export default function ForbiddenPage() {
  return (
    <main className="center-page">
      <div className="card message-card">
        <p className="kpi-label">403</p>
        <h1 className="page-title">You don&apos;t have access to this page</h1>
        <p className="page-subtitle">
          Your role in this workspace does not include this. A workspace owner or admin can change your role.
        </p>
        <Link className="button" href="/">
          Back to your dashboard
        </Link>
      </div>
    </main>
  );
}
