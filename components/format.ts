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
      return formatUsd(value);
  }
}

const usdSmall = new Map<number, Intl.NumberFormat>();

/**
 * Dollars with cents, except below $1: there three significant digits ("$0.0143", "$0.00998",
 * "$0.50"). LLM costs of one agent or one day are often fractions of a cent; rounded to cents,
 * "$0.01 vs $0.01 (+42.8 %)" reads as a contradiction and small costs print as "$0.00".
 */
function formatUsd(value: number): string {
  const size = Math.abs(value);
  if (size === 0 || size >= 1) return usd.format(value);
  const digits = Math.min(20, Math.max(2, 2 - Math.floor(Math.log10(size))));
  let format = usdSmall.get(digits);
  if (!format) {
    format = new Intl.NumberFormat("en-US", {
      style: "currency",
      currency: "USD",
      minimumFractionDigits: 2,
      maximumFractionDigits: digits,
    });
    usdSmall.set(digits, format);
  }
  return format.format(value);
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
