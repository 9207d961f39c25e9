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

const dayLabel = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

/** "2026-03-11" → "Mar 11" (the string is already a workspace-local calendar day). */
export function formatDay(isoDay: string): string {
  const date = new Date(`${isoDay}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? isoDay : dayLabel.format(date);
}
