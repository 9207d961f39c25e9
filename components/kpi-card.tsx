import { useId, type ReactNode } from "react";
import { Skeleton } from "./skeleton";

type KpiCardProps = {
  label: string;
  /** Already formatted for display. */
  value: string;
  /** The unformatted number, exposed as data-value for tests and scripts. */
  rawValue?: number | null;
  hint?: ReactNode;
};

/** One headline number. A region named by its label, so it can be found by role and name. */
export function KpiCard({ label, value, rawValue, hint }: KpiCardProps) {
  const id = useId();
  return (
    <section className="card kpi-card" aria-labelledby={id}>
      <h3 id={id} className="kpi-label">
        {label}
      </h3>
      <p className="kpi-value" data-testid="kpi-value" data-value={rawValue ?? ""}>
        {value}
      </p>
      {hint ? <p className="kpi-hint">{hint}</p> : null}
    </section>
  );
}

/** The card's shape while its number loads (use as a Suspense fallback). */
export function KpiCardSkeleton({ label }: { label: string }) {
  return (
    <section className="card kpi-card" aria-label={label} aria-busy="true">
      <span className="kpi-label">{label}</span>
      <Skeleton width="60%" height={34} />
      <Skeleton width="40%" height={12} />
    </section>
  );
}
