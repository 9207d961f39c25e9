import pg from "pg";
import { ensureEmbeddedPostgres, type EmbeddedServer } from "./embedded";
import { runMigrations } from "./migrate";
import { appUrlFor, withDatabase } from "./urls";

export type DatabaseHandle = {
  /** Owner connection: migrations, seeding, rollup jobs that write every tenant's rows. */
  ownerUrl: string;
  /** App-role connection: everything the web app serves, under row-level security. */
  appUrl: string;
  embedded: EmbeddedServer | null;
  close: () => Promise<void>;
};

const EMBEDDED_DATABASE = "pulseboard";

/**
 * Finds (or starts) the database and brings its schema up to date. With DATABASE_URL, that server
 * is used as it is; without, the embedded PostgreSQL under .data/ is started or reused.
 */
export async function openDatabase(
  options: { migrate?: boolean; log?: (line: string) => void } = {},
): Promise<DatabaseHandle> {
  const log = options.log ?? (() => {});
  let ownerUrl = process.env.DATABASE_URL;
  let embedded: EmbeddedServer | null = null;
  if (!ownerUrl) {
    embedded = await ensureEmbeddedPostgres();
    log(
      embedded.owned
        ? `started embedded PostgreSQL on port ${embedded.port}`
        : `reusing embedded PostgreSQL on port ${embedded.port}`,
    );
    await createDatabaseIfMissing(embedded.url, EMBEDDED_DATABASE);
    ownerUrl = withDatabase(embedded.url, EMBEDDED_DATABASE);
  }
  await assertSupportedVersion(ownerUrl);
  if (options.migrate !== false) {
    const applied = await runMigrations(ownerUrl, { log });
    if (applied.length > 0) log(`applied ${applied.length} migration(s)`);
  }
  const server = embedded;
  return {
    ownerUrl,
    appUrl: appUrlFor(ownerUrl),
    embedded,
    close: async () => {
      if (server?.owned) await server.stop();
    },
  };
}

export async function createDatabaseIfMissing(serverUrl: string, name: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

async function assertSupportedVersion(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>("SHOW server_version_num");
    if (Number(rows[0].v) < 150000) {
      throw new Error(`PostgreSQL 15 or newer is required (found ${rows[0].v}).`);
    }
  } finally {
    await client.end();
  }
}
