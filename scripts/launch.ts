import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { openDatabase, type DatabaseHandle } from "@/lib/db/database";
import { dataDirectory } from "@/lib/db/embedded";
import { sessionSecret } from "@/lib/runtime/secrets";

export type LaunchMode = "production" | "development";

const log = (line: string) => console.log(`[pulseboard] ${line}`);

/**
 * What `npm start` and `npm run dev` share: database up and migrated, demo data on first start,
 * rollups brought up to date once, the web server and the worker started, all stopped together.
 */
export async function launch(mode: LaunchMode) {
  process.env.NEXT_TELEMETRY_DISABLED = "1";
  const port = Number(process.env.PORT ?? 3000);
  const db = await openDatabase({ log });
  const env = {
    ...process.env,
    DATABASE_URL: db.ownerUrl,
    DATABASE_APP_URL: db.appUrl,
    NEXTAUTH_SECRET: sessionSecret(),
    NEXTAUTH_URL: process.env.NEXTAUTH_URL ?? `http://localhost:${port}`,
    PORT: String(port),
  };
  Object.assign(process.env, env);

  const { seedIfEmpty } = await import("@/lib/seed/first-start");
  await seedIfEmpty(db.ownerUrl, { log });

  const { refreshDirtyRollups } = await import("@/lib/rollups/engine");
  const started = Date.now();
  await refreshDirtyRollups(db.ownerUrl);
  log(`rollups up to date (${((Date.now() - started) / 1000).toFixed(1)} s)`);

  if (mode === "production" && !existsSync(path.join(process.cwd(), ".next", "BUILD_ID"))) {
    log("no production build found: running next build (once)");
    await run("npx", ["next", "build"], env);
  }

  const children: ChildProcess[] = [];
  const nextArgs = mode === "production" ? ["next", "start", "-p", String(port)] : ["next", "dev", "-p", String(port)];
  const web = spawn("npx", nextArgs, { env, stdio: "inherit" });
  children.push(web);

  let stopWorker: (() => Promise<void>) | null = null;
  if (process.env.PULSEBOARD_WORKER !== "off") {
    const { startWorker } = await import("@/lib/worker");
    stopWorker = await startWorker({ ownerUrl: db.ownerUrl, log: (line: string) => log(`worker: ${line}`) });
  }

  writeRuntimeFile(db, port);
  const { adminHint } = await import("@/lib/seed/first-start");
  const hint = await adminHint(db.ownerUrl);
  log(`Pulseboard is running at http://localhost:${port}`);
  if (hint) log(hint);

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log("stopping…");
    for (const child of children) child.kill("SIGTERM");
    await stopWorker?.().catch(() => {});
    await db.close();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  web.on("exit", (code) => void stop(code ?? 0));
}

/** Lets e2e tests and scripts find the running instance's database. */
function writeRuntimeFile(db: DatabaseHandle, port: number) {
  const dir = dataDirectory();
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "runtime.json"),
    JSON.stringify({ url: `http://localhost:${port}`, ownerUrl: db.ownerUrl, appUrl: db.appUrl }, null, 2),
    { mode: 0o600 },
  );
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: "inherit" });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}`)),
    );
  });
}
