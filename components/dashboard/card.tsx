import type { ReactNode } from "react";
import { Skeleton } from "@/components/skeleton";
import { MetricQueryError } from "@/lib/metrics/errors";
import styles from "./dashboard.module.css";

/** A card's place-holder while its data loads (Suspense fallback). */
export function CardSkeleton({ title, height = 260 }: { title: string; height?: number }) {
  return (
    <section className="card" aria-label={title} aria-busy="true">
      <span className="card-title">{title}</span>
      <Skeleton height={height} style={{ marginTop: 12 }} />
    </section>
  );
}

/** Shown in place of one card whose query failed, so the rest of the page still works. */
export function CardError({ title, error }: { title: string; error: unknown }) {
  const message =
    error instanceof MetricQueryError
      ? error.message
      : "This card could not be loaded. Reload the page; if it keeps failing, check the server log.";
  if (!(error instanceof MetricQueryError)) console.error(`[dashboard] ${title}:`, error);
  return (
    <section className={`card ${styles.error}`} role="alert" aria-label={title}>
      <h2 className="card-title">{title}</h2>
      <p>{message}</p>
    </section>
  );
}

/** Runs a card's loader; a failure renders CardError instead of taking the page down. */
export async function guarded(title: string, render: () => Promise<ReactNode>): Promise<ReactNode> {
  try {
    return await render();
  } catch (error) {
    // Next's redirect/notFound are control flow, not failures.
    if (
      error &&
      typeof error === "object" &&
      "digest" in error &&
      String((error as { digest: unknown }).digest).startsWith("NEXT_")
    ) {
      throw error;
    }
    return <CardError title={title} error={error} />;
  }
}
