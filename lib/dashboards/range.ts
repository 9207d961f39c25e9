import { z } from "zod";
import { GRANULARITIES, localToday, shiftDate, type Granularity } from "@/lib/metrics/range";

/**
 * Dashboard state lives in the URL (shareable links): ?range=7d|30d|90d|mtd|custom&from=&to=
 * &granularity=&compare=1&agentId=&model=&provider=&userId=. Unknown or malformed values fall back
 * to defaults instead of failing the page (a stale bookmark still opens).
 */
export const RANGE_PRESETS = [
  { id: "24h", label: "Last 24 hours", short: "today", days: 1 },
  { id: "7d", label: "Last 7 days", short: "7 days", days: 7 },
  { id: "30d", label: "Last 30 days", short: "30 days", days: 30 },
  { id: "90d", label: "Last 90 days", short: "90 days", days: 90 },
  { id: "mtd", label: "Month to date", short: "month to date", days: 0 },
  { id: "custom", label: "Custom", short: "selected range", days: 0 },
] as const;

/** "7 days": how KPI labels name the range ("Runs (7 days)"). */
export function rangeShortLabel(preset: RangePreset): string {
  return RANGE_PRESETS.find((p) => p.id === preset)?.short ?? "selected range";
}
export type RangePreset = (typeof RANGE_PRESETS)[number]["id"];

const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export type SearchParams = Record<string, string | string[] | undefined>;

export type DashboardRange = {
  preset: RangePreset;
  /** Inclusive local days. */
  from: string;
  to: string;
  granularity: Granularity;
  compare: boolean;
  previous: { from: string; to: string };
  days: number;
};

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

export function dashboardRange(
  params: SearchParams,
  timezone: string,
  now: Date = new Date(),
  defaultPreset: RangePreset = "30d",
): DashboardRange {
  const today = localToday(timezone, now);
  const presetParam = first(params.range);
  let preset: RangePreset = RANGE_PRESETS.some((p) => p.id === presetParam)
    ? (presetParam as RangePreset)
    : defaultPreset;
  let from: string;
  let to = today;
  const customFrom = DATE.safeParse(first(params.from));
  const customTo = DATE.safeParse(first(params.to));
  if (preset === "custom" && customFrom.success && customTo.success && customFrom.data <= customTo.data) {
    from = customFrom.data;
    to = customTo.data;
  } else if (preset === "mtd") {
    from = `${today.slice(0, 8)}01`;
  } else {
    if (preset === "custom") preset = defaultPreset === "custom" ? "30d" : defaultPreset;
    const days = RANGE_PRESETS.find((p) => p.id === preset)?.days || 30;
    from = shiftDate(today, -(days - 1));
  }
  const days = daysBetween(from, to);
  const granularityParam = first(params.granularity);
  const fallback: Granularity = days <= 2 ? "hour" : days <= 120 ? "day" : days <= 600 ? "week" : "month";
  let granularity = (GRANULARITIES as readonly string[]).includes(granularityParam ?? "")
    ? (granularityParam as Granularity)
    : fallback;
  // Keep within the catalogue's bucket cap rather than failing the page.
  if (granularity === "hour" && days > 40) granularity = "day";
  return {
    preset,
    from,
    to,
    granularity,
    compare: first(params.compare) === "1",
    previous: { from: shiftDate(from, -days), to: shiftDate(from, -1) },
    days,
  };
}

export const DASHBOARD_FILTER_KEYS = ["agentId", "userId", "model", "provider"] as const;
export type DashboardFilters = Partial<Record<(typeof DASHBOARD_FILTER_KEYS)[number], string>>;

/** Filters from the URL; malformed ids are dropped (the catalogue would refuse them). */
export function dashboardFilters(params: SearchParams): DashboardFilters {
  const filters: DashboardFilters = {};
  for (const key of DASHBOARD_FILTER_KEYS) {
    const value = first(params[key]);
    if (!value) continue;
    if ((key === "agentId" || key === "userId") && !z.uuid().safeParse(value).success) continue;
    filters[key] = value.slice(0, 200);
  }
  return filters;
}

/** The query string of the current state with some keys changed (null removes a key). */
export function withParams(params: SearchParams, changes: Record<string, string | null>): string {
  const next = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    const v = first(value);
    if (v !== undefined) next.set(key, v);
  }
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) next.delete(key);
    else next.set(key, value);
  }
  const text = next.toString();
  return text ? `?${text}` : "";
}
