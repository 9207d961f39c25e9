import { KpiCard } from "@/components/kpi-card";
import { formatValue } from "@/components/format";
import { kpi, type DashboardScope } from "@/lib/dashboards/scope";
import { METRIC_DEFINITIONS, type MetricFilters, type MetricName } from "@/lib/metrics/definitions";
import { guarded } from "./card";
import { unitFormat } from "./metric-chart";
import styles from "./dashboard.module.css";

/** Relative change in percent, or null when there is nothing to compare with. */
export function changePercent(value: number | null, previous: number | null): number | null {
  if (value === null || previous === null || previous === 0) return null;
  return ((value - previous) / Math.abs(previous)) * 100;
}

export function formatMetricValue(value: number | null, metric: MetricName): string {
  const unit = METRIC_DEFINITIONS[metric].unit;
  const shown = value === null ? null : unit === "percent" ? value / 100 : value;
  const text = formatValue(shown, unitFormat(unit));
  return value === null ? text : unit === "seconds" ? `${text} s` : unit === "ms" ? `${text} ms` : text;
}

/** A KPI card from the catalogue: the range's value and its change vs the previous period. */
export async function MetricKpi({
  scope,
  metric,
  label,
  filters,
}: {
  scope: DashboardScope;
  metric: MetricName;
  label?: string;
  filters?: MetricFilters;
}) {
  const definition = METRIC_DEFINITIONS[metric];
  const title = label ?? definition.label;
  return guarded(title, async () => {
    const { value, previous } = await kpi(scope, metric, filters);
    const change = changePercent(value, previous);
    // Percent-unit metrics change in points, which reads better than a percent of a percent.
    const delta =
      definition.unit === "percent"
        ? value !== null && previous !== null
          ? `${value - previous >= 0 ? "+" : ""}${(value - previous).toFixed(1)} pts`
          : null
        : change === null
          ? null
          : `${change >= 0 ? "+" : ""}${change.toFixed(1)}%`;
    const diff = value !== null && previous !== null ? value - previous : 0;
    const good =
      definition.goodDirection === "neutral" || diff === 0 ? null : diff > 0 === (definition.goodDirection === "up");
    return (
      <div data-testid={`kpi-${metric}`} title={definition.description}>
        <KpiCard
          label={title}
          value={formatMetricValue(value, metric)}
          rawValue={value}
          hint={
            <span className={`${styles.change} ${good === null ? "" : good ? styles.good : styles.bad}`}>
              {delta ? `${delta} vs previous period` : "No previous period to compare"} (
              {formatMetricValue(previous, metric)})
            </span>
          }
        />
      </div>
    );
  });
}
