import { describe, expect, it } from "vitest";
import { dashboardConcurrency } from "./prisma";

describe("DASHBOARD_DB_CONCURRENCY", () => {
  it("defaults to 6 and takes a whole number", () => {
    expect(dashboardConcurrency(undefined)).toBe(6);
    expect(dashboardConcurrency("")).toBe(6);
    expect(dashboardConcurrency("12")).toBe(12);
  });

  it("refuses a value that is not a usable size, saying what it wants", () => {
    expect(() => dashboardConcurrency("0")).toThrow("DASHBOARD_DB_CONCURRENCY must be at least 1");
    const wholeNumber = "DASHBOARD_DB_CONCURRENCY must be a whole number of connections, e.g. 6";
    expect(() => dashboardConcurrency("four")).toThrow(wholeNumber);
    expect(() => dashboardConcurrency("2.5")).toThrow(wholeNumber);
    expect(() => dashboardConcurrency("1000")).toThrow("DASHBOARD_DB_CONCURRENCY must be at most 64");
  });
});
