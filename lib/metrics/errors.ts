/**
 * A mistake in a metric query made by the caller (unknown metric, group-by not allowed for that
 * metric, range backwards or too many buckets). Route handlers turn it into a 400 with `message`,
 * which always says what to change.
 */
export class MetricQueryError extends Error {
  readonly status = 400;
  constructor(
    readonly code:
      | "unknown_metric"
      | "invalid_group_by"
      | "invalid_filter"
      | "invalid_range"
      | "invalid_granularity"
      | "too_many_buckets"
      | "invalid_parameter",
    message: string,
  ) {
    super(message);
    this.name = "MetricQueryError";
  }
}
