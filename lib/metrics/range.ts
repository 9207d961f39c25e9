import { MetricQueryError } from "./errors";

export const GRANULARITIES = ["hour", "day", "week", "month"] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** More buckets than this in one call is refused: the message says to pick a coarser granularity. */
export const MAX_BUCKETS = 1000;

/**
 * A query range in the workspace's wall-clock time. Rollups are keyed by local hour / local day, so
 * everything below works on naive local timestamps ("2026-03-29T02:00:00"), never on instants.
 * `from` is inclusive, `to` exclusive, both aligned to the granularity (weeks start on Monday, as
 * PostgreSQL's date_trunc('week') does).
 */
export type LocalRange = {
  timezone: string;
  granularity: Granularity;
  from: string; // naive local timestamp, "YYYY-MM-DDTHH:MM:SS"
  to: string;
  buckets: string[]; // every bucket start, in order
};

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

// Naive local timestamps are carried in Date objects read and written in UTC: no zone arithmetic
// ever touches them, so a DST change cannot shift a bucket.
function naive(text: string): Date {
  return new Date(`${text.length === 10 ? `${text}T00:00:00` : text}Z`);
}
export function formatNaive(d: Date): string {
  return d.toISOString().slice(0, 19);
}

// One formatter per time zone, kept for the process: building an Intl.DateTimeFormat costs ~50 µs of
// ICU setup, formatting with one ~2 µs, and every bucket label needs two wall-clock readings (a
// 90-day series cost ~10 ms of CPU per request in formatter construction alone).
const wallClockFormatters = new Map<string, Intl.DateTimeFormat>();

function wallClockFormatter(timezone: string): Intl.DateTimeFormat {
  let formatter = wallClockFormatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    // Time zones are IANA names from workspace settings: a few hundred at most.
    wallClockFormatters.set(timezone, formatter);
  }
  return formatter;
}

/** The wall-clock time in `timezone` of an instant, as a naive Date. */
export function wallClock(instant: Date, timezone: string): Date {
  const parts = wallClockFormatter(timezone).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  return new Date(Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")));
}

/** The instant at which the wall clock in `timezone` shows `local` (the later one when it shows it twice). */
export function instantOf(local: Date, timezone: string): Date {
  const guess = local.getTime();
  const offset1 = wallClock(new Date(guess), timezone).getTime() - guess;
  const candidate = guess - offset1;
  const offset2 = wallClock(new Date(candidate), timezone).getTime() - candidate;
  return new Date(guess - offset2);
}

// Labels are pure functions of (bucket, zone) and a series repeats the same few hundred: computing
// one takes two wall-clock readings (~15 µs), a lookup nothing. Bounded: emptied when full.
const bucketLabels = new Map<string, string>();
const MAX_BUCKET_LABELS = 20_000;

/** "2026-11-03T00:00:00+01:00": a bucket start with the workspace's UTC offset at that moment. */
export function bucketLabel(localText: string, timezone: string): string {
  const cacheKey = `${timezone} ${localText}`;
  const known = bucketLabels.get(cacheKey);
  if (known !== undefined) return known;
  const label = computeBucketLabel(localText, timezone);
  if (bucketLabels.size >= MAX_BUCKET_LABELS) bucketLabels.clear();
  bucketLabels.set(cacheKey, label);
  return label;
}

function computeBucketLabel(localText: string, timezone: string): string {
  const local = naive(localText);
  const offsetMinutes = Math.round((local.getTime() - instantOf(local, timezone).getTime()) / 60_000);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${localText}${sign}${hh}:${mm}`;
}

export function truncate(d: Date, granularity: Granularity): Date {
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  switch (granularity) {
    case "hour":
      return new Date(Date.UTC(y, m, d.getUTCDate(), d.getUTCHours()));
    case "day":
      return new Date(Date.UTC(y, m, d.getUTCDate()));
    case "week": {
      const day = new Date(Date.UTC(y, m, d.getUTCDate()));
      const sinceMonday = (day.getUTCDay() + 6) % 7;
      return new Date(day.getTime() - sinceMonday * DAY_MS);
    }
    case "month":
      return new Date(Date.UTC(y, m, 1));
  }
}

export function addBuckets(d: Date, granularity: Granularity, n: number): Date {
  switch (granularity) {
    case "hour":
      return new Date(d.getTime() + n * HOUR_MS);
    case "day":
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + n, d.getUTCHours()));
    case "week":
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 7 * n, d.getUTCHours()));
    case "month":
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, d.getUTCDate(), d.getUTCHours()));
  }
}

function parseBound(value: string, bound: "from" | "to", timezone: string): Date {
  if (DATE_ONLY.test(value)) {
    const d = naive(value);
    if (Number.isNaN(d.getTime()) || formatNaive(d).slice(0, 10) !== value) {
      throw new MetricQueryError("invalid_range", `"${bound}" is not a valid date: "${value}" (use YYYY-MM-DD).`);
    }
    // A date-only `to` means "through the end of that day".
    return bound === "to" ? addBuckets(d, "day", 1) : d;
  }
  // A full timestamp must say its offset, or it would be ambiguous.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new MetricQueryError(
      "invalid_range",
      `"${bound}" must be a date (YYYY-MM-DD, a day in the workspace's timezone) or an ISO 8601 timestamp with an offset (2026-01-31T12:00:00Z); got "${value}".`,
    );
  }
  const instant = new Date(value);
  if (Number.isNaN(instant.getTime())) {
    throw new MetricQueryError("invalid_range", `"${bound}" is not a valid timestamp: "${value}".`);
  }
  const local = wallClock(instant, timezone);
  const hour = truncate(local, "hour");
  // Rollups are hourly: a `to` inside an hour includes that hour.
  return bound === "to" && hour.getTime() !== local.getTime() ? addBuckets(hour, "hour", 1) : hour;
}

/** Resolves `from`/`to` into whole buckets of `granularity` in the workspace's wall-clock time. */
export function resolveRange(input: {
  from: string;
  to: string;
  granularity: Granularity;
  timezone: string;
  maxBuckets?: number;
}): LocalRange {
  const { granularity, timezone } = input;
  const maxBuckets = input.maxBuckets ?? MAX_BUCKETS;
  const fromLocal = truncate(parseBound(input.from, "from", timezone), granularity);
  const toRaw = parseBound(input.to, "to", timezone);
  let toLocal = truncate(toRaw, granularity);
  if (toLocal.getTime() < toRaw.getTime()) toLocal = addBuckets(toLocal, granularity, 1);
  if (toLocal.getTime() <= fromLocal.getTime()) {
    throw new MetricQueryError("invalid_range", `"from" (${input.from}) must be before "to" (${input.to}).`);
  }
  const buckets: string[] = [];
  for (let b = fromLocal; b.getTime() < toLocal.getTime(); b = addBuckets(b, granularity, 1)) {
    buckets.push(formatNaive(b));
    if (buckets.length > maxBuckets) {
      throw new MetricQueryError(
        "too_many_buckets",
        `The range from ${input.from} to ${input.to} has more than ${maxBuckets} ${granularity} buckets; choose a coarser granularity or a shorter range.`,
      );
    }
  }
  return { timezone, granularity, from: formatNaive(fromLocal), to: formatNaive(toLocal), buckets };
}

/** The range of the same length just before `range` (for "change vs previous period"). */
export function previousRange(range: LocalRange): LocalRange {
  const n = range.buckets.length;
  const from = addBuckets(naive(range.from), range.granularity, -n);
  const buckets: string[] = [];
  for (let i = 0; i < n; i++) buckets.push(formatNaive(addBuckets(from, range.granularity, i)));
  return { ...range, from: formatNaive(from), to: range.from, buckets };
}

/** Today's date in `timezone`, YYYY-MM-DD. */
export function localToday(timezone: string, now: Date = new Date()): string {
  return formatNaive(wallClock(now, timezone)).slice(0, 10);
}

/** The date `days` days after `date` (negative for before), YYYY-MM-DD. */
export function shiftDate(date: string, days: number): string {
  return formatNaive(addBuckets(naive(date), "day", days)).slice(0, 10);
}

export function parseNaive(text: string): Date {
  return naive(text);
}
