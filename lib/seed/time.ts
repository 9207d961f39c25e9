const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The zone's UTC offset (ms, east positive) at a given instant. */
export function timeZoneOffsetMs(timeZone: string, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(utcMs))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

export type LocalDay = { startMs: number; weekday: number };

/**
 * The last `count` local calendar days in `timeZone` up to and including the one containing `nowMs`,
 * oldest first, each with the UTC instant of its local midnight and its weekday (0 = Sunday).
 */
export function localDays(timeZone: string, nowMs: number, count: number): LocalDay[] {
  const today = new Date(nowMs + timeZoneOffsetMs(timeZone, nowMs));
  const days: LocalDay[] = [];
  for (let back = count - 1; back >= 0; back--) {
    const wallMidnight = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back);
    // Two passes settle the offset on days where it changes (DST).
    let start = wallMidnight - timeZoneOffsetMs(timeZone, wallMidnight);
    start = wallMidnight - timeZoneOffsetMs(timeZone, start);
    days.push({ startMs: start, weekday: new Date(wallMidnight).getUTCDay() });
  }
  return days;
}

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
