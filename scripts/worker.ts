import { openDatabase } from "@/lib/db/database";
import { startWorker } from "@/lib/worker";

// `npm run worker`: background jobs (rollups every ROLLUP_INTERVAL_SECONDS, daily re-rollup,
// materialized-view refresh, retention cleanup, and whatever else is registered). Stops gracefully
// on SIGINT/SIGTERM: running jobs finish, nothing is left half-written.
const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
const db = await openDatabase({ log });
const stop = await startWorker({ ownerUrl: db.ownerUrl, log });

let shuttingDown = false;
async function shutdown(signal: string) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`worker: ${signal} received, finishing running jobs`);
  try {
    await stop();
    await db.close();
    process.exit(0);
  } catch (error) {
    log(`worker: unclean stop: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
