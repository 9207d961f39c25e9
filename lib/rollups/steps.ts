import { z } from "zod";

/**
 * The registry of rollup steps the engine runs (incremental cycle and backfill alike). A step is a
 * SQL function in a migration; the engine only decides which periods to hand it. Calling
 * conventions by grain (every function must be idempotent: recompute from raw rows, upsert, delete
 * rows whose sources vanished):
 *
 *   hour:      fn(workspace_id uuid, hours timestamptz[])  — UTC hour starts touched
 *              (optionally also groupedFunction(hours timestamptz[], workspace_ids uuid[]))
 *   day:       fn(workspace_id uuid, days date[])          — workspace-local days touched
 *   workspace: fn(workspace_id uuid)                       — once per touched workspace per cycle,
 *                                                            after the hour and day steps
 *
 * With `platform: true` the same function is also called with workspace_id NULL for the
 * platform-wide rows (UTC hours / UTC days / once per cycle).
 *
 * To add a step, append one line to ROLLUP_STEPS (order matters only between grains: hour steps
 * run first, then day steps, then workspace steps).
 */
export const rollupStepSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_.-]{0,62}$/, "step names are lowercase identifiers"),
  grain: z.enum(["hour", "day", "workspace"]),
  // Interpolated into SQL (identifiers cannot be bound): only a plain schema-qualified name passes.
  sqlFunction: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "sqlFunction must be schema.function in lowercase"),
  platform: z.boolean().default(false),
  /**
   * Hour steps only, optional: fn(hours timestamptz[], workspace_ids uuid[]) recomputing those hours
   * for those workspaces and for the platform from one read of the raw rows. The incremental hour
   * pass calls it once per island of hours for every claimed workspace together; without it the
   * step is called once per workspace and once for the platform. Rebuilds use sqlFunction.
   */
  groupedFunction: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "groupedFunction must be schema.function in lowercase")
    .optional(),
  /**
   * Hour steps with a groupedFunction only, optional: the grouped recompute cut in two halves so the
   * incremental hour pass can use two cores. `halfFunctions`: fn(hours timestamptz[]) → jsonb, each
   * computing one half of the rows for every scope of those hours, read-only; the hour pass runs
   * them on two helper connections that import the claim transaction's snapshot.
   * `combineFunction`: fn(hours timestamptz[], workspace_ids uuid[], half1 jsonb, half2 jsonb), the
   * groupedFunction with the halves handed in (NULL = computed in-line), run by the claim holder.
   */
  groupedSplit: z
    .object({
      halfFunctions: z.tuple([
        z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "halfFunctions must be schema.function in lowercase"),
        z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "halfFunctions must be schema.function in lowercase"),
      ]),
      combineFunction: z
        .string()
        .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "combineFunction must be schema.function in lowercase"),
    })
    .optional(),
  /**
   * Day steps only: how a rebuild hands it days. "chunk" = the chunk's days. "month" = once per
   * calendar month, in the chunk that reaches the month's last day (or the rebuild's last day),
   * with every rebuilt day of that month: for steps that recompute whole weeks/months per call
   * (token_usage), so a month's calls are read once instead of once per chunk. Absent = "chunk".
   */
  rebuildPeriod: z.enum(["chunk", "month"]).optional(),
  /**
   * The tables the step writes (its own and those its triggers maintain), schema-qualified. A
   * finished rebuild runs `VACUUM (ANALYZE)` on the union: the steps recompute by DELETE + INSERT,
   * so every rebuild leaves a dead copy of each row it rewrote (run_hourly was 530 MB for 772k rows
   * after a few rebuilds), and the fresh statistics matter after a rebuild into empty tables.
   */
  tables: z
    .array(z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "tables are schema.table in lowercase"))
    .optional(),
});
export type RollupStep = z.infer<typeof rollupStepSchema>;
export type RollupGrain = RollupStep["grain"];

const ROLLUP_STEPS: RollupStep[] = [
  {
    name: "hourly_metrics",
    grain: "hour",
    sqlFunction: "analytics.rollup_hourly_metrics",
    platform: true,
    groupedFunction: "analytics.rollup_hourly_metrics_grouped",
    tables: ["analytics.hourly_metrics"],
    // 0133: activity (users, sessions) and runs + LLM calls, computed on two connections.
    groupedSplit: {
      halfFunctions: ["analytics.compute_hour_activity_half", "analytics.compute_hour_runs_half"],
      combineFunction: "analytics.rollup_hourly_metrics_from_halves",
    },
  },
  {
    name: "daily_metrics",
    grain: "day",
    sqlFunction: "analytics.rollup_daily_metrics",
    platform: true,
    tables: ["analytics.daily_metrics"],
  },
  {
    name: "agent_performance",
    grain: "day",
    sqlFunction: "analytics.rollup_agent_performance",
    platform: false,
    tables: ["analytics.agent_performance"],
  },
  {
    name: "user_daily_activity",
    grain: "day",
    sqlFunction: "analytics.rollup_user_daily_activity",
    platform: false,
    // user_first_active_days: kept by a trigger on user_daily_activity (0114).
    tables: ["analytics.user_daily_activity", "analytics.user_first_active_days"],
  },
  // Usage rollups (migrations 0025-0027, docs/notes/usage-rollups.md). The daily and totals tables are
  // kept by the statement triggers on the hourly tables (0110/0115/0116).
  {
    name: "run_dimensions",
    grain: "day",
    sqlFunction: "analytics.rollup_run_dimensions",
    platform: false,
    tables: ["analytics.run_hourly", "analytics.run_user_daily", "analytics.run_daily", "analytics.run_daily_totals"],
  },
  {
    name: "llm_dimensions",
    grain: "day",
    sqlFunction: "analytics.rollup_llm_dimensions",
    platform: false,
    tables: [
      "analytics.llm_usage_hourly",
      "analytics.llm_usage_user_daily",
      "analytics.llm_usage_daily",
      "analytics.llm_usage_daily_totals",
    ],
  },
  {
    name: "stage_dimensions",
    grain: "day",
    sqlFunction: "analytics.rollup_stage_dimensions",
    platform: false,
    tables: ["analytics.stage_daily"],
  },
  {
    name: "token_usage",
    grain: "day",
    sqlFunction: "analytics.rollup_token_usage",
    platform: false,
    rebuildPeriod: "month",
    tables: ["analytics.user_token_usage"],
  },
  // Throttled full recompute (at most every 10 min per scope); NULL = platform rows from workspace rows.
  {
    name: "cohorts",
    grain: "workspace",
    sqlFunction: "analytics.rollup_cohorts_when_due",
    platform: true,
    tables: ["analytics.user_cohorts"],
  },
].map((step) => rollupStepSchema.parse(step));

const GRAIN_ORDER: Record<RollupGrain, number> = { hour: 0, day: 1, workspace: 2 };

/** Adds a step at run time (tests, plugins). Names are unique. */
export function registerRollupStep(step: z.input<typeof rollupStepSchema>): RollupStep {
  const parsed = rollupStepSchema.parse(step);
  if (ROLLUP_STEPS.some((existing) => existing.name === parsed.name)) {
    throw new Error(`rollup step "${parsed.name}" is already registered`);
  }
  ROLLUP_STEPS.push(parsed);
  return parsed;
}

/** Every registered step, hour steps first, then day, then workspace (stable within a grain). */
export function rollupSteps(): RollupStep[] {
  return [...ROLLUP_STEPS].sort((a, b) => GRAIN_ORDER[a.grain] - GRAIN_ORDER[b.grain]);
}
