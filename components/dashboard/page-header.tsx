import { Suspense, type ReactNode } from "react";
import type { DashboardScope } from "@/lib/dashboards/scope";
import { DateRangePicker } from "./date-range-picker";

/** Title, subtitle and the URL-driven date range picker of a dashboard page. */
export function DashboardHeader({
  scope,
  title,
  subtitle,
  children,
}: {
  scope: DashboardScope;
  title: string;
  subtitle?: string;
  children?: ReactNode;
}) {
  const { range } = scope;
  return (
    <>
      <div className="page-header">
        <div>
          <h1 className="page-title">{title}</h1>
          <p className="page-subtitle">
            {subtitle ? `${subtitle} · ` : ""}
            {range.from} – {range.to} · times in {scope.workspace.timezone}
          </p>
        </div>
      </div>
      <Suspense fallback={null}>
        <DateRangePicker
          preset={range.preset}
          from={range.from}
          to={range.to}
          granularity={range.granularity}
          compare={range.compare}
        />
      </Suspense>
      {children}
    </>
  );
}
