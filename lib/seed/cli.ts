import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { openDatabase } from "@/lib/db/database";
import { SeedRefusedError, seedDemoWorld, seedOptionsSchema, type SeedHooks, type SeedSummary } from "./seed";

const USAGE = "npm run db:seed -- [--scale small|demo|large] [--seed 42] [--now 2025-01-31T12:00:00Z] [--force]";

/** Parses the db:seed flags; a mistake throws SeedRefusedError with one actionable line. */
export function parseSeedArgs(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        scale: { type: "string" },
        seed: { type: "string" },
        now: { type: "string" },
        force: { type: "boolean" },
        reset: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new SeedRefusedError(`${error instanceof Error ? error.message : String(error)} (usage: ${USAGE})`);
  }
  const parsed = seedOptionsSchema.safeParse({
    scale: values.scale,
    seed: values.seed,
    now: values.now,
    force: Boolean(values.force || values.reset),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SeedRefusedError(`--${issue.path.join(".")}: ${issue.message} (usage: ${USAGE})`);
  }
  if (parsed.data.now && Number.isNaN(parsed.data.now.getTime())) {
    throw new SeedRefusedError(`--now must be an ISO timestamp such as 2025-01-31T12:00:00Z (usage: ${USAGE})`);
  }
  return parsed.data;
}

/** A bar on a terminal; plain progress lines (every 10 %) when piped into a log. */
function progressHooks(): SeedHooks & { stop: () => void } {
  const log = (line: string) => console.log(line);
  if (process.stdout.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: "seeding [{bar}] {percentage}% | {value}/{total} users | {duration}s", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      log,
      onProgress: ({ done, total }) => {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else bar.update(done);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let lastDecile = -1;
  return {
    log,
    onProgress: ({ done, total }) => {
      const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        console.log(`seeding: ${decile * 10}% (${done}/${total} users)`);
      }
    },
    stop: () => {},
  };
}

export function formatSummary(summary: SeedSummary): string[] {
  const lines = [
    `seeded scale=${summary.scale} seed=${summary.seed} now=${summary.now} in ${summary.seconds.toFixed(1)} s`,
    ...Object.entries(summary.counts).map(
      ([table, n]) => `  ${table.padEnd(20)} ${n.toLocaleString("en-US").padStart(12)}`,
    ),
    "demo logins (password for all: " + summary.logins[0]?.password + "):",
    ...summary.logins.map((login) => `  ${login.email.padEnd(26)} ${login.role}`),
  ];
  return lines;
}

/** The `npm run db:seed` entry point; returns the process exit code. */
export async function runSeedCli(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseSeedArgs(argv);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  const db = await openDatabase({ log: (line) => console.log(line) });
  const hooks = progressHooks();
  try {
    const summary = await seedDemoWorld(db.ownerUrl, options, hooks);
    hooks.stop();
    for (const line of formatSummary(summary)) console.log(line);
    return 0;
  } catch (error) {
    hooks.stop();
    if (error instanceof SeedRefusedError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await db.close();
  }
}
