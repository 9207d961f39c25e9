import type { MetricResult } from "./query";

/** One CSV field: quoted when it holds a comma, quote or line break; formula-leading text defused. */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  // Spreadsheets run cells starting with = + - @ as formulas: prefix a quote so a label cannot.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(header: string[], rows: (string | number | null)[][]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** A metric result as long-format CSV: bucket, series key, series label, value. */
export function metricCsv(result: MetricResult): string {
  const rows = result.series.flatMap((s) => s.points.map((p) => [p.t, s.key, s.label, p.v]));
  return toCsv(["bucket", "series_key", "series", `${result.metric} (${result.unit})`], rows);
}
