import { describe, expect, it } from "vitest";
import { dashboardRange } from "@/lib/dashboards/range";
import { MetricQueryError } from "./errors";
import { bucketLabel, previousRange, resolveRange } from "./range";

describe("resolveRange", () => {
  it("weeks start on Monday and cover whole weeks", () => {
    const r = resolveRange({ from: "2026-03-04", to: "2026-03-10", granularity: "week", timezone: "UTC" });
    expect(r.buckets).toEqual(["2026-03-02T00:00:00", "2026-03-09T00:00:00"]);
    expect(r.to).toBe("2026-03-16T00:00:00");
  });

  it("maps instants to the workspace's wall clock and rounds `to` up to the hour", () => {
    const r = resolveRange({
      from: "2026-03-28T23:30:00Z",
      to: "2026-03-29T01:10:00Z",
      granularity: "hour",
      timezone: "Europe/Berlin",
    });
    // 00:30 CET → bucket 00:00; 03:10 CEST (after the spring-forward gap) → up to 04:00.
    expect(r.from).toBe("2026-03-29T00:00:00");
    expect(r.to).toBe("2026-03-29T04:00:00");
    expect(r.buckets).toHaveLength(4);
  });

  it("labels buckets with the offset in force", () => {
    expect(bucketLabel("2026-03-28T00:00:00", "Europe/Berlin")).toBe("2026-03-28T00:00:00+01:00");
    expect(bucketLabel("2026-03-30T00:00:00", "Europe/Berlin")).toBe("2026-03-30T00:00:00+02:00");
    expect(bucketLabel("2026-01-01T00:00:00", "Asia/Kolkata")).toBe("2026-01-01T00:00:00+05:30");
  });

  it("months, previous period and the bucket cap", () => {
    const r = resolveRange({ from: "2026-01-15", to: "2026-03-01", granularity: "month", timezone: "UTC" });
    expect(r.buckets).toEqual(["2026-01-01T00:00:00", "2026-02-01T00:00:00", "2026-03-01T00:00:00"]);
    expect(previousRange(r).buckets).toEqual(["2025-10-01T00:00:00", "2025-11-01T00:00:00", "2025-12-01T00:00:00"]);
    expect(() => resolveRange({ from: "2026-01-01", to: "2026-03-01", granularity: "hour", timezone: "UTC" })).toThrow(
      MetricQueryError,
    );
    expect(() => resolveRange({ from: "2026-02-30", to: "2026-03-01", granularity: "day", timezone: "UTC" })).toThrow(
      /not a valid date/,
    );
  });
});

describe("dashboardRange (URL state)", () => {
  const now = new Date("2026-03-20T23:30:00Z"); // already March 21 in Berlin
  it("presets end today in the workspace's timezone", () => {
    expect(dashboardRange({ range: "7d" }, "Europe/Berlin", now)).toMatchObject({
      from: "2026-03-15",
      to: "2026-03-21",
      days: 7,
      granularity: "day",
    });
    expect(dashboardRange({}, "UTC", now)).toMatchObject({ preset: "30d", from: "2026-02-19", to: "2026-03-20" });
    expect(dashboardRange({ range: "mtd" }, "UTC", now)).toMatchObject({ from: "2026-03-01", to: "2026-03-20" });
  });
  it("custom ranges, compare and fallbacks", () => {
    const r = dashboardRange({ range: "custom", from: "2026-03-01", to: "2026-03-10", compare: "1" }, "UTC", now);
    expect(r).toMatchObject({
      from: "2026-03-01",
      to: "2026-03-10",
      compare: true,
      previous: { from: "2026-02-19", to: "2026-02-28" },
    });
    expect(dashboardRange({ range: "custom", from: "2026-03-10", to: "2026-03-01" }, "UTC", now).preset).toBe("30d");
    expect(dashboardRange({ range: "90d", granularity: "hour" }, "UTC", now).granularity).toBe("day");
  });
});
