import { describe, expect, it } from "vitest";
import { formatAxisValue, formatValue } from "./format";

describe("formatAxisValue", () => {
  it("keeps sub-dollar USD ticks distinct instead of printing $0.00 for each", () => {
    expect([0, 0.0025, 0.005, 0.0075, 0.01].map((v) => formatAxisValue(v, "usd"))).toEqual([
      "$0.00",
      "$0.0025",
      "$0.005",
      "$0.0075",
      "$0.01",
    ]);
    expect(formatAxisValue(0.45, "usd")).toBe("$0.45");
    expect(formatAxisValue(12.5, "usd")).toBe("$12.50");
    expect(formatAxisValue(25_000, "usd")).toBe("$25K");
  });
});

describe("formatValue usd", () => {
  it("shows three significant digits below $1 and cents above", () => {
    expect(
      [0, 0.0025, 0.0143, 0.00998, 0.5, 0.45, 0.123, 0.9999, 1.234, 12_345.678, -0.0143].map((v) =>
        formatValue(v, "usd"),
      ),
    ).toEqual([
      "$0.00",
      "$0.0025",
      "$0.0143",
      "$0.00998",
      "$0.50",
      "$0.45",
      "$0.123",
      "$1.00",
      "$1.23",
      "$12,345.68",
      "-$0.0143",
    ]);
  });
  it("keeps a +42.8 % change visible in the two amounts it compares", () => {
    // The agent page's report: $0.0143 vs $0.01 printed as "$0.01 vs previous ($0.01), +42.8 %".
    expect(formatValue(0.01428, "usd")).not.toBe(formatValue(0.01, "usd"));
    expect(formatValue(0.01428, "usd")).toBe("$0.0143");
  });
});
