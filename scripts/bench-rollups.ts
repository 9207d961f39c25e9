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
import { refreshDirtyRollups } from "@/lib/rollups/engine";
import { rollupSteps } from "@/lib/rollups/steps";

/**
 * `npx tsx scripts/bench-rollups.ts [--workspaces n] [--minute small|medium] [--per-step] [--dir path]`: the rollups bench section alone,
 * on a world kept between runs (the data directory survives, the world is loaded once), so a rollup
 * change can be measured in a minute instead of a whole `npm run bench`. Small-scale volumes; the
 * workspace count can be raised to see per-workspace effects. Migrations added since the last run are
 * applied first. Prints the load average next to every figure (the machine is shared).
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
  },
});
function path(): string {
  return `${os.tmpdir()}/pulseboard-rollup-bench`;
}
const workspaces = z.coerce.number().int().min(1).max(40).parse(values.workspaces);
const minuteScale = z.enum(["small", "medium"]).parse(values.minute);
const scale = { ...SCALES.small, workspaces };
const server = await ensureEmbeddedPostgres({ dir: values.dir });
const database = `rollup_bench_w${workspaces}`;
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
  // The loader writes up to today's UTC midnight; anything later is an earlier run's ingested minute.
  for (const table of ["analytics.user_activity", "public.llm_usage_logs"]) {
    await owner.query(`DELETE FROM ${table} WHERE created_at >= date_trunc('day', now(), 'UTC')`);
  }
  await owner.query("DELETE FROM public.agent_runs WHERE started_at >= date_trunc('day', now(), 'UTC')");
  // Without this the next minute lands next to the dead rows and every scan of today reads both.
  await owner.query("VACUUM (ANALYZE) public.agent_runs, analytics.user_activity, public.llm_usage_logs");
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
} finally {
  await owner.end();
  await server.stop();
}
