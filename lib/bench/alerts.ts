import { evaluateAlerts } from "@/lib/alerts/evaluator";
import { prismaFor } from "@/lib/db/prisma";
import type { BenchContext, BenchResult } from "./types";

const SECTION = "alerts";
const RULES = 1_000;
const CONCURRENCY = Number(process.env.ALERT_BENCH_CONCURRENCY ?? 4);

/**
 * Time to evaluate 1,000 active rules in one tick on the loaded bench world: a mix of metrics
 * (cost, tokens, runs, error rate, p95 runtime) and scopes (workspace, one agent, each user),
 * spread over the workspaces. Measured twice: the first tick creates the series states, the
 * second is the steady state every minute after. The rules are removed afterwards.
 */
export async function benchAlerts(ctx: BenchContext): Promise<BenchResult[]> {
  const { owner, log } = ctx;
  log(`alerts: creating ${RULES} rules`);
  // Every rule asks a different question (its own window, agent or metric), as real rules do:
  // nothing is shared between rules' metric queries.
  await owner.query(
    `INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value, evaluation_window_minutes,
       scope_kind, scope_value)
     SELECT w.id, 'bench rule ' || i,
       (ARRAY['cost_usd', 'total_tokens', 'runs', 'error_rate', 'runtime_p95'])[1 + i % 5],
       'greater_than', (ARRAY[50, 100000, 100, 20, 60])[1 + i % 5], 60 * (1 + (i / 5) % 24),
       CASE WHEN i % 10 IN (0, 1) THEN 'each_user' WHEN i % 3 = 0 AND a.id IS NOT NULL THEN 'agent' ELSE 'workspace' END,
       CASE WHEN i % 10 IN (0, 1) THEN NULL WHEN i % 3 = 0 AND a.id IS NOT NULL THEN a.id::text END
     FROM generate_series(1, $1::int) i
     CROSS JOIN LATERAL (SELECT id FROM public.workspaces ORDER BY id OFFSET (i % greatest((SELECT count(*) FROM public.workspaces), 1)) LIMIT 1) w
     LEFT JOIN LATERAL (SELECT id FROM public.agents ag WHERE ag.workspace_id = w.id ORDER BY id
                        OFFSET (i / 3) % greatest((SELECT count(*) FROM public.agents ag2 WHERE ag2.workspace_id = w.id), 1) LIMIT 1) a ON true`,
    [RULES],
  );
  const db = prismaFor(ctx.ownerUrl, { max: 6 });
  const results: BenchResult[] = [];
  try {
    const now = new Date();
    const first = await timed(() => evaluateAlerts(db, { now, concurrency: CONCURRENCY }));
    const second = await timed(() =>
      evaluateAlerts(db, { now: new Date(now.getTime() + 60_000), concurrency: CONCURRENCY }),
    );
    for (const [i, tick] of [first, second].entries()) {
      log(
        `alerts: tick ${i + 1} ${tick.result.rulesEvaluated} rules, ${tick.result.transitions} transitions, ${tick.result.errors} errors`,
      );
    }
    results.push({
      section: SECTION,
      name: `evaluate ${first.result.rulesEvaluated} active rules, first tick (${first.result.transitions} transitions)`,
      value: first.seconds,
      unit: "s",
      target: "≤ 2 s per tick",
    });
    results.push({
      section: SECTION,
      // The rollups section's minute ends seconds before the first tick, so part of it may only
      // enter the windows at the second tick: its transitions are named, it is not always quiet.
      name: `evaluate ${second.result.rulesEvaluated} active rules, steady tick (${second.result.transitions} transitions)`,
      value: second.seconds,
      unit: "s",
      target: "≤ 2 s per tick",
      note: "no notification channels: delivery is measured by the integration tests, not here",
    });
  } finally {
    await owner.query(`DELETE FROM analytics.alert_rules WHERE name LIKE 'bench rule %'`);
  }
  return results;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = performance.now();
  const result = await fn();
  return { result, seconds: Math.round(performance.now() - started) / 1000 };
}
