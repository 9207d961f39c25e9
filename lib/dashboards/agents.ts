import { Prisma } from "@/lib/generated/prisma/client";
import { z } from "zod";
import { asAccount, scopeMetric, type DashboardScope } from "./scope";

const agentRowSchema = z.object({
  agent_id: z.string(),
  name: z.string(),
  runs: z.number(),
  completed: z.number(),
  finished: z.number(),
  success_rate: z.number().nullable(),
  runtime_avg: z.number().nullable(),
  runtime_p50: z.number().nullable(),
  runtime_p95: z.number().nullable(),
  credits: z.number(),
  cost_usd: z.number(),
  cost_per_successful_run: z.number().nullable(),
  unique_users: z.number(),
  rating: z.number().nullable(),
  last_run_hour: z.string().nullable(),
});
export type AgentRow = z.infer<typeof agentRowSchema>;

/** Local [from, to) bounds of the scope's range as SQL. */
function bounds(scope: DashboardScope) {
  const tz = scope.workspace.timezone;
  return {
    lo: Prisma.sql`(${scope.range.from}::date::timestamp AT TIME ZONE ${tz})`,
    hi: Prisma.sql`((${scope.range.to}::date + 1)::timestamp AT TIME ZONE ${tz})`,
  };
}

/**
 * Every agent of the workspace (also those that did not run) with its numbers over the range, from
 * the rollups: run_daily (runs, rates, runtimes via merged histograms, credits, rating),
 * llm_usage_daily (cost), run_user_daily (distinct users), run_hourly (the hour of the last run).
 * Same definitions as the catalogue.
 *
 * The per-day dimension tables (0115) hold what the hourly ones hold, merged per local day: ~24×
 * fewer rows, which took the agents page at 10M runs from ~0.4 s for this query. Only the hour of
 * the last run needs hourly rows, and only those from the earliest of the agents' last run days on.
 */
export async function agentsTable(scope: DashboardScope, agentId?: string): Promise<AgentRow[]> {
  const { hi } = bounds(scope);
  const tz = scope.workspace.timezone;
  const ws = scope.workspace.id;
  const days = Prisma.sql`BETWEEN ${scope.range.from}::date AND ${scope.range.to}::date`;
  const only = agentId ? Prisma.sql`AND a.id = ${agentId}::uuid` : Prisma.empty;
  const rows = await asAccount(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH runs AS (
        SELECT r.agent_id, sum(r.runs)::float8 AS runs,
               coalesce(sum(r.runs) FILTER (WHERE r.status = 'completed'), 0)::float8 AS completed,
               coalesce(sum(r.runs) FILTER (WHERE r.status <> 'running'), 0)::float8 AS finished,
               sum(r.credits)::float8 AS credits,
               (sum(r.runtime_sum_seconds) / nullif(sum(r.runtime_runs), 0))::float8 AS runtime_avg,
               (sum(r.rating_sum)::numeric / nullif(sum(r.rated_runs), 0))::float8 AS rating,
               max(r.day) AS last_day
        FROM analytics.run_daily r
        WHERE r.workspace_id = ${ws}::uuid AND r.day ${days}
        GROUP BY r.agent_id
      ), pct AS (
        SELECT r.agent_id,
               analytics.log_hist_quantiles(array_agg(h.k), array_agg(h.c), ARRAY[0.5, 0.95]::float8[]) AS q
        FROM analytics.run_daily r
        CROSS JOIN LATERAL unnest(r.runtime_hist_keys, r.runtime_hist_counts) AS h(k, c)
        WHERE r.workspace_id = ${ws}::uuid AND r.day ${days}
        GROUP BY r.agent_id
      ), last_hours AS (
        SELECT r.agent_id, max(r.hour) AS last_hour
        FROM analytics.run_hourly r
        WHERE r.workspace_id = ${ws}::uuid
          AND r.hour >= ((SELECT min(last_day) FROM runs)::timestamp AT TIME ZONE ${tz}) AND r.hour < ${hi}
        GROUP BY r.agent_id
      ), cost AS (
        SELECT l.agent_id, sum(l.cost_usd)::float8 AS cost_usd
        FROM analytics.llm_usage_daily l
        WHERE l.workspace_id = ${ws}::uuid AND l.day ${days} AND l.agent_id IS NOT NULL
        GROUP BY l.agent_id
      ), users AS (
        SELECT u.agent_id, count(DISTINCT u.user_id)::float8 AS unique_users
        FROM analytics.run_user_daily u
        WHERE u.workspace_id = ${ws}::uuid AND u.day ${days}
        GROUP BY u.agent_id
      )
      SELECT a.id::text AS agent_id, a.name,
             coalesce(runs.runs, 0) AS runs, coalesce(runs.completed, 0) AS completed, coalesce(runs.finished, 0) AS finished,
             (100.0 * runs.completed / nullif(runs.finished, 0))::float8 AS success_rate,
             runs.runtime_avg, (pct.q[1] / 1000)::float8 AS runtime_p50, (pct.q[2] / 1000)::float8 AS runtime_p95,
             coalesce(runs.credits, 0) AS credits, coalesce(cost.cost_usd, 0) AS cost_usd,
             (cost.cost_usd / nullif(runs.completed, 0))::float8 AS cost_per_successful_run,
             coalesce(users.unique_users, 0) AS unique_users, runs.rating,
             to_char(last_hours.last_hour AT TIME ZONE ${tz}, 'YYYY-MM-DD HH24:00') AS last_run_hour
      FROM public.agents a
      LEFT JOIN runs ON runs.agent_id = a.id
      LEFT JOIN pct ON pct.agent_id = a.id
      LEFT JOIN last_hours ON last_hours.agent_id = a.id
      LEFT JOIN cost ON cost.agent_id = a.id
      LEFT JOIN users ON users.agent_id = a.id
      WHERE a.workspace_id = ${ws}::uuid ${only}
      ORDER BY runs DESC NULLS LAST, a.name`,
  );
  return z.array(agentRowSchema).parse(rows);
}

/** Runs per bucket per agent (sparklines), keyed by agent id. */
export async function agentSparklines(scope: DashboardScope): Promise<Map<string, (number | null)[]>> {
  const result = await scopeMetric(scope, "runs", { groupBy: "agent", limit: 50, filters: {} });
  return new Map(result.series.map((s) => [s.key, s.points.map((p) => p.v)]));
}

const stageRowSchema = z.object({
  stage: z.string(),
  stages: z.number(),
  failed: z.number(),
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  cost_usd: z.number(),
  unpriced: z.number(),
  duration_avg_ms: z.number().nullable(),
  duration_p95_ms: z.number().nullable(),
});
export type StageRow = z.infer<typeof stageRowSchema>;

/** One agent's runs broken down by stage (spec 000's passes): time, tokens, cost and failures. */
export async function agentStages(scope: DashboardScope, agentId: string): Promise<StageRow[]> {
  const rows = await asAccount(
    scope,
    (tx) => tx.$queryRaw<unknown[]>`
      WITH s AS (
        SELECT * FROM analytics.stage_daily
        WHERE workspace_id = ${scope.workspace.id}::uuid AND agent_id = ${agentId}::uuid
          AND day BETWEEN ${scope.range.from}::date AND ${scope.range.to}::date
      ), totals AS (
        SELECT stage_name, sum(stages)::float8 AS stages,
               coalesce(sum(stages) FILTER (WHERE status = 'failed'), 0)::float8 AS failed,
               sum(prompt_tokens)::float8 AS prompt_tokens, sum(completion_tokens)::float8 AS completion_tokens,
               sum(cost_usd)::float8 AS cost_usd, sum(unpriced_stages)::float8 AS unpriced,
               (sum(duration_ms_sum)::numeric / nullif(sum(duration_stages), 0))::float8 AS duration_avg_ms
        FROM s GROUP BY stage_name
      ), p AS (
        SELECT stage_name, (analytics.log_hist_quantiles(array_agg(h.k), array_agg(h.c), ARRAY[0.95]::float8[]))[1] AS p95
        FROM s CROSS JOIN LATERAL unnest(s.duration_hist_keys, s.duration_hist_counts) AS h(k, c)
        GROUP BY stage_name
      )
      SELECT totals.stage_name AS stage, stages, failed, prompt_tokens, completion_tokens, cost_usd, unpriced,
             duration_avg_ms, p.p95::float8 AS duration_p95_ms
      FROM totals LEFT JOIN p USING (stage_name)
      ORDER BY stages DESC, stage`,
  );
  return z.array(stageRowSchema).parse(rows);
}
