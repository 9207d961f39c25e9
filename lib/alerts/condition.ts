import { z } from "zod";
import type { Observation } from "./state-machine";

/** The comparators alert_rules.condition accepts (its CHECK constraint in 0003). */
export const COMPARATORS = [
  "greater_than",
  "less_than",
  "equals",
  "greater_than_or_equal",
  "less_than_or_equal",
] as const;
export const comparatorSchema = z.enum(COMPARATORS);
export type Comparator = z.infer<typeof comparatorSchema>;

/**
 * What the comparator is applied to: the metric's value over the evaluation window, or its percent
 * change against the window just before it ("cost up more than 50 % vs the previous hour").
 */
export const CONDITION_KINDS = ["value", "percent_change"] as const;
export const conditionKindSchema = z.enum(CONDITION_KINDS);
export type ConditionKind = z.infer<typeof conditionKindSchema>;

export type Condition = { comparator: Comparator; kind: ConditionKind; threshold: number };

// Metric values come back as decimals (costs, rates); equality within this tolerance avoids
// "0.1 + 0.2 != 0.3" surprises while still being far below the 4 decimals a threshold keeps.
const EQUALS_TOLERANCE = 1e-9;

export function compare(value: number, comparator: Comparator, threshold: number): boolean {
  switch (comparator) {
    case "greater_than":
      return value > threshold;
    case "less_than":
      return value < threshold;
    case "greater_than_or_equal":
      return value >= threshold;
    case "less_than_or_equal":
      return value <= threshold;
    case "equals":
      return Math.abs(value - threshold) <= EQUALS_TOLERANCE;
  }
}

/**
 * Turns the window's value (and, for percent change, the previous window's) into an observation.
 * A percent change against a previous window of 0 or no data has no baseline: it is "no data",
 * handled by the rule's no-data policy, rather than an invented infinite percentage.
 */
export function observe(condition: Condition, current: number | null, previous: number | null): Observation {
  if (current === null || !Number.isFinite(current)) return { kind: "no_data" };
  if (condition.kind === "value") {
    return { kind: "value", value: current, breached: compare(current, condition.comparator, condition.threshold) };
  }
  if (previous === null || !Number.isFinite(previous) || previous === 0) return { kind: "no_data" };
  const change = ((current - previous) / Math.abs(previous)) * 100;
  return { kind: "value", value: change, breached: compare(change, condition.comparator, condition.threshold) };
}

export function describeCondition(condition: Condition, metricLabel: string): string {
  const words: Record<Comparator, string> = {
    greater_than: ">",
    less_than: "<",
    equals: "=",
    greater_than_or_equal: "≥",
    less_than_or_equal: "≤",
  };
  return condition.kind === "value"
    ? `${metricLabel} ${words[condition.comparator]} ${condition.threshold}`
    : `${metricLabel} change ${words[condition.comparator]} ${condition.threshold} %`;
}
