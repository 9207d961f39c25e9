import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** e2e tests write and read raw rows: they must never touch a database on another machine. */
export function assertLocalDatabaseUrl(url: string): void {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new Error("e2e: DATABASE_URL is not a valid URL; refusing to run.");
  }
  if (!LOCAL_HOSTS.has(host)) {
    throw new Error(`e2e: refusing to run against a non-local database (host "${host}"). Unset DATABASE_URL.`);
  }
}

const runtimeSchema = z.object({ url: z.string(), ownerUrl: z.string() });
export type Runtime = z.infer<typeof runtimeSchema>;

/** What scripts/start.ts wrote for this run: the app URL and the owner database URL (checked local). */
export function readRuntime(): Runtime {
  const dir = process.env.PULSEBOARD_E2E_DATA_DIR;
  if (!dir) throw new Error("e2e: PULSEBOARD_E2E_DATA_DIR is not set (run through playwright.config.ts).");
  const runtime = runtimeSchema.parse(JSON.parse(readFileSync(path.join(dir, "runtime.json"), "utf8")));
  assertLocalDatabaseUrl(runtime.ownerUrl);
  return runtime;
}
