import type { Metadata } from "next";
import { Suspense } from "react";
import { CardSkeleton, guarded } from "@/components/dashboard/card";
import { DataTable } from "@/components/dashboard/data-table";
import { DashboardHeader } from "@/components/dashboard/page-header";
import { authorizePage } from "@/lib/access/authorize";
import { agentSparklines, agentsTable } from "@/lib/dashboards/agents";
import type { SearchParams } from "@/lib/dashboards/range";
import { dashboardScope, type DashboardScope } from "@/lib/dashboards/scope";

export const metadata: Metadata = { title: "Agents" };

export default async function AgentsPage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "workspace.read", `/w/${slug}/agents`);
  const scope = dashboardScope(access, await searchParams);
  return (
    <main className="page">
      <DashboardHeader scope={scope} title="Agents" subtitle="Every agent, its volume, reliability, speed and cost" />
      <Suspense fallback={<CardSkeleton title="Agents" height={400} />}>
        <AgentsTable scope={scope} />
      </Suspense>
    </main>
  );
}

async function AgentsTable({ scope }: { scope: DashboardScope }) {
  return guarded("Agents", async () => {
    const [agents, sparklines] = await Promise.all([agentsTable(scope), agentSparklines(scope)]);
    return (
      <div data-testid="agents-table">
        <DataTable
          title="Agents"
          filename={`agents-${scope.range.from}-${scope.range.to}.csv`}
          initialSort={{ key: "runs", dir: "desc" }}
          emptyText="No agents yet — agents appear when the first run is ingested through /api/v1/ingest."
          columns={[
            { key: "name", label: "Agent", link: true },
            { key: "trend", label: "Runs trend", sparkline: true },
            { key: "runs", label: "Runs", format: "integer" },
            { key: "success_rate", label: "Success rate", format: "percent" },
            { key: "runtime_avg", label: "Avg runtime (s)", format: "decimal" },
            { key: "runtime_p50", label: "Median runtime (s)", format: "decimal" },
            { key: "runtime_p95", label: "p95 runtime (s)", format: "decimal" },
            { key: "credits", label: "Credits", format: "credits" },
            { key: "cost_per_successful_run", label: "Cost / successful run", format: "usd" },
            { key: "unique_users", label: "Users", format: "integer" },
            { key: "rating", label: "Rating", format: "decimal" },
            { key: "last_run_hour", label: "Last run (hour)" },
          ]}
          rows={agents.map((a) => ({
            id: a.agent_id,
            values: {
              name: a.name,
              runs: a.runs,
              success_rate: a.success_rate === null ? null : a.success_rate / 100,
              runtime_avg: a.runtime_avg,
              runtime_p50: a.runtime_p50,
              runtime_p95: a.runtime_p95,
              credits: a.credits,
              cost_per_successful_run: a.cost_per_successful_run,
              unique_users: a.unique_users,
              rating: a.rating,
              last_run_hour: a.last_run_hour,
            },
            sparklines: { trend: sparklines.get(a.agent_id) ?? [] },
            hrefs: { name: `/w/${scope.workspace.slug}/agents/${a.agent_id}` },
          }))}
        />
      </div>
    );
  });
}
