import { Suspense } from "react";
import { asAccount, type DashboardScope } from "@/lib/dashboards/scope";
import type { MetricName } from "@/lib/metrics/definitions";
import { queryMetricBreakdown, type BreakdownRow } from "@/lib/metrics/query";
import { KpiCardSkeleton } from "@/components/kpi-card";
import { CardSkeleton, guarded } from "./card";
import { DataTable } from "./data-table";
import { MetricChart, MultiMetricChart } from "./metric-chart";
import { MetricKpi } from "./metric-kpi";
import dashboard from "./dashboard.module.css";

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
    const metrics: MetricName[] = [
      "prompt_tokens",
      "completion_tokens",
      "total_tokens",
      "cost_usd",
      "llm_calls",
      "unpriced_llm_calls",
    ];
    const limit = 50;
    // All six breakdowns in one transaction (one pool connection for the card).
    const columns = await asAccount(scope, async (tx) => {
      const out: BreakdownRow[][] = [];
      for (const metric of metrics) {
        out.push(
          await queryMetricBreakdown(tx, {
            workspace: scope.workspace,
            metric,
            from: scope.range.from,
            to: scope.range.to,
            groupBy,
            filters: scope.filters,
            limit,
          }),
        );
      }
      return out;
    });
    const keys = columns[2].map((r) => r.key); // ordered by total tokens
    const value = (i: number, key: string) => columns[i].find((r) => r.key === key)?.value ?? 0;
    const rows = keys.map((key) => {
      const unpriced = value(5, key);
      return {
        id: key,
        values: {
          name: columns[2].find((r) => r.key === key)?.label ?? key,
          prompt_tokens: value(0, key),
          completion_tokens: value(1, key),
          total_tokens: value(2, key),
          cost_usd: value(3, key),
          llm_calls: value(4, key),
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
