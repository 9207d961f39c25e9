"use client";

import { useEffect } from "react";

/** An unexpected failure on a workspace page (access refusals never land here: they navigate). */
export default function WorkspaceError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <main className="page">
      <section className="card message-card" role="alert" style={{ margin: "0 auto" }}>
        <h1 className="page-title">Something went wrong</h1>
        <p className="page-subtitle">
          This page could not be loaded.{error.digest ? ` Reference: ${error.digest}.` : ""} Try again, and if it keeps
          failing, check the server log.
        </p>
        <button type="button" className="button button-primary" onClick={reset}>
          Try again
        </button>
      </section>
    </main>
  );
}
