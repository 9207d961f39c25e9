import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { createDatabaseIfMissing } from "@/lib/db/database";
import { ensureEmbeddedPostgres } from "@/lib/db/embedded";
import { runMigrations } from "@/lib/db/migrate";
import { withDatabase } from "@/lib/db/urls";
import { TEMPLATE_DATABASE } from "./template";

/**
 * One real PostgreSQL for the whole unit/integration run: TEST_DATABASE_URL's server when set,
 * else a throwaway embedded one in a temp directory. Migrations run once into a template database;
 * each test file clones it (CREATE DATABASE ... TEMPLATE), which takes milliseconds.
 */
export default async function setup(project: TestProject) {
  let serverUrl = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  let dir: string | null = null;
  if (!serverUrl) {
    dir = mkdtempSync(path.join(os.tmpdir(), "pulseboard-test-"));
    chmodSync(dir, 0o755); // the server runs as the unprivileged "postgres" user
    const server = await ensureEmbeddedPostgres({ dir });
    serverUrl = server.url;
    stop = server.stop;
  }
  const adminUrl = withDatabase(serverUrl, "postgres");
  // A template left by an interrupted run may be stale: rebuild it every run.
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
  await client.end();
  await createDatabaseIfMissing(adminUrl, TEMPLATE_DATABASE);
  await runMigrations(withDatabase(serverUrl, TEMPLATE_DATABASE));
  project.provide("pgServerUrl", adminUrl);
  return async () => {
    await stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    pgServerUrl: string;
  }
}
