import type { MetricName } from "./definitions";

/**
 * Each catalogue metric computed straight from the RAW rows with plain SQL (percentile_cont,
 * count(DISTINCT)), independently of the rollups and of lib/metrics/sql.ts. The tests use it as the
 * oracle; the benchmark as the "without rollups" baseline.
 * Parameters: $1 workspace id, $2 time zone, $3 from (local timestamp, inclusive), $4 to (exclusive),
 * $5 granularity (hour/day/week/month). Returns (bucket 'YYYY-MM-DDTHH24:MI:SS' local, v float8).
 */
export function rawMetricSql(metric: MetricName): string {
  const bucket = (ts: string) => `to_char(date_trunc($5, ${ts} AT TIME ZONE $2), 'YYYY-MM-DD"T"HH24:MI:SS')`;
  const inRange = (ts: string) =>
    `${ts} >= ($3::timestamp AT TIME ZONE $2) AND ${ts} < ($4::timestamp AT TIME ZONE $2)`;
  const runs = (value: string) =>
    `SELECT ${bucket("r.started_at")} AS bucket, (${value})::float8 AS v FROM public.agent_runs r
     WHERE r.workspace_id = $1 AND ${inRange("r.started_at")} GROUP BY 1`;
  const calls = (value: string) =>
    `SELECT ${bucket("l.created_at")} AS bucket, (${value})::float8 AS v FROM public.llm_usage_logs l
     WHERE l.workspace_id = $1 AND ${inRange("l.created_at")} GROUP BY 1`;
  const finished = "count(*) FILTER (WHERE r.status <> 'running')";
  const pct = (f: number) =>
    `percentile_cont(${f}) WITHIN GROUP (ORDER BY r.runtime_seconds) FILTER (WHERE r.status <> 'running')`;
  const activity = (range: boolean) => `
      SELECT user_id, created_at AS at FROM analytics.user_activity WHERE workspace_id = $1 ${range ? `AND ${inRange("created_at")}` : ""}
      UNION ALL SELECT user_id, started_at FROM public.agent_runs WHERE workspace_id = $1 ${range ? `AND ${inRange("started_at")}` : ""}
      UNION ALL SELECT user_id, created_at FROM public.llm_usage_logs WHERE workspace_id = $1 ${range ? `AND ${inRange("created_at")}` : ""}`;
  switch (metric) {
    case "runs":
      return runs("count(*)");
    case "runs_completed":
      return runs("count(*) FILTER (WHERE r.status = 'completed')");
    case "runs_failed":
      return runs("count(*) FILTER (WHERE r.status = 'failed')");
    case "runs_cancelled":
      return runs("count(*) FILTER (WHERE r.status = 'cancelled')");
    case "success_rate":
      return runs(`100.0 * count(*) FILTER (WHERE r.status = 'completed') / nullif(${finished}, 0)`);
    case "error_rate":
      return runs(`100.0 * count(*) FILTER (WHERE r.status = 'failed') / nullif(${finished}, 0)`);
    case "runtime_avg":
      return runs("avg(r.runtime_seconds) FILTER (WHERE r.status <> 'running')");
    case "runtime_p50":
      return runs(pct(0.5));
    case "runtime_p95":
      return runs(pct(0.95));
    case "runtime_p99":
      return runs(pct(0.99));
    case "credits":
      return runs("sum(r.credits_consumed)");
    case "prompt_tokens":
      return calls("sum(l.prompt_tokens)");
    case "completion_tokens":
      return calls("sum(l.completion_tokens)");
    case "total_tokens":
      return calls("sum(l.total_tokens)");
    case "cost_usd":
      return calls("coalesce(sum(l.total_cost_usd), 0)");
    case "llm_calls":
      return calls("count(*)");
    case "unpriced_llm_calls":
      return calls("count(*) FILTER (WHERE l.total_cost_usd IS NULL)");
    case "llm_latency_p95":
      return calls("percentile_cont(0.95) WITHIN GROUP (ORDER BY l.latency_ms)");
    case "active_users":
      return `SELECT ${bucket("a.at")} AS bucket, count(DISTINCT a.user_id)::float8 AS v FROM (${activity(true)}) a GROUP BY 1`;
    case "new_users":
      // First activity over all history; counted when it falls inside the range.
      return `SELECT ${bucket("f.at")} AS bucket, count(*)::float8 AS v
              FROM (SELECT user_id, min(at) AS at FROM (${activity(false)}) a GROUP BY user_id) f
              WHERE ${inRange("f.at")} GROUP BY 1`;
  }
}
