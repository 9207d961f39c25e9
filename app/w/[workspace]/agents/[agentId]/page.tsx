import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { Suspense } from "react";
import { z } from "zod";
import { CardSkeleton, guarded } from "@/components/dashboard/card";
import { DataTable } from "@/components/dashboard/data-table";
import { MetricChart, MultiMetricChart } from "@/components/dashboard/metric-chart";
import { MetricKpi } from "@/components/dashboard/metric-kpi";
import { DashboardHeader } from "@/components/dashboard/page-header";
import dashboard from "@/components/dashboard/dashboard.module.css";
import { KpiCardSkeleton } from "@/components/kpi-card";
import { authorizePage } from "@/lib/access/authorize";
import { agentStages, agentsTable } from "@/lib/dashboards/agents";
import type { SearchParams } from "@/lib/dashboards/range";
import { dashboardScope, type DashboardScope } from "@/lib/dashboards/scope";
import type { MetricName } from "@/lib/metrics/definitions";

export const metadata: Metadata = { title: "Agent" };

export default async function AgentPage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string; agentId: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const { workspace: slug, agentId } = await params;
  if (!z.uuid().safeParse(agentId).success) notFound();
  const access = await authorizePage(slug, "workspace.read", `/w/${slug}/agents/${agentId}`);
  const base = dashboardScope(access, await searchParams);
  // Every card of this page is about this one agent.
  const scope: DashboardScope = { ...base, filters: { agentId } };
  const [agent] = await agentsTable(scope, agentId);
  if (!agent) notFound();
  const kpis: MetricName[] = ["runs", "success_rate", "runtime_p95", "credits", "cost_usd"];
  return (
    <main className="page">
      <DashboardHeader scope={scope} title={agent.name} subtitle="Agent" />
      <div className="kpi-grid">
        {kpis.map((metric) => (
          <Suspense key={metric} fallback={<KpiCardSkeleton label={metric} />}>
            <MetricKpi scope={scope} metric={metric} />
          </Suspense>
        ))}
      </div>
      <div className={dashboard.grid} style={{ marginTop: 16 }}>
        <Suspense fallback={<CardSkeleton title="Runtime percentiles" />}>
          <MultiMetricChart
            scope={scope}
            title="Runtime percentiles over time"
            metrics={["runtime_p50", "runtime_p95", "runtime_p99"]}
            description="Seconds, finished runs."
          />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Failures by reason" />}>
          <MetricChart scope={scope} metric="runs_failed" groupBy="error_type" stacked title="Failures by reason" />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Tokens by model" />}>
          <MetricChart scope={scope} metric="total_tokens" groupBy="model" stacked title="Tokens by model" />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Cost by model" />}>
          <MetricChart scope={scope} metric="cost_usd" groupBy="model" stacked title="Cost by model" />
        </Suspense>
        {scope.canSeeAllUsers ? (
          <Suspense fallback={<CardSkeleton title="Runs by user" />}>
            <MetricChart scope={scope} metric="runs" groupBy="user" stacked title="Runs by user (top 10)" limit={10} />
          </Suspense>
        ) : null}
      </div>
      <Suspense fallback={<CardSkeleton title="Runs by stage" />}>
        <Stages scope={scope} agentId={agentId} />
      </Suspense>
    </main>
  );
}

async function Stages({ scope, agentId }: { scope: DashboardScope; agentId: string }) {
  return guarded("Runs by stage", async () => {
    const stages = await agentStages(scope, agentId);
    return (
      <DataTable
        title="Runs by stage"
        filename={`agent-${agentId}-stages-${scope.range.from}-${scope.range.to}.csv`}
        emptyText="This agent reported no stages in this range — send run stages with the run (see the ingest API) to see time, tokens and cost per pass."
        initialSort={{ key: "stages", dir: "desc" }}
        columns={[
          { key: "stage", label: "Stage" },
          { key: "stages", label: "Executions", format: "integer" },
          { key: "failed", label: "Failed", format: "integer" },
          { key: "duration_avg_ms", label: "Avg time (ms)", format: "integer" },
          { key: "duration_p95_ms", label: "p95 time (ms)", format: "integer" },
          { key: "prompt_tokens", label: "Prompt tokens", format: "integer" },
          { key: "completion_tokens", label: "Completion tokens", format: "integer" },
          { key: "cost_usd", label: "Cost", format: "usd" },
          { key: "unpriced", label: "Unpriced", format: "integer" },
        ]}
        rows={stages.map((s) => ({ id: s.stage, values: { ...s } }))}
      />
    );
  });
}
