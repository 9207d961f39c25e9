"use client";

import { useId, useState, type ReactNode } from "react";
import {
  Area,
  Bar,
  CartesianGrid,
  ComposedChart,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
  type TooltipContentProps,
} from "recharts";
import { formatAxisValue, formatDay, type ValueFormat } from "../format";

/**
 * One Recharts wrapper for every chart (in the spirit of shadcn/ui's chart.tsx): the caller gives
 * rows and a series config {dataKey: {label, color}}; the wrapper draws bars, lines or areas,
 * a tooltip and a legend in those labels and colours, and a "Show as table" toggle that renders
 * the same numbers as an HTML table (screen readers, copying, colour-blind readers).
 * Props are plain data so server components can render it directly.
 */
export type ChartSeriesConfig = Record<
  string,
  {
    label: string;
    color: string;
    /** SVG stroke-dasharray of a line ("6 4"): series that can coincide stay distinguishable. */
    dash?: string;
  }
>;
export type ChartRow = Record<string, string | number | null>;

export type ChartProps = {
  title: string;
  description?: string;
  kind?: "bar" | "line" | "area";
  /** Stack the series (bars/areas); the table then gets a Total column. */
  stacked?: boolean;
  data: ChartRow[];
  xKey: string;
  /** "day": x values are YYYY-MM-DD calendar days. */
  xFormat?: "day" | "text";
  /** Heading of the x column in the table view. */
  xLabel?: string;
  valueFormat?: ValueFormat;
  config: ChartSeriesConfig;
  height?: number;
  /**
   * Lines: what a missing point means ("no finished runs that day"). When points are missing the
   * lines join the points around them (broken segments and lone days read as noise), every real
   * point gets a dot, and the legend says that a day without a dot has no value.
   */
  gapNote?: string;
  /** Extra controls in the card header beside "Show as table" (e.g. CSV download links). */
  actions?: ReactNode;
};

export function Chart({
  title,
  description,
  kind = "bar",
  stacked = false,
  data,
  xKey,
  xFormat = "text",
  xLabel = xFormat === "day" ? "Day" : xKey,
  valueFormat = "integer",
  config,
  height,
  gapNote = "no value",
  actions,
}: ChartProps) {
  const [showTable, setShowTable] = useState(false);
  const titleId = useId();
  const series = Object.entries(config);
  const formatX = (value: unknown) => (xFormat === "day" ? formatDay(String(value)) : String(value ?? ""));
  // A missing value (a percentile of a day without runs) is "—", never 0.
  const formatY = (value: unknown) =>
    value === null || value === undefined
      ? "—"
      : formatAxisValue(typeof value === "number" ? value : Number(value), valueFormat);
  const hasGaps =
    kind === "line" && series.some(([key]) => data.some((row) => row[key] === null || row[key] === undefined));

  return (
    <section className="card" aria-labelledby={titleId}>
      <div className="chart-header">
        <div>
          <h2 id={titleId} className="card-title">
            {title}
          </h2>
          {description ? <p className="card-description">{description}</p> : null}
        </div>
        <div className="chart-actions">
          {actions}
          <button
            type="button"
            className="button button-small"
            aria-pressed={showTable}
            onClick={() => setShowTable((shown) => !shown)}
          >
            {showTable ? "Show as chart" : "Show as table"}
          </button>
        </div>
      </div>
      {showTable ? (
        <ChartTable
          title={title}
          data={data}
          xKey={xKey}
          xLabel={xLabel}
          formatX={formatX}
          formatY={formatY}
          series={series}
          total={stacked}
        />
      ) : (
        <>
          <div
            className="chart-body"
            style={height ? { height } : undefined}
            role="img"
            aria-label={`${title} (chart; use "Show as table" for the numbers)`}
          >
            <ResponsiveContainer width="100%" height="100%">
              <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
                <CartesianGrid vertical={false} />
                <XAxis dataKey={xKey} tickFormatter={formatX} tickLine={false} axisLine={false} minTickGap={16} />
                <YAxis
                  tickFormatter={formatY}
                  tickLine={false}
                  axisLine={false}
                  width={56}
                  allowDecimals={valueFormat !== "integer"}
                />
                <Tooltip
                  content={(props: TooltipContentProps) => (
                    <ChartTooltip {...props} config={config} formatX={formatX} formatY={formatY} />
                  )}
                />
                {/* No animations: dashboards re-render on resize and filters, and motion helps no one read numbers. */}
                {/* Lines are drawn last-first with dots shrinking towards the first series, so equal
                    values (p95 = p99 on a quiet day) show as concentric dots, not one hiding another. */}
                {kind === "line"
                  ? series
                      .map(([key, { label, color, dash }], index) => (
                        <Line
                          key={key}
                          dataKey={key}
                          isAnimationActive={false}
                          name={label}
                          stroke={color}
                          strokeWidth={2}
                          strokeDasharray={dash}
                          dot={hasGaps ? { r: 2.5 + 1.5 * index, fill: color, strokeWidth: 0 } : false}
                          connectNulls
                          type="monotone"
                        />
                      ))
                      .reverse()
                  : null}
                {series.map(([key, { label, color }], index) => {
                  const stackId = stacked ? "stack" : undefined;
                  if (kind === "line") return null;
                  if (kind === "area") {
                    return (
                      <Area
                        key={key}
                        dataKey={key}
                        isAnimationActive={false}
                        name={label}
                        stroke={color}
                        fill={color}
                        fillOpacity={0.25}
                        stackId={stackId}
                        type="monotone"
                      />
                    );
                  }
                  const top = !stacked || index === series.length - 1;
                  return (
                    <Bar
                      key={key}
                      dataKey={key}
                      isAnimationActive={false}
                      name={label}
                      fill={color}
                      stackId={stackId}
                      radius={top ? [3, 3, 0, 0] : 0}
                      maxBarSize={40}
                    />
                  );
                })}
              </ComposedChart>
            </ResponsiveContainer>
          </div>
          <ul className="chart-legend" aria-label="Legend">
            {series.map(([key, { label, color, dash }]) => (
              <li key={key}>
                {kind === "line" ? (
                  <svg className="chart-line-swatch" width="24" height="10" aria-hidden="true">
                    <line x1="0" y1="5" x2="24" y2="5" stroke={color} strokeWidth="2.5" strokeDasharray={dash} />
                  </svg>
                ) : (
                  <span className="chart-swatch" style={{ background: color }} aria-hidden="true" />
                )}
                {label}
              </li>
            ))}
            {hasGaps ? (
              <li className="chart-legend-note">No dot: {gapNote} (the line joins the dots around it)</li>
            ) : null}
          </ul>
        </>
      )}
    </section>
  );
}

function ChartTooltip({
  active,
  payload,
  label,
  config,
  formatX,
  formatY,
}: TooltipContentProps & {
  config: ChartSeriesConfig;
  formatX: (value: unknown) => string;
  formatY: (value: unknown) => string;
}) {
  if (!active || !payload || payload.length === 0) return null;
  return (
    <div className="chart-tooltip">
      <div className="chart-tooltip-label">{formatX(label)}</div>
      {[...payload].reverse().map((entry) => {
        const key = String(entry.dataKey ?? entry.name);
        const item = config[key];
        return (
          <div className="chart-tooltip-row" key={key}>
            <span className="chart-swatch" style={{ background: item?.color ?? entry.color }} aria-hidden="true" />
            <span>{item?.label ?? entry.name}</span>
            <span className="chart-tooltip-value">{formatY(entry.value)}</span>
          </div>
        );
      })}
    </div>
  );
}

function ChartTable({
  title,
  data,
  xKey,
  xLabel,
  formatX,
  formatY,
  series,
  total,
}: {
  title: string;
  data: ChartRow[];
  xKey: string;
  xLabel: string;
  formatX: (value: unknown) => string;
  formatY: (value: unknown) => string;
  series: [string, { label: string; color: string }][];
  total: boolean;
}) {
  return (
    <div className="table-wrap">
      <table className="data-table">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{xLabel}</th>
            {series.map(([key, { label }]) => (
              <th scope="col" className="num" key={key}>
                {label}
              </th>
            ))}
            {total ? (
              <th scope="col" className="num">
                Total
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {data.map((row, index) => (
            <tr key={`${String(row[xKey])}-${index}`}>
              <th scope="row">{formatX(row[xKey])}</th>
              {series.map(([key]) => (
                <td key={key} className="num">
                  {formatY(row[key])}
                </td>
              ))}
              {total ? (
                <td className="num">{formatY(series.reduce((sum, [key]) => sum + (Number(row[key]) || 0), 0))}</td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
