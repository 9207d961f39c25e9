/** Number formats shared by cards, charts and tables (fixed locale: server and client agree). */
export type ValueFormat = "integer" | "decimal" | "percent" | "credits" | "usd";

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });
const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });

export function formatValue(value: number | null | undefined, format: ValueFormat): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  switch (format) {
    case "integer":
      return integer.format(value);
    case "decimal":
    case "credits":
      return decimal.format(value);
    case "percent":
      return percent.format(value);
    case "usd":
      return usd.format(value);
  }
}

const usdFine = new Intl.NumberFormat("en-US", {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumSignificantDigits: 2,
});
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/**
 * Axis ticks: short enough for a narrow axis ("1.2M", "$12K", "85%"), so large values are never
 * clipped into a misleading number. Tooltips and tables keep the full formatValue.
 */
export function formatAxisValue(value: number, format: ValueFormat): string {
  if (Number.isNaN(value)) return "";
  // Cents would print every tick of a sub-dollar axis as "$0.00" (an agent's LLM cost per day).
  if (format === "usd" && value !== 0 && Math.abs(value) < 1) return usdFine.format(value);
  if (Math.abs(value) < 10_000) return formatValue(value, format);
  return format === "usd" ? `$${compact.format(value)}` : compact.format(value);
}

const dayLabel = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

/** "2026-03-11" → "Mar 11" (the string is already a workspace-local calendar day). */
export function formatDay(isoDay: string): string {
  const date = new Date(`${isoDay}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? isoDay : dayLabel.format(date);
}
