import type { Metadata } from "next";
import { Suspense } from "react";
import { cache } from "react";
import { Chart, type ChartSeriesConfig } from "@/components/chart/chart";
import { RUN_STATUS_COLORS } from "@/components/chart/palette";
import { EmptyState } from "@/components/empty-state";
import { formatDay, formatValue } from "@/components/format";
import { KpiCard, KpiCardSkeleton } from "@/components/kpi-card";
import { Skeleton } from "@/components/skeleton";
import { authorizePage } from "@/lib/access/authorize";
import {
  CHART_WINDOW_DAYS,
  KPI_WINDOW_DAYS,
  getActiveUsers,
  getRunTotals,
  getRunsByDay,
  hasRollupData,
  type OverviewScope,
} from "@/lib/overview/queries";

export const metadata: Metadata = { title: "Overview" };

type Scope = { accountId: string; workspaceId: string; timezone: string };

// The three run cards share one query per request (React's cache keys on these primitives).
const runTotals = cache((accountId: string, workspaceId: string, timezone: string) =>
  getRunTotals(toScope({ accountId, workspaceId, timezone })),
);

function toScope({ accountId, workspaceId, timezone }: Scope): OverviewScope {
  return { accountId, workspace: { id: workspaceId, timezone } };
}

const RUN_STATUS_SERIES = {
  completed: { label: "Completed", color: RUN_STATUS_COLORS.completed },
  failed: { label: "Failed", color: RUN_STATUS_COLORS.failed },
  cancelled: { label: "Cancelled", color: RUN_STATUS_COLORS.cancelled },
  running: { label: "Running", color: RUN_STATUS_COLORS.running },
} satisfies ChartSeriesConfig;

export default async function OverviewPage({ params }: { params: Promise<{ workspace: string }> }) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "workspace.read");
  const scope: Scope = {
    accountId: access.account.id,
    workspaceId: access.workspace.id,
    timezone: access.workspace.timezone,
  };
  const hasData = await hasRollupData(toScope(scope));

  return (
    <main className="page">
      <div className="page-header">
        <div>
          <h1 className="page-title">{access.workspace.name}</h1>
          <p className="page-subtitle">
            Overview · last {KPI_WINDOW_DAYS} days · times in {access.workspace.timezone}
          </p>
        </div>
      </div>
      {hasData ? (
        <>
          <div className="kpi-grid">
            <Suspense fallback={<KpiCardSkeleton label="Runs (7 days)" />}>
              <RunsCard {...scope} />
            </Suspense>
            <Suspense fallback={<KpiCardSkeleton label="Success rate (7 days)" />}>
              <SuccessRateCard {...scope} />
            </Suspense>
            <Suspense fallback={<KpiCardSkeleton label="Credits (7 days)" />}>
              <CreditsCard {...scope} />
            </Suspense>
            <Suspense fallback={<KpiCardSkeleton label="Active users (7 days)" />}>
              <ActiveUsersCard {...scope} />
            </Suspense>
          </div>
          <Suspense fallback={<ChartSkeleton />}>
            <RunsByDayChart {...scope} />
          </Suspense>
        </>
      ) : (
        <EmptyState title="No runs yet">
          <p>
            No runs yet — send events to <code>/api/v1/ingest</code> or run <code>npm run db:seed</code>.
          </p>
        </EmptyState>
      )}
    </main>
  );
}

async function RunsCard(scope: Scope) {
  const totals = await runTotals(scope.accountId, scope.workspaceId, scope.timezone);
  return (
    <KpiCard
      label="Runs (7 days)"
      value={formatValue(totals.runs, "integer")}
      rawValue={totals.runs}
      hint={`${formatDay(totals.from)} – ${formatDay(totals.to)}`}
    />
  );
}

async function SuccessRateCard(scope: Scope) {
  const totals = await runTotals(scope.accountId, scope.workspaceId, scope.timezone);
  const finished = totals.completed + totals.failed + totals.cancelled;
  return (
    <KpiCard
      label="Success rate (7 days)"
      value={formatValue(totals.successRate, "percent")}
      rawValue={totals.successRate}
      hint={
        finished === 0
          ? "No finished runs"
          : `${formatValue(totals.completed, "integer")} of ${formatValue(finished, "integer")} finished runs`
      }
    />
  );
}

async function CreditsCard(scope: Scope) {
  const totals = await runTotals(scope.accountId, scope.workspaceId, scope.timezone);
  const perRun = totals.runs === 0 ? null : totals.credits / totals.runs;
  return (
    <KpiCard
      label="Credits (7 days)"
      value={formatValue(totals.credits, "credits")}
      rawValue={totals.credits}
      hint={perRun === null ? "No runs" : `${formatValue(perRun, "decimal")} per run`}
    />
  );
}

async function ActiveUsersCard(scope: Scope) {
  const activeUsers = await getActiveUsers(toScope(scope));
  return (
    <KpiCard
      label="Active users (7 days)"
      value={formatValue(activeUsers, "integer")}
      rawValue={activeUsers}
      hint="Distinct users with any activity"
    />
  );
}

async function RunsByDayChart(scope: Scope) {
  const days = await getRunsByDay(toScope(scope));
  return (
    <Chart
      title={`Runs per day by status (last ${CHART_WINDOW_DAYS} days)`}
      description="Days are workspace-local. Running = started that day and not finished when the rollup ran."
      kind="bar"
      stacked
      data={days}
      xKey="day"
      xFormat="day"
      valueFormat="integer"
      config={RUN_STATUS_SERIES}
    />
  );
}

function ChartSkeleton() {
  return (
    <section className="card" aria-busy="true" aria-label="Runs per day by status">
      <Skeleton width="40%" height={18} />
      <Skeleton height={300} style={{ marginTop: 16 }} />
    </section>
  );
}
