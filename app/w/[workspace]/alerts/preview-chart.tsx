"use client";

import { useId } from "react";
import {
  CartesianGrid,
  ComposedChart,
  Line,
  ReferenceDot,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { PreviewSeries } from "@/lib/alerts/preview";

const COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function hourLabel(t: string): string {
  // Bucket labels are local times with their offset ("2026-03-10T14:00:00+01:00"): show them as is.
  return t.slice(5, 16).replace("T", " ");
}

/**
 * The metric over the preview range with the threshold drawn and the moments the rule would have
 * fired marked. A percent-change rule's threshold is a change, not a level: it is listed, not drawn.
 */
export function PreviewChart({
  series,
  threshold,
  thresholdIsPercent,
  range,
  unit,
}: {
  series: PreviewSeries[];
  threshold: number;
  thresholdIsPercent: boolean;
  range: "24h" | "7d";
  unit: string;
}) {
  const titleId = useId();
  const times = series[0]?.points.map((p) => p.t) ?? [];
  const rows = times.map((t, i) => {
    const row: Record<string, string | number | null> = { t };
    series.forEach((s, index) => {
      row[`s${index}`] = s.points[i]?.value ?? null;
    });
    return row;
  });
  const fired = series.flatMap((s, index) =>
    s.firedAt.map((t) => ({ t, index, label: s.label, value: s.points.find((p) => p.t === t)?.value ?? null })),
  );
  return (
    <section className="card" aria-labelledby={titleId} data-testid="alert-preview">
      <h2 id={titleId} className="card-title">
        Preview: last {range === "24h" ? "24 hours" : "7 days"} ({unit})
      </h2>
      <div
        className="chart-body"
        role="img"
        aria-label={`Metric over the last ${range} with the threshold and ${fired.length} firing moment(s)`}
      >
        <ResponsiveContainer width="100%" height="100%">
          <ComposedChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
            <CartesianGrid vertical={false} />
            <XAxis dataKey="t" tickFormatter={hourLabel} tickLine={false} axisLine={false} minTickGap={24} />
            <YAxis tickLine={false} axisLine={false} width={56} />
            <Tooltip labelFormatter={(label) => hourLabel(String(label))} />
            {series.map((s, index) => (
              <Line
                key={s.key}
                dataKey={`s${index}`}
                name={s.label}
                stroke={COLORS[index % COLORS.length]}
                dot={false}
                strokeWidth={2}
                isAnimationActive={false}
                connectNulls={false}
              />
            ))}
            {!thresholdIsPercent && Number.isFinite(threshold) ? (
              <ReferenceLine
                y={threshold}
                stroke="#dc2626"
                strokeDasharray="6 4"
                label={{ value: `threshold ${threshold}`, position: "insideTopRight" }}
              />
            ) : null}
            {fired.map((f) =>
              f.value === null ? (
                <ReferenceLine key={`${f.index}-${f.t}`} x={f.t} stroke="#dc2626" />
              ) : (
                <ReferenceDot key={`${f.index}-${f.t}`} x={f.t} y={f.value} r={5} fill="#dc2626" stroke="white" />
              ),
            )}
          </ComposedChart>
        </ResponsiveContainer>
      </div>
      <p data-testid="preview-fired">
        {fired.length === 0
          ? "The rule would not have fired in this period."
          : `Would have fired ${fired.length} time(s): ${fired.map((f) => `${hourLabel(f.t)}${series.length > 1 ? ` (${f.label})` : ""}`).join(", ")}.`}
        {thresholdIsPercent ? ` Threshold: a change of ${threshold} % vs the previous hour.` : ""}
      </p>
    </section>
  );
}
