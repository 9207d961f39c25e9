import { Suspense } from "react";
import { asAccount, type DashboardScope } from "@/lib/dashboards/scope";
import type { MetricName } from "@/lib/metrics/definitions";
import { queryMetricColumns } from "@/lib/metrics/query";
import { KpiCardSkeleton } from "@/components/kpi-card";
import { CardSkeleton, guarded } from "./card";
import { DataTable } from "./data-table";
import { MetricChart, MultiMetricChart } from "./metric-chart";
import { MetricKpi } from "./metric-kpi";
import dashboard from "./dashboard.module.css";

/** The usage KPIs, and the usage tables' columns (the first orders the tables). */
const USAGE_KPIS: MetricName[] = [
  "total_tokens",
  "prompt_tokens",
  "completion_tokens",
  "cost_usd",
  "llm_calls",
  "unpriced_llm_calls",
];

/**
 * The token-usage dashboard, shared by the workspace's Usage page (everyone, or one user drilled
 * into with ?userId=) and "My usage" (the scope's filters pin the person's own tracked user).
 * `perUser` shows the by-user breakdowns: only for people allowed to see others' usage.
 */
export function UsageSections({
  scope,
  perUser,
  userBaseHref,
}: {
  scope: DashboardScope;
  perUser: boolean;
  userBaseHref?: string;
}) {
  return (
    <>
      <div className="kpi-grid">
        {USAGE_KPIS.map((metric) => (
          <Suspense key={metric} fallback={<KpiCardSkeleton label={metric} />}>
            <MetricKpi scope={scope} metric={metric} />
          </Suspense>
        ))}
      </div>
      <div className={dashboard.grid} style={{ marginTop: 16 }}>
        <Suspense fallback={<CardSkeleton title="Prompt vs completion tokens" />}>
          <MultiMetricChart
            scope={scope}
            title="Prompt vs completion tokens"
            metrics={["prompt_tokens", "completion_tokens"]}
            kind="bar"
          />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Cost" />}>
          <MetricChart scope={scope} metric="cost_usd" groupBy="model" stacked title="Cost by model" />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Tokens by provider" />}>
          <MetricChart scope={scope} metric="total_tokens" groupBy="provider" stacked title="Tokens by provider" />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Tokens by agent" />}>
          <MetricChart scope={scope} metric="total_tokens" groupBy="agent" stacked title="Tokens by agent" />
        </Suspense>
      </div>
      <Suspense fallback={<CardSkeleton title="By model" />}>
        <UsageTable scope={scope} groupBy="model" title="Usage by model" />
      </Suspense>
      {perUser ? (
        <div style={{ marginTop: 16 }}>
          <Suspense fallback={<CardSkeleton title="Top consumers" />}>
            <UsageTable scope={scope} groupBy="user" title="Top consumers" userBaseHref={userBaseHref} />
          </Suspense>
        </div>
      ) : null}
    </>
  );
}

/** One row per model (or user): tokens, cost, calls and unpriced calls over the range. */
async function UsageTable({
  scope,
  groupBy,
  title,
  userBaseHref,
}: {
  scope: DashboardScope;
  groupBy: "model" | "user";
  title: string;
  userBaseHref?: string;
}) {
  return guarded(title, async () => {
    // Ordered by total tokens; every column is that group's own value (one scan of the rollup).
    const columns = await asAccount(scope, (tx) =>
      queryMetricColumns(tx, {
        workspace: scope.workspace,
        metrics: USAGE_KPIS,
        from: scope.range.from,
        to: scope.range.to,
        groupBy,
        filters: scope.filters,
        limit: 50,
      }),
    );
    const rows = columns.map(({ key, label, values }) => {
      const unpriced = values.unpriced_llm_calls ?? 0;
      return {
        id: key,
        values: {
          name: label,
          prompt_tokens: values.prompt_tokens ?? 0,
          completion_tokens: values.completion_tokens ?? 0,
          total_tokens: values.total_tokens ?? 0,
          cost_usd: values.cost_usd ?? 0,
          llm_calls: values.llm_calls ?? 0,
          unpriced_llm_calls: unpriced,
          priced: unpriced > 0 ? "⚠ partly unpriced" : "priced",
        },
        hrefs: userBaseHref && groupBy === "user" ? { name: `${userBaseHref}?userId=${key}` } : undefined,
      };
    });
    return (
      <div data-testid={`usage-by-${groupBy}`}>
        <DataTable
          title={title}
          filename={`usage-by-${groupBy}-${scope.range.from}-${scope.range.to}.csv`}
          initialSort={{ key: "total_tokens", dir: "desc" }}
          // Other people's usage, one row per person: exporting it needs usage.export.
          exportable={groupBy !== "user" || scope.canExportUsers}
          emptyText="No LLM calls in this range — widen the range, or send llm_call events through /api/v1/ingest."
          columns={[
            { key: "name", label: groupBy === "model" ? "Model" : "User", link: groupBy === "user" },
            { key: "prompt_tokens", label: "Prompt tokens", format: "integer" },
            { key: "completion_tokens", label: "Completion tokens", format: "integer" },
            { key: "total_tokens", label: "Total tokens", format: "integer" },
            { key: "cost_usd", label: "Cost", format: "usd" },
            { key: "llm_calls", label: "Calls", format: "integer" },
            { key: "unpriced_llm_calls", label: "Unpriced calls", format: "integer" },
            { key: "priced", label: "Pricing" },
          ]}
          rows={rows}
        />
      </div>
    );
  });
}
