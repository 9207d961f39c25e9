import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * `npm test`: every test, the way CI runs them.
 *   1. generate the Prisma client, then lint (tsc, ESLint, Prettier),
 *   2. unit + integration tests (vitest) against a throwaway real PostgreSQL,
 *   3. the production build,
 *   4. Playwright in Debian's Chromium against that build, on its own throwaway database.
 * Ends with one line "tests: N passed, N failed" (CI reads it) and a non-zero exit on any failure.
 * `--unit` / `--e2e` run one half; anything after `--` goes to the runner.
 */
const args = process.argv.slice(2);
const only = args.includes("--unit") ? "unit" : args.includes("--e2e") ? "e2e" : "all";
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const reports = mkdtempSync(path.join(os.tmpdir(), "pulseboard-reports-"));

function run(command: string, commandArgs: string[], extraEnv: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { stdio: "inherit", env: { ...env, ...extraEnv } });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

type Tally = { passed: number; failed: number; skipped: number };
const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
const failures: string[] = [];

async function unit() {
  const output = path.join(reports, "vitest.json");
  const code = await run("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile=${output}`]);
  if (existsSync(output)) {
    const report = JSON.parse(readFileSync(output, "utf8")) as {
      numPassedTests: number;
      numFailedTests: number;
      numPendingTests: number;
      numTodoTests: number;
    };
    tally.passed += report.numPassedTests;
    tally.failed += report.numFailedTests;
    tally.skipped += report.numPendingTests + report.numTodoTests;
  }
  if (code !== 0) failures.push(`vitest exited ${code}`);
}

async function e2e() {
  const buildCode = await run("npx", ["next", "build"]);
  if (buildCode !== 0) {
    failures.push(`next build exited ${buildCode}`);
    tally.failed += 1;
    return;
  }
  const output = path.join(reports, "playwright.json");
  const code = await run("npx", ["playwright", "test", "--reporter=list,json"], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: output,
  });
  if (existsSync(output)) {
    const report = JSON.parse(readFileSync(output, "utf8")) as {
      stats: { expected: number; unexpected: number; flaky: number; skipped: number };
    };
    tally.passed += report.stats.expected + report.stats.flaky;
    tally.failed += report.stats.unexpected;
    tally.skipped += report.stats.skipped;
  }
  if (code !== 0) failures.push(`playwright exited ${code}`);
}

const generate = await run("npx", ["tsx", "scripts/prisma-generate.ts"]);
if (generate !== 0) {
  console.error("prisma generate failed");
  process.exit(1);
}
async function lint() {
  // Type-check, ESLint and Prettier: counted as one test so a style or type error fails CI too.
  const code = await run("npm", ["run", "--silent", "lint"]);
  if (code === 0) tally.passed += 1;
  else {
    tally.failed += 1;
    failures.push(`npm run lint exited ${code}`);
  }
}

if (only === "all") await lint();
if (only !== "e2e") await unit();
if (only !== "unit") await e2e();
rmSync(reports, { recursive: true, force: true });

if (failures.length > 0 && tally.failed === 0) tally.failed = 1; // a runner crashed before counting
console.log("");
for (const failure of failures) console.log(`- ${failure}`);
console.log(
  `tests: ${tally.passed} passed, ${tally.failed} failed${tally.skipped ? `, ${tally.skipped} skipped` : ""}`,
);
process.exit(failures.length > 0 || tally.failed > 0 ? 1 : 0);
