import Link from "next/link";

/** Also what outsiders see for a workspace that exists: access checks never reveal existence. */
export default function NotFound() {
  return (
    <main className="center-page">
      <div className="card message-card">
        <p className="kpi-label">404</p>
        <h1 className="page-title">Page not found</h1>
        <p className="page-subtitle">This page does not exist, or you do not have access to it.</p>
        <Link className="button" href="/">
          Back to your dashboard
        </Link>
      </div>
    </main>
  );
}
