import type { Metadata } from "next";
import { cache, Suspense } from "react";
import { Chart } from "@/components/chart/chart";
import { OKABE_ITO } from "@/components/chart/palette";
import { CardSkeleton, guarded } from "@/components/dashboard/card";
import { DataTable } from "@/components/dashboard/data-table";
import { LastHourStrip } from "@/components/dashboard/last-hour-strip";
import { MetricChart, MultiMetricChart } from "@/components/dashboard/metric-chart";
import { MetricKpi } from "@/components/dashboard/metric-kpi";
import { DashboardHeader } from "@/components/dashboard/page-header";
import dashboard from "@/components/dashboard/dashboard.module.css";
import { EmptyState } from "@/components/empty-state";
import { KpiCard, KpiCardSkeleton } from "@/components/kpi-card";
import { formatDay, formatValue } from "@/components/format";
import { authorizePage } from "@/lib/access/authorize";
import { activeUsersRolling, breakdownIn, hasAnyData } from "@/lib/dashboards/overview";
import { rangeShortLabel, type SearchParams } from "@/lib/dashboards/range";
import { asAccount, dashboardScope, type DashboardScope } from "@/lib/dashboards/scope";
import type { MetricName } from "@/lib/metrics/definitions";

export const metadata: Metadata = { title: "Overview" };

const KPIS: { metric: MetricName; label: string }[] = [
  { metric: "runs", label: "Runs" },
  { metric: "success_rate", label: "Success rate" },
  { metric: "credits", label: "Credits" },
  { metric: "active_users", label: "Active users" },
  { metric: "error_rate", label: "Error rate" },
  { metric: "runtime_p95", label: "Runtime p95" },
  { metric: "cost_usd", label: "LLM cost" },
  { metric: "total_tokens", label: "Tokens" },
];

export default async function OverviewPage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "workspace.read");
  const scope = dashboardScope(access, await searchParams, { defaultPreset: "7d" });
  const hasData = await hasAnyData(scope);
  const suffix = rangeShortLabel(scope.range.preset);
  // The runs-by-status chart always shows the last 30 days: the trend behind the KPIs.
  const last30 = dashboardScope(access, { range: "30d", granularity: "day" });

  return (
    <main className="page">
      <DashboardHeader scope={scope} title={access.workspace.name} subtitle="Overview" />
      {!hasData ? (
        <EmptyState title="No runs yet">
          <p>
            No runs yet — send events to <code>/api/v1/ingest</code> with an API key (Settings → API keys), or run{" "}
            <code>npm run db:seed</code> for demo data. Numbers appear within a minute of the first event.
          </p>
        </EmptyState>
      ) : (
        <>
          <LastHourStrip slug={access.workspace.slug} />
          <div className="kpi-grid" style={{ marginTop: 16 }}>
            {KPIS.map(({ metric, label }) => (
              <Suspense key={metric} fallback={<KpiCardSkeleton label={`${label} (${suffix})`} />}>
                <MetricKpi scope={scope} metric={metric} label={`${label} (${suffix})`} />
              </Suspense>
            ))}
          </div>
          <Suspense fallback={<CardSkeleton title="Runs per day by status (last 30 days)" height={300} />}>
            <MetricChart
              scope={last30}
              metric="runs"
              groupBy="status"
              kind="bar"
              stacked
              title="Runs per day by status (last 30 days)"
              description="Days are workspace-local; runs count on the day they started. Running = not finished when the rollup ran."
            />
          </Suspense>
          {/* DAU/WAU/MAU get a full-width row of their own; every chart then sits in the two-column
              grid, so no card is squeezed beside or under the KPI row. */}
          <Suspense
            fallback={
              <div className={dashboard.kpiRow}>
                {ROLLING_LABELS.map((label) => (
                  <KpiCardSkeleton key={label} label={label} />
                ))}
              </div>
            }
          >
            <ActiveUsersKpis scope={scope} />
          </Suspense>
          <div className={dashboard.grid}>
            <Suspense fallback={<CardSkeleton title="Active users (DAU / WAU / MAU)" />}>
              <ActiveUsersChart scope={scope} />
            </Suspense>
            <Suspense fallback={<CardSkeleton title="Success and error rate" />}>
              <MultiMetricChart
                scope={scope}
                title="Success and error rate"
                metrics={["success_rate", "error_rate"]}
                description="Of finished runs started in each bucket (0–100 %)."
              />
            </Suspense>
            <Suspense fallback={<CardSkeleton title="Runtime percentiles" />}>
              <MultiMetricChart
                scope={scope}
                title="Runtime percentiles"
                metrics={["runtime_p50", "runtime_p95", "runtime_p99"]}
                description="Seconds, over finished runs (≤ 1 % relative error, from merged histograms)."
              />
            </Suspense>
            <Suspense fallback={<CardSkeleton title="Credits by model" />}>
              <MetricChart scope={scope} metric="credits" groupBy="model" stacked title="Credits by model" />
            </Suspense>
            <Suspense fallback={<CardSkeleton title="LLM cost by model" />}>
              <MetricChart scope={scope} metric="cost_usd" groupBy="model" stacked title="LLM cost by model" />
            </Suspense>
            <Suspense fallback={<CardSkeleton title="Errors by type" />}>
              <MetricChart
                scope={scope}
                metric="runs_failed"
                groupBy="error_type"
                stacked
                title="Errors by type"
                description="Failed runs by their error type."
              />
            </Suspense>
          </div>
          <Suspense fallback={<CardSkeleton title="Top agents" />}>
            <TopAgents scope={scope} />
          </Suspense>
        </>
      )}
    </main>
  );
}

const ROLLING_LABELS = ["DAU", "WAU", "MAU"] as const;

/** The KPI row and the chart render the same days: one query per request (same scope object). */
const rollingActiveUsers = cache((scope: DashboardScope) => activeUsersRolling(scope));

async function ActiveUsersKpis({ scope }: { scope: DashboardScope }) {
  return guarded("Active users", async () => {
    const last = (await rollingActiveUsers(scope)).at(-1);
    return (
      <div className={dashboard.kpiRow} data-testid="active-users">
        <KpiCard
          label="DAU"
          value={formatValue(last?.dau ?? null, "integer")}
          rawValue={last?.dau ?? null}
          hint={`on ${formatDay(scope.range.to)}`}
        />
        <KpiCard
          label="WAU"
          value={formatValue(last?.wau ?? null, "integer")}
          rawValue={last?.wau ?? null}
          hint="7 days to that day"
        />
        <KpiCard
          label="MAU"
          value={formatValue(last?.mau ?? null, "integer")}
          rawValue={last?.mau ?? null}
          hint="30 days to that day"
        />
      </div>
    );
  });
}

async function ActiveUsersChart({ scope }: { scope: DashboardScope }) {
  return guarded("Active users (DAU / WAU / MAU)", async () => (
    <Chart
      title="Active users (DAU / WAU / MAU)"
      description="Distinct users with an activity event, run or LLM call: on the day, in the 7 and in the 30 days ending that day."
      kind="line"
      data={await rollingActiveUsers(scope)}
      xKey="day"
      xFormat="day"
      config={{
        dau: { label: "DAU", color: OKABE_ITO.blue },
        wau: { label: "WAU", color: OKABE_ITO.orange },
        mau: { label: "MAU", color: OKABE_ITO.bluishGreen },
      }}
    />
  ));
}

async function TopAgents({ scope }: { scope: DashboardScope }) {
  return guarded("Top agents", async () => {
    const { runs, success, credits } = await asAccount(scope, async (tx) => ({
      runs: await breakdownIn(tx, scope, "runs", "agent", 10),
      success: await breakdownIn(tx, scope, "success_rate", "agent", 50),
      credits: await breakdownIn(tx, scope, "credits", "agent", 50),
    }));
    const rows = runs.map((r) => ({
      id: r.key,
      values: {
        agent: r.label,
        runs: r.value,
        success_rate:
          (success.find((s) => s.key === r.key)?.value ?? null) === null
            ? null
            : (success.find((s) => s.key === r.key)?.value ?? 0) / 100,
        credits: credits.find((c) => c.key === r.key)?.value ?? null,
      },
      hrefs: { agent: `/w/${scope.workspace.slug}/agents/${r.key}` },
    }));
    return (
      <DataTable
        title="Top agents"
        filename={`top-agents-${scope.range.from}-${scope.range.to}.csv`}
        columns={[
          { key: "agent", label: "Agent", link: true },
          { key: "runs", label: "Runs", format: "integer" },
          { key: "success_rate", label: "Success rate", format: "percent" },
          { key: "credits", label: "Credits", format: "credits" },
        ]}
        rows={rows}
        initialSort={{ key: "runs", dir: "desc" }}
        emptyText="No agent ran in this range — pick a longer range."
      />
    );
  });
}
