/**
 * What each metric IS: name, label, unit, definition text, allowed group-bys and filters, and how
 * it combines across buckets. How it is computed from the rollups lives in `sql.ts`, keyed by the
 * same names; the API docs, the OpenAPI document and the alert evaluator read this table.
 */
export const GROUP_BYS = ["agent", "model", "provider", "user", "status", "error_type", "stage"] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** Query-string filters (`agentId=…&userId=…&model=…&provider=…`). */
export const FILTER_KEYS = ["agentId", "userId", "model", "provider"] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type MetricFilters = Partial<Record<FilterKey, string>>;

export type MetricUnit = "count" | "percent" | "seconds" | "ms" | "credits" | "tokens" | "usd" | "users";

/**
 * How values of finer buckets combine into a coarser one (and into a period total):
 *   sum         additive counters (runs, credits, tokens, cost)
 *   ratio       a quotient of two sums, recomputed from the sums (never an average of rates)
 *   mean        a sum divided by a count, recomputed from both
 *   percentile  recomputed from the merged runtime/latency histograms of the finer buckets
 *   distinct    a distinct count over the per-user-per-day rollup (never a sum of daily counts)
 */
export type Aggregation = "sum" | "ratio" | "mean" | "percentile" | "distinct";

export type MetricDefinition = {
  name: string;
  label: string;
  unit: MetricUnit;
  description: string;
  aggregation: Aggregation;
  groupBys: readonly GroupBy[];
  filters: readonly FilterKey[];
  /** Higher is better (KPI arrows colour green when the change goes this way). */
  goodDirection: "up" | "down" | "neutral";
};

// Every combination listed here is served by a rollup in lib/metrics/sql.ts; a few combinations of
// them are not (e.g. a user filter with a model filter), which queryMetric refuses with a 400.
const RUN_GROUPS = ["agent", "model", "user", "status", "error_type"] as const satisfies readonly GroupBy[];
const RUNTIME_GROUPS = ["agent", "model", "user", "status", "error_type"] as const satisfies readonly GroupBy[];
const RATE_GROUPS = ["agent", "model", "user", "error_type"] as const satisfies readonly GroupBy[];
const RUN_FILTERS = ["agentId", "userId", "model"] as const satisfies readonly FilterKey[];
const LLM_GROUPS = ["agent", "model", "provider", "user", "error_type", "stage"] as const satisfies readonly GroupBy[];
const LLM_CALL_GROUPS = ["agent", "model", "provider", "user", "error_type"] as const satisfies readonly GroupBy[];
const LLM_FILTERS = ["agentId", "userId", "model", "provider"] as const satisfies readonly FilterKey[];

const RUNS_BY_START = "Runs are counted in the bucket of their start time, whatever their status now.";
const FINISHED = "Finished runs are those completed, failed or cancelled (running ones are left out).";
const LLM_BY_TIME =
  "LLM calls are counted in the bucket of their own timestamp (grouped by stage: the run stages' tokens and cost, in the bucket of their run's start).";

export const METRIC_DEFINITIONS = {
  runs: {
    name: "runs",
    label: "Runs",
    unit: "count",
    description: `Agent runs started in the bucket. ${RUNS_BY_START}`,
    aggregation: "sum",
    groupBys: RUN_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "neutral",
  },
  runs_completed: {
    name: "runs_completed",
    label: "Completed runs",
    unit: "count",
    description: `Runs started in the bucket that completed successfully. ${RUNS_BY_START}`,
    aggregation: "sum",
    groupBys: ["agent", "model", "user"],
    filters: RUN_FILTERS,
    goodDirection: "up",
  },
  runs_failed: {
    name: "runs_failed",
    label: "Failed runs",
    unit: "count",
    description: `Runs started in the bucket that failed. ${RUNS_BY_START}`,
    aggregation: "sum",
    groupBys: ["agent", "model", "user", "error_type"],
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  runs_cancelled: {
    name: "runs_cancelled",
    label: "Cancelled runs",
    unit: "count",
    description: `Runs started in the bucket that were cancelled. ${RUNS_BY_START}`,
    aggregation: "sum",
    groupBys: ["agent", "model", "user"],
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  success_rate: {
    name: "success_rate",
    label: "Success rate",
    unit: "percent",
    description: `Completed runs ÷ finished runs × 100 (0–100), for runs started in the bucket. ${FINISHED} Empty when no run finished.`,
    aggregation: "ratio",
    groupBys: RATE_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "up",
  },
  error_rate: {
    name: "error_rate",
    label: "Error rate",
    unit: "percent",
    description: `Failed runs ÷ finished runs × 100 (0–100), for runs started in the bucket. ${FINISHED} Empty when no run finished.`,
    aggregation: "ratio",
    groupBys: RATE_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  runtime_avg: {
    name: "runtime_avg",
    label: "Average runtime",
    unit: "seconds",
    description: `Mean runtime (finished − started, seconds) of finished runs started in the bucket. ${FINISHED}`,
    aggregation: "mean",
    groupBys: RUNTIME_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  runtime_p50: {
    name: "runtime_p50",
    label: "Runtime p50",
    unit: "seconds",
    description: `Median runtime (seconds) of finished runs started in the bucket. ${FINISHED}`,
    aggregation: "percentile",
    groupBys: RUNTIME_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  runtime_p95: {
    name: "runtime_p95",
    label: "Runtime p95",
    unit: "seconds",
    description: `95th-percentile runtime (seconds) of finished runs started in the bucket. ${FINISHED}`,
    aggregation: "percentile",
    groupBys: RUNTIME_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  runtime_p99: {
    name: "runtime_p99",
    label: "Runtime p99",
    unit: "seconds",
    description: `99th-percentile runtime (seconds) of finished runs started in the bucket. ${FINISHED}`,
    aggregation: "percentile",
    groupBys: RUNTIME_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "down",
  },
  credits: {
    name: "credits",
    label: "Credits",
    unit: "credits",
    description: `Credits consumed by runs started in the bucket. ${RUNS_BY_START}`,
    aggregation: "sum",
    groupBys: RUN_GROUPS,
    filters: RUN_FILTERS,
    goodDirection: "neutral",
  },
  active_users: {
    name: "active_users",
    label: "Active users",
    unit: "users",
    description:
      "Distinct tracked users with at least one activity event, run or LLM call in the bucket (a true distinct count over the bucket, not a sum of daily counts).",
    aggregation: "distinct",
    groupBys: [],
    filters: ["userId"],
    goodDirection: "up",
  },
  new_users: {
    name: "new_users",
    label: "New users",
    unit: "users",
    description:
      "Tracked users whose first active day (first activity event, run or LLM call, in the workspace's timezone) falls in the bucket. Smallest bucket: day.",
    aggregation: "distinct",
    groupBys: [],
    filters: [],
    goodDirection: "up",
  },
  prompt_tokens: {
    name: "prompt_tokens",
    label: "Prompt tokens",
    unit: "tokens",
    description: `Prompt (input) tokens of LLM calls in the bucket. ${LLM_BY_TIME}`,
    aggregation: "sum",
    groupBys: LLM_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "neutral",
  },
  completion_tokens: {
    name: "completion_tokens",
    label: "Completion tokens",
    unit: "tokens",
    description: `Completion (output) tokens of LLM calls in the bucket. ${LLM_BY_TIME}`,
    aggregation: "sum",
    groupBys: LLM_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "neutral",
  },
  total_tokens: {
    name: "total_tokens",
    label: "Total tokens",
    unit: "tokens",
    description: `Prompt + completion tokens of LLM calls in the bucket. ${LLM_BY_TIME}`,
    aggregation: "sum",
    groupBys: LLM_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "neutral",
  },
  cost_usd: {
    name: "cost_usd",
    label: "LLM cost",
    unit: "usd",
    description: `Cost in USD of priced LLM calls in the bucket; calls with no known price are not counted as $0 but reported as unpriced. ${LLM_BY_TIME}`,
    aggregation: "sum",
    groupBys: LLM_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "down",
  },
  llm_calls: {
    name: "llm_calls",
    label: "LLM calls",
    unit: "count",
    description: `LLM calls made in the bucket. ${LLM_BY_TIME}`,
    aggregation: "sum",
    groupBys: LLM_CALL_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "neutral",
  },
  llm_latency_p95: {
    name: "llm_latency_p95",
    label: "LLM latency p95",
    unit: "ms",
    description: `95th-percentile latency (ms) of LLM calls in the bucket. ${LLM_BY_TIME}`,
    aggregation: "percentile",
    groupBys: LLM_CALL_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "down",
  },
  unpriced_llm_calls: {
    name: "unpriced_llm_calls",
    label: "Unpriced LLM calls",
    unit: "count",
    description: `LLM calls in the bucket with no known price (their cost is not in cost_usd). ${LLM_BY_TIME}`,
    aggregation: "sum",
    groupBys: LLM_CALL_GROUPS,
    filters: LLM_FILTERS,
    goodDirection: "down",
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRIC_DEFINITIONS;
export const METRIC_NAMES = Object.keys(METRIC_DEFINITIONS) as MetricName[];

export function isMetricName(value: string): value is MetricName {
  return Object.hasOwn(METRIC_DEFINITIONS, value);
}

export function metricDefinition(name: MetricName): MetricDefinition {
  return METRIC_DEFINITIONS[name];
}
