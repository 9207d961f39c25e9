import type { Metadata } from "next";
import { Suspense } from "react";
import { DashboardFilters } from "@/components/dashboard/filters";
import { DashboardHeader } from "@/components/dashboard/page-header";
import { UsageSections } from "@/components/dashboard/usage";
import { authorizePage } from "@/lib/access/authorize";
import { asAccount, dashboardScope } from "@/lib/dashboards/scope";
import { auditUsageView } from "@/lib/dashboards/usage-audit";
import type { SearchParams } from "@/lib/dashboards/range";

export const metadata: Metadata = { title: "Token usage" };

export default async function UsagePage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "workspace.read", `/w/${slug}/usage`);
  const scope = dashboardScope(access, await searchParams);
  // Without usage.read_all a person may not look at one other user: drop a userId they typed in.
  if (!scope.canSeeAllUsers) delete scope.filters.userId;
  // Filter choices come from the per-day rollup (0115): ~24× fewer rows than the hourly one.
  const options = await asAccount(scope, async (tx) => ({
    agents: await tx.$queryRaw<{ value: string; label: string }[]>`
      SELECT id::text AS value, name AS label FROM public.agents WHERE workspace_id = ${scope.workspace.id}::uuid ORDER BY name LIMIT 500`,
    models: await tx.$queryRaw<{ value: string; label: string }[]>`
      SELECT DISTINCT model AS value, model AS label FROM analytics.llm_usage_daily
      WHERE workspace_id = ${scope.workspace.id}::uuid AND day >= (now() - interval '91 days')::date ORDER BY 1 LIMIT 200`,
    providers: await tx.$queryRaw<{ value: string; label: string }[]>`
      SELECT DISTINCT provider AS value, provider AS label FROM analytics.llm_usage_daily
      WHERE workspace_id = ${scope.workspace.id}::uuid AND day >= (now() - interval '91 days')::date ORDER BY 1 LIMIT 50`,
    user: scope.filters.userId
      ? ((
          await tx.$queryRaw<{ label: string }[]>`
          SELECT coalesce(name, email, external_id) AS label FROM public.users
          WHERE workspace_id = ${scope.workspace.id}::uuid AND id = ${scope.filters.userId}::uuid`
        )[0]?.label ?? null)
      : null,
  }));
  if (scope.filters.userId && options.user !== null) await auditUsageView(access, scope.filters.userId);
  return (
    <main className="page">
      <DashboardHeader
        scope={scope}
        title="Token usage"
        subtitle={options.user ? `One user: ${options.user}` : "Tokens and cost of LLM calls, by when they were made"}
      >
        <Suspense fallback={null}>
          <DashboardFilters
            filters={[
              { key: "agentId", label: "Agent", options: options.agents },
              { key: "model", label: "Model", options: options.models },
              { key: "provider", label: "Provider", options: options.providers },
            ]}
          />
        </Suspense>
      </DashboardHeader>
      <UsageSections
        scope={scope}
        perUser={scope.canSeeAllUsers && !scope.filters.userId}
        userBaseHref={`/w/${slug}/usage`}
      />
    </main>
  );
}
