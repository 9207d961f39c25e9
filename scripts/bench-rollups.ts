import os from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { z } from "zod";
import { createDatabaseIfMissing } from "@/lib/db/database";
import { ensureEmbeddedPostgres } from "@/lib/db/embedded";
import { runMigrations } from "@/lib/db/migrate";
import { appUrlFor, withDatabase } from "@/lib/db/urls";
import { loadBenchWorld, SCALES } from "@/lib/bench/load";
import { benchRollups } from "@/lib/bench/rollups";

/**
 * `npx tsx scripts/bench-rollups.ts [--workspaces n] [--minute small|medium] [--dir path]`: the rollups bench section alone,
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
  const results = await benchRollups({ scale: minuteScale, ownerUrl, appUrl: appUrlFor(ownerUrl), owner, log });
  for (const r of results) log(`${r.name}: ${r.value} ${r.unit}`);
} finally {
  await owner.end();
  await server.stop();
}
