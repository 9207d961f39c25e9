import { Chart, type ChartRow, type ChartSeriesConfig } from "@/components/chart/chart";
import { OKABE_ITO, RUN_STATUS_COLORS, SERIES_COLORS } from "@/components/chart/palette";
import type { ValueFormat } from "@/components/format";
import { asAccount, scopeMetricIn, type DashboardScope } from "@/lib/dashboards/scope";
import type { GroupBy, MetricFilters, MetricName, MetricUnit } from "@/lib/metrics/definitions";
import { METRIC_DEFINITIONS } from "@/lib/metrics/definitions";
import type { MetricResult } from "@/lib/metrics/query";
import { guarded } from "./card";

/** The CSV download of a chart: the same catalogue query through /api/v1/export/metrics. */
export function exportHref(
  scope: DashboardScope,
  metric: MetricName,
  groupBy?: GroupBy,
  filters?: MetricFilters,
): string {
  const params = new URLSearchParams({
    workspace: scope.workspace.slug,
    metric,
    from: scope.range.from,
    to: scope.range.to,
    granularity: scope.range.granularity,
  });
  if (groupBy) params.set("groupBy", groupBy);
  for (const [key, value] of Object.entries(filters ?? scope.filters)) if (value) params.set(key, value);
  return `/api/v1/export/metrics?${params}`;
}

function ExportLink({
  scope,
  metric,
  groupBy,
  filters,
  label = "Download CSV",
}: {
  scope: DashboardScope;
  metric: MetricName;
  groupBy?: GroupBy;
  filters?: MetricFilters;
  label?: string;
}) {
  const perUser = groupBy === "user" || Boolean((filters ?? scope.filters).userId);
  if (perUser && !scope.canExportUsers) return null;
  return (
    <a className="button button-small" href={exportHref(scope, metric, groupBy, filters)} download>
      {label}
    </a>
  );
}

/** Several metrics' CSVs behind one "Download CSV" menu, so the card header stays one row. */
function ExportMenu({
  scope,
  metrics,
  filters,
}: {
  scope: DashboardScope;
  metrics: MetricName[];
  filters?: MetricFilters;
}) {
  if (Boolean((filters ?? scope.filters).userId) && !scope.canExportUsers) return null;
  return (
    <details className="menu">
      <summary className="button button-small">
        Download CSV <span aria-hidden="true">▾</span>
      </summary>
      <div className="menu-panel">
        <ul className="menu-list">
          {metrics.map((metric) => (
            <li key={metric}>
              <a className="menu-item" href={exportHref(scope, metric, undefined, filters)} download>
                {METRIC_DEFINITIONS[metric].label}
              </a>
            </li>
          ))}
        </ul>
      </div>
    </details>
  );
}

/**
 * Line styles of metrics that can coincide (p95 = p99 when a day has few runs): the later, rarer
 * percentile is dashed so the one under it shows through the gaps.
 */
const METRIC_DASH: Partial<Record<MetricName, string>> = {
  runtime_p95: "7 4",
  runtime_p99: "2 3",
};

export function unitFormat(unit: MetricUnit): ValueFormat {
  if (unit === "percent") return "percent";
  if (unit === "usd") return "usd";
  if (unit === "credits" || unit === "seconds" || unit === "ms") return "decimal";
  return "integer";
}

/** Chart values: the catalogue's percentages are 0–100, the shared formatter expects fractions. */
function chartValue(v: number | null, unit: MetricUnit): number | null {
  return v === null ? null : unit === "percent" ? v / 100 : v;
}

function xOf(t: string, granularity: string): string {
  return granularity === "hour" ? `${t.slice(5, 10)} ${t.slice(11, 16)}` : t.slice(0, 10);
}

/** Catalogue results → rows {x, series…} + a colour config (status series keep their colours). */
export function toChart(results: { result: MetricResult; suffix?: string; labelSuffix?: string }[]): {
  data: ChartRow[];
  config: ChartSeriesConfig;
} {
  const config: ChartSeriesConfig = {};
  const rows = new Map<number, ChartRow>();
  let colour = 0;
  for (const { result, suffix = "", labelSuffix = "" } of results) {
    for (const series of result.series) {
      const key = `s_${series.key.replace(/[^a-zA-Z0-9_]/g, "_")}${suffix}`;
      const statusColour = RUN_STATUS_COLORS[series.key as keyof typeof RUN_STATUS_COLORS];
      // Run statuses read as words ("Completed"), like everywhere else in the app.
      const seriesLabel = statusColour ? `${series.label[0].toUpperCase()}${series.label.slice(1)}` : series.label;
      config[key] = {
        label: `${seriesLabel}${labelSuffix}`,
        color: suffix ? OKABE_ITO.grey : (statusColour ?? SERIES_COLORS[colour++ % SERIES_COLORS.length]),
      };
      series.points.forEach((point, index) => {
        const row = rows.get(index) ?? { x: xOf(point.t, result.granularity) };
        // The previous period is drawn against the current period's buckets, by position.
        row[key] = chartValue(point.v, result.unit);
        rows.set(index, row);
      });
    }
  }
  return { data: [...rows.values()], config };
}

export async function MetricChart({
  scope,
  metric,
  title,
  description,
  groupBy,
  filters,
  kind = "bar",
  stacked = false,
  limit,
}: {
  scope: DashboardScope;
  metric: MetricName;
  title: string;
  description?: string;
  groupBy?: GroupBy;
  filters?: MetricFilters;
  kind?: "bar" | "line" | "area";
  stacked?: boolean;
  limit?: number;
}) {
  return guarded(title, async () => {
    const definition = METRIC_DEFINITIONS[metric];
    // One transaction for the card's queries (the current and, when comparing, the previous period).
    const { current, previous } = await asAccount(scope, async (tx) => ({
      current: await scopeMetricIn(tx, scope, metric, { groupBy, filters, limit }),
      previous:
        scope.range.compare && !groupBy ? await scopeMetricIn(tx, scope, metric, { filters, previous: true }) : null,
    }));
    const results: { result: MetricResult; suffix?: string; labelSuffix?: string }[] = [{ result: current }];
    if (previous) results.push({ result: previous, suffix: "_prev", labelSuffix: " (previous period)" });
    const { data, config } = toChart(results);
    const nothing = current.series.every((s) => s.points.every((p) => p.v === null || p.v === 0));
    return (
      <div data-metric={metric} data-testid={`chart-${metric}${groupBy ? `-by-${groupBy}` : ""}`}>
        <Chart
          title={title}
          description={
            nothing
              ? "No data in this range — widen the range or check that events are being ingested."
              : (description ?? definition.description)
          }
          kind={kind}
          stacked={stacked}
          data={data}
          xKey="x"
          xFormat={current.granularity === "hour" ? "text" : "day"}
          xLabel={
            current.granularity === "hour"
              ? "Hour"
              : current.granularity === "day"
                ? "Day"
                : `${current.granularity[0].toUpperCase()}${current.granularity.slice(1)} starting`
          }
          valueFormat={unitFormat(current.unit)}
          config={config}
          actions={<ExportLink scope={scope} metric={metric} groupBy={groupBy} filters={filters} />}
        />
      </div>
    );
  });
}

/** Several ungrouped metrics of one unit in one chart (e.g. runtime p50/p95/p99). */
export async function MultiMetricChart({
  scope,
  title,
  description,
  metrics,
  kind = "line",
  filters,
  gapNote,
}: {
  scope: DashboardScope;
  title: string;
  description?: string;
  metrics: MetricName[];
  kind?: "bar" | "line" | "area";
  filters?: MetricFilters;
  /** What a missing point means, in the legend ("no finished runs that day"). */
  gapNote?: string;
}) {
  return guarded(title, async () => {
    const results = await asAccount(scope, async (tx) => {
      const out: MetricResult[] = [];
      for (const metric of metrics) out.push(await scopeMetricIn(tx, scope, metric, { filters }));
      return out;
    });
    const { data, config: colours } = toChart(
      results.map((result) => ({
        result: {
          ...result,
          series: result.series.map((s) => ({
            ...s,
            key: result.metric,
            label: METRIC_DEFINITIONS[result.metric].label,
          })),
        },
      })),
    );
    const config = Object.fromEntries(
      Object.entries(colours).map(([key, series]) => [
        key,
        { ...series, dash: METRIC_DASH[key.replace(/^s_/, "") as MetricName] },
      ]),
    );
    const first = results[0];
    return (
      <div data-testid={`chart-${metrics.join("-")}`}>
        <Chart
          title={title}
          description={description}
          kind={kind}
          data={data}
          xKey="x"
          xFormat={first.granularity === "hour" ? "text" : "day"}
          xLabel={first.granularity === "hour" ? "Hour" : "Day"}
          valueFormat={unitFormat(first.unit)}
          config={config}
          gapNote={
            gapNote ??
            (metrics.every((m) => m.startsWith("runtime_"))
              ? `no finished runs that ${first.granularity}`
              : `no value for that ${first.granularity}`)
          }
          actions={
            metrics.length === 1 ? (
              <ExportLink scope={scope} metric={metrics[0]} filters={filters} />
            ) : (
              <ExportMenu scope={scope} metrics={metrics} filters={filters} />
            )
          }
        />
      </div>
    );
  });
}
