import type { Metadata } from "next";
import Link from "next/link";
import { Suspense } from "react";
import { Chart } from "@/components/chart/chart";
import { OKABE_ITO } from "@/components/chart/palette";
import { CardSkeleton, guarded } from "@/components/dashboard/card";
import { Heatmap, type HeatmapRow } from "@/components/dashboard/heatmap";
import { DashboardHeader } from "@/components/dashboard/page-header";
import { EmptyState } from "@/components/empty-state";
import { formatValue } from "@/components/format";
import { authorizePage } from "@/lib/access/authorize";
import { COHORT_PERIODS, cohortGrid, cohortOptions, type CohortOptions } from "@/lib/dashboards/cohorts";
import { withParams, type SearchParams } from "@/lib/dashboards/range";
import { dashboardScope, type DashboardScope } from "@/lib/dashboards/scope";

export const metadata: Metadata = { title: "Cohorts" };

const PERIOD_WORD = { daily: "Day", weekly: "Week", monthly: "Month" } as const;

export default async function CohortsPage({
  params,
  searchParams,
}: {
  params: Promise<{ workspace: string }>;
  searchParams: Promise<SearchParams>;
}) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "workspace.read", `/w/${slug}/cohorts`);
  const query = await searchParams;
  const scope = dashboardScope(access, query, { defaultPreset: "90d" });
  const options = cohortOptions(query);
  const link = (changes: Record<string, string | null>) => `/w/${slug}/cohorts${withParams(query, changes)}`;
  return (
    <main className="page">
      <DashboardHeader
        scope={scope}
        title="Cohorts"
        subtitle="Retention of users by the period of their first activity"
      >
        <nav
          aria-label="Cohort options"
          className="card"
          style={{ display: "flex", gap: 16, flexWrap: "wrap", marginBottom: 16 }}
        >
          <span>
            Cohort:{" "}
            {COHORT_PERIODS.map((p) => (
              <Link
                key={p}
                href={link({ cohort: p })}
                aria-current={options.period === p ? "true" : undefined}
                style={{ marginRight: 8, fontWeight: options.period === p ? 700 : 400 }}
              >
                {p}
              </Link>
            ))}
          </span>
          <span>
            Show:{" "}
            <Link
              href={link({ mode: null })}
              aria-current={options.mode === "percent" ? "true" : undefined}
              style={{ fontWeight: options.mode === "percent" ? 700 : 400, marginRight: 8 }}
            >
              percentages
            </Link>
            <Link
              href={link({ mode: "count" })}
              aria-current={options.mode === "count" ? "true" : undefined}
              style={{ fontWeight: options.mode === "count" ? 700 : 400 }}
            >
              counts
            </Link>
          </span>
          <span>
            Retained:{" "}
            <Link
              href={link({ bound: null })}
              aria-current={options.bound === "bounded" ? "true" : undefined}
              style={{ fontWeight: options.bound === "bounded" ? 700 : 400, marginRight: 8 }}
            >
              active in the period
            </Link>
            <Link
              href={link({ bound: "on_or_after" })}
              aria-current={options.bound === "on_or_after" ? "true" : undefined}
              style={{ fontWeight: options.bound === "on_or_after" ? 700 : 400 }}
            >
              active in it or later
            </Link>
          </span>
        </nav>
      </DashboardHeader>
      <Suspense fallback={<CardSkeleton title="Retention" height={400} />}>
        <Retention scope={scope} options={options} />
      </Suspense>
    </main>
  );
}

async function Retention({ scope, options }: { scope: DashboardScope; options: CohortOptions }) {
  return guarded("Retention", async () => {
    const grid = await cohortGrid(scope, options);
    if (grid.rows.length === 0) {
      return (
        <EmptyState title="No cohorts in this range">
          <p>
            Cohorts appear once users are active (events, runs or LLM calls) and the daily cohort rollup has run. Pick a
            longer range, or another cohort period.
          </p>
        </EmptyState>
      );
    }
    const word = PERIOD_WORD[options.period];
    const columns = Array.from({ length: options.periods }, (_, n) => `${word} ${n}`);
    const shown = (count: number | null, pct: number | null) =>
      options.mode === "count" ? formatValue(count, "integer") : pct === null ? "—" : `${pct.toFixed(1)}%`;
    const rows: HeatmapRow[] = grid.rows.map((row) => ({
      key: row.cohortDate,
      label: row.cohortDate,
      size: row.initialUsers,
      cells: columns.map((_, n) => {
        const c = row.cells.find((x) => x.n === n);
        const incomplete = !c || !c.complete;
        return {
          value: incomplete ? null : options.mode === "count" ? c.count : c.pct,
          display: incomplete ? "" : shown(c.count, c.pct),
          intensity: incomplete || c.pct === null ? null : c.pct / 100,
          incomplete,
        };
      }),
    }));
    const footer: HeatmapRow = {
      key: "average",
      label: "Weighted average",
      size: grid.rows.reduce((n, r) => n + r.initialUsers, 0),
      cells: columns.map((_, n) => {
        const a = grid.average.find((x) => x.n === n);
        const none = !a || a.pct === null;
        return {
          value: none ? null : options.mode === "count" ? a.count : a.pct,
          display: none ? "" : shown(a.count, a.pct),
          intensity: none ? null : (a.pct ?? 0) / 100,
          incomplete: none,
        };
      }),
    };
    return (
      <>
        <section className="card" aria-label="Retention grid">
          <Heatmap
            caption={`${options.period} cohorts — ${options.bound === "bounded" ? "active in period n" : "active in period n or later"} (… = period not complete yet)`}
            columns={columns}
            rows={rows}
            footer={footer}
          />
        </section>
        <div style={{ marginTop: 16 }}>
          <Chart
            title="Retention curve"
            description="Weighted average over cohorts whose period is complete (percent of the cohort)."
            kind="line"
            data={grid.average.map((a) => ({
              period: `${word} ${a.n}`,
              retained: a.pct === null ? null : a.pct / 100,
            }))}
            xKey="period"
            xLabel="Period"
            valueFormat="percent"
            config={{ retained: { label: "Retained", color: OKABE_ITO.blue } }}
          />
        </div>
      </>
    );
  });
}
