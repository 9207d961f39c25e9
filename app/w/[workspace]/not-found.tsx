import Link from "next/link";

/** Shown for unknown pages inside a workspace the viewer may read. */
export default function WorkspaceNotFound() {
  return (
    <main className="page">
      <section className="card message-card" style={{ margin: "0 auto" }}>
        <p className="kpi-label">404</p>
        <h1 className="page-title">Page not found</h1>
        <p className="page-subtitle">This page does not exist, or you do not have access to it.</p>
        <Link className="button" href="/">
          Back to your dashboard
        </Link>
      </section>
    </main>
  );
}
