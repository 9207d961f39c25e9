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
    expect(formatValue(0.0025, "usd")).toBe("$0.00");
  });
});
