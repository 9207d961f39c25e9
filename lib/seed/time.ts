import { wallClock } from "@/lib/metrics/range";

/** The zone's UTC offset (ms, east positive) at a given instant. */
export function timeZoneOffsetMs(timeZone: string, utcMs: number): number {
  // wallClock keeps one formatter per zone (lib/metrics/range.ts).
  return wallClock(new Date(utcMs), timeZone).getTime() - Math.floor(utcMs / 1000) * 1000;
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
