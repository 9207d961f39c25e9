import { KpiCardSkeleton } from "@/components/kpi-card";
import { Skeleton } from "@/components/skeleton";

export default function Loading() {
  return (
    <main className="page" aria-busy="true">
      <Skeleton width={220} height={28} />
      <div className="kpi-grid">
        {["Runs", "Success rate", "Credits", "Active users"].map((label) => (
          <KpiCardSkeleton key={label} label={`${label} (7 days)`} />
        ))}
      </div>
      <section className="card">
        <Skeleton height={300} />
      </section>
    </main>
  );
}
