import os from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { z } from "zod";
import { createDatabaseIfMissing } from "@/lib/db/database";
import { ensureEmbeddedPostgres } from "@/lib/db/embedded";
import { runMigrations } from "@/lib/db/migrate";
import { appUrlFor, withDatabase } from "@/lib/db/urls";
import { loadBenchWorld, SCALES } from "@/lib/bench/load";
import { benchRollups, markMinuteDirty } from "@/lib/bench/rollups";
import { measureRollupFloor, type FloorMode } from "@/lib/bench/floor";
import { rebuildRollups, refreshDirtyRollups } from "@/lib/rollups/engine";
import { rollupSteps } from "@/lib/rollups/steps";

/**
 * `npx tsx scripts/bench-rollups.ts [--workspaces n] [--factor f] [--users n] [--agents n] [--minute small|medium] [--per-step] [--dir path]`: the rollups bench section alone,
 * on a world kept between runs (the data directory survives, the world is loaded once), so a rollup
 * change can be measured in a minute instead of a whole `npm run bench`. Small-scale volumes; the
 * workspace count can be raised to see per-workspace effects. Migrations added since the last run are
 * applied first. Prints the load average next to every figure (the machine is shared).
 *
 * `--factor f` multiplies the small world's runs/events/calls (own database per factor: 20 workspaces
 * × factor 10 = 4M raw rows, loaded in about a minute, rebuilt in a few). The medium bench's world is
 * `--workspaces 20 --factor 100 --users 2000 --agents 25` (per-user rollups grow with the users).
 * `--rebuild-only [--repeat n]`: only the full 92-day rebuild, n times, each with the time per step
 * function from pg_stat_user_functions (track_functions = 'all' on this database): the rebuild's
 * profile without the minute's ingest.
 * `--floor due|rebuild|both`: instead of the bench, the lower bounds of its two targets on the world as
 * the last bench left it (lib/bench/floor.ts): inserting the rows a due cycle / a rebuild writes into
 * empty copies of the rollup tables, and one read of the raw rows, each on two connections.
 */
const { values } = parseArgs({
  options: {
    workspaces: { type: "string", default: "2" },
    // "medium" = the full-rate minute (3M rows) of the medium/large bench, on the small world.
    minute: { type: "string", default: "small" },
    // Afterwards, one cycle per registered step alone over the same minute (today's day due).
    "per-step": { type: "boolean" },
    // Afterwards, hourly_metrics of the minute per workspace vs grouped, twice, same rows.
    "ab-hourly": { type: "boolean" },
    dir: { type: "string", default: path() },
    factor: { type: "string", default: "1" },
    // Users and agents per workspace (default: the small scale's 300 and 10; the medium bench has 2,000 and 25).
    users: { type: "string" },
    agents: { type: "string" },
    "rebuild-only": { type: "boolean" },
    repeat: { type: "string", default: "1" },
    // Rebuild window (default: the 92 days up to today); fixed dates keep A/B runs comparable across midnight.
    from: { type: "string" },
    to: { type: "string" },
    floor: { type: "string" },
  },
});
function path(): string {
  return `${os.tmpdir()}/pulseboard-rollup-bench`;
}
const workspaces = z.coerce.number().int().min(1).max(40).parse(values.workspaces);
const minuteScale = z.enum(["small", "medium"]).parse(values.minute);
const factor = z.coerce.number().int().min(1).max(100).parse(values.factor);
const repeat = z.coerce.number().int().min(1).max(20).parse(values.repeat);
const users = z.coerce.number().int().min(1).max(100_000).default(SCALES.small.usersPerWorkspace).parse(values.users);
const floorModes = z
  .enum(["due", "rebuild", "both"])
  .optional()
  .transform((mode) => (mode === "both" ? (["due", "rebuild"] as const) : mode ? [mode] : []))
  .parse(values.floor);
const agents = z.coerce.number().int().min(1).max(1_000).default(SCALES.small.agentsPerWorkspace).parse(values.agents);
const scale = {
  ...SCALES.small,
  workspaces,
  usersPerWorkspace: users,
  agentsPerWorkspace: agents,
  runs: SCALES.small.runs * factor,
  activityEvents: SCALES.small.activityEvents * factor,
  llmCalls: SCALES.small.llmCalls * factor,
};
const server = await ensureEmbeddedPostgres({ dir: values.dir });
const database =
  `rollup_bench_w${workspaces}` +
  (factor === 1 ? "" : `_x${factor}`) +
  (users === SCALES.small.usersPerWorkspace ? "" : `_u${users}`) +
  (agents === SCALES.small.agentsPerWorkspace ? "" : `_a${agents}`);
await createDatabaseIfMissing(withDatabase(server.url, "postgres"), database);
const ownerUrl = withDatabase(server.url, database);
await runMigrations(ownerUrl);
const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });
const log = (line: string) => console.log(`${line}  [load ${os.loadavg()[0].toFixed(2)}]`);
try {
  const { rows } = await owner.query<{ n: number }>("SELECT count(*)::integer AS n FROM public.agent_runs");
  if (rows[0].n === 0) {
    log(`loading ${workspaces} workspaces`);
    await loadBenchWorld(owner, scale, () => {});
  }
  if (floorModes.length > 0) {
    // The world as the last bench left it: its ingested minute and the rollups written from it.
    for (const mode of floorModes) await floor(mode);
  } else {
    // The loader writes up to today's UTC midnight; anything later is an earlier run's ingested minute.
    for (const table of ["analytics.user_activity", "public.llm_usage_logs"]) {
      await owner.query(`DELETE FROM ${table} WHERE created_at >= date_trunc('day', now(), 'UTC')`);
    }
    await owner.query("DELETE FROM public.agent_runs WHERE started_at >= date_trunc('day', now(), 'UTC')");
    // Without this the next minute lands next to the dead rows and every scan of today reads both.
    await owner.query("VACUUM (ANALYZE) public.agent_runs, analytics.user_activity, public.llm_usage_logs");
    if (values["rebuild-only"]) {
      await rebuildOnly();
    } else {
      await fullBench();
    }
  }
} finally {
  await owner.end();
  await server.stop();
}

async function floor(mode: FloorMode): Promise<void> {
  const result = await measureRollupFloor(owner, mode);
  log(
    `floor (${mode}): insert ${result.rowsWritten} rollup rows ${result.writeSeconds.toFixed(2)} s, ` +
      `read ${result.rawRowsRead} raw rows ${result.readSeconds.toFixed(2)} s (two connections each)`,
  );
  for (const table of result.tables.filter((t) => t.seconds >= 0.05)) {
    console.log(`  ${table.table}: ${table.rows} rows in ${table.seconds.toFixed(2)} s`);
  }
}

/** The 92-day rebuild alone, `repeat` times, with seconds per step function (self + callees). */
async function rebuildOnly(): Promise<void> {
  await owner.query(`ALTER DATABASE ${database} SET track_functions = 'all'`);
  const now = new Date();
  const to = values.to ?? now.toISOString().slice(0, 10);
  const from = values.from ?? new Date(Date.parse(to) - 91 * 86_400_000).toISOString().slice(0, 10);
  const snapshot = async () => {
    // A new connection sees the database setting; the statistics snapshot is per transaction.
    const { rows } = await owner.query<{ name: string; total_ms: number; calls: number }>(
      `SELECT schemaname || '.' || funcname AS name, total_time AS total_ms, calls::integer AS calls
       FROM pg_stat_user_functions WHERE schemaname = 'analytics'`,
    );
    return new Map(rows.map((row) => [row.name, row]));
  };
  for (let round = 0; round < repeat; round += 1) {
    await owner.query("SELECT pg_stat_clear_snapshot()");
    const before = await snapshot();
    // By URL: the rebuild's own pool opens connections after the ALTER DATABASE, so they track functions.
    // When each scope's last chunk committed (seconds since start): shows a lane idling at the end.
    const started = Date.now();
    const finishedAt = new Map<string, number>();
    const stats = await rebuildRollups(ownerUrl, {
      from,
      to,
      chunkDays: 7,
      onProgress: (p) => finishedAt.set(p.scope, (Date.now() - started) / 1000),
    });
    const ends = [...finishedAt.entries()].sort((a, b) => a[1] - b[1]);
    const platformEnd = finishedAt.get("platform");
    const others = ends.filter(([scope]) => scope !== "platform").map(([, t]) => t);
    console.log(
      `  last workspace chunk at ${Math.max(0, ...others).toFixed(1)} s, platform's last chunk at ${platformEnd?.toFixed(1) ?? "-"} s`,
    );
    // Let the backends report their function counters (they flush at most once a second when idle).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await owner.query("SELECT pg_stat_clear_snapshot()");
    const after = await snapshot();
    log(
      `full rebuild ${from}..${to}, ${stats.scopes} scopes: ${stats.durationMs / 1000} s (closing VACUUM ${stats.vacuumMs / 1000} s)`,
    );
    const lines = [...after.values()]
      .map((row) => {
        const old = before.get(row.name);
        return { name: row.name, ms: row.total_ms - (old?.total_ms ?? 0), calls: row.calls - (old?.calls ?? 0) };
      })
      .filter((row) => row.ms >= 100)
      .sort((a, b) => b.ms - a.ms);
    for (const row of lines) console.log(`  ${row.name}: ${(row.ms / 1000).toFixed(1)} s in ${row.calls} calls`);
  }
}

async function fullBench(): Promise<void> {
  const results = await benchRollups({ scale: minuteScale, ownerUrl, appUrl: appUrlFor(ownerUrl), owner, log });
  for (const r of results) log(`${r.name}: ${r.value} ${r.unit}`);
  if (values["ab-hourly"]) {
    // Same rows, back to back: hourly_metrics of the minute's hours per workspace + platform (one
    // statement each, as before 0100) vs one grouped statement.
    const { rows: ws } = await owner.query<{ id: string }>("SELECT id::text FROM public.workspaces ORDER BY id");
    const hours = "ARRAY[date_trunc('hour', now() - interval '60 seconds', 'UTC'), date_trunc('hour', now(), 'UTC')]";
    for (let round = 0; round < 2; round += 1) {
      let started = Date.now();
      for (const w of [...ws.map((row) => row.id), null]) {
        await owner.query(`SELECT analytics.rollup_hourly_metrics($1::uuid, ${hours})`, [w]);
      }
      log(`hourly_metrics per workspace + platform (${ws.length + 1} statements): ${(Date.now() - started) / 1000} s`);
      started = Date.now();
      await owner.query(`SELECT analytics.rollup_hourly_metrics_grouped(${hours}, $1::uuid[])`, [
        ws.map((row) => row.id),
      ]);
      log(`hourly_metrics grouped (one statement): ${(Date.now() - started) / 1000} s`);
    }
  }
  if (values["per-step"]) {
    for (const step of rollupSteps()) {
      await markMinuteDirty(owner);
      const stats = await refreshDirtyRollups(owner, { steps: [step], openDayRefreshSeconds: 0 });
      log(`step ${step.name} alone over the minute: ${stats.durationMs / 1000} s`);
    }
  }
}
