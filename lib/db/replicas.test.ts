import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withUserContext, withUserReadContext } from "@/lib/db/context";
import { runMigrations } from "@/lib/db/migrate";
import { prismaFor } from "@/lib/db/prisma";
import { nextReplicaPrisma, replicaUrls } from "@/lib/db/replicas";
import { appUrlFor } from "@/lib/db/urls";

/**
 * A REAL streaming replica on loopback: a primary and a `pg_basebackup -R` hot standby, started as
 * the `postgres` OS user from Debian's PostgreSQL binaries (`apt-get install postgresql`; .ci/run
 * installs it). Nothing is installed here: without the binaries the suite is skipped with a reason.
 */
/** PG_BIN_DIR, else the newest Debian major under /usr/lib/postgresql that has the server tools. */
function findPgBin(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const base = "/usr/lib/postgresql";
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const found = majors
    .map((major) => path.join(base, major, "bin"))
    .find((dir) => existsSync(path.join(dir, "pg_basebackup")));
  return found ?? path.join(base, "15", "bin");
}
const PG_BIN = findPgBin();
const binariesPresent = ["initdb", "pg_ctl", "pg_basebackup", "postgres"].every((tool) =>
  existsSync(path.join(PG_BIN, tool)),
);
const SKIP_REASON = `PostgreSQL server binaries not found in ${PG_BIN} (apt-get install postgresql, or set PG_BIN_DIR)`;
if (!binariesPresent) console.warn(`replicas.test.ts skipped: ${SKIP_REASON}`);

const isRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL tool as the postgres OS user (servers refuse to run as root). */
function pgTool(tool: string, args: string[]): string {
  const binary = path.join(PG_BIN, tool);
  const [command, commandArgs] = isRoot ? ["runuser", ["-u", "postgres", "--", binary, ...args]] : [binary, args];
  return execFileSync(command, commandArgs, { encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

let root = "";
const started: string[] = [];
let primaryPort = 0;
let standbyPort = 0;
let ownerUrl = "";
let primaryAppUrl = "";
let standbyAppUrl = "";
const savedEnv = { app: process.env.DATABASE_APP_URL, replicas: process.env.DATABASE_REPLICA_URLS };

function startServer(dataDir: string, port: number): void {
  pgTool("pg_ctl", [
    "start",
    "-w",
    "-t",
    "60",
    "-D",
    dataDir,
    "-l",
    path.join(dataDir, "server.log"),
    "-o",
    `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=32MB`,
  ]);
  started.push(dataDir);
}

beforeAll(async () => {
  if (!binariesPresent) return;
  root = mkdtempSync(path.join(os.tmpdir(), "pulseboard-replica-"));
  chmodSync(root, 0o755);
  if (isRoot) {
    const ids = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim();
    const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim();
    chownSync(root, Number(ids), Number(gid));
  }
  const primaryDir = path.join(root, "primary");
  const standbyDir = path.join(root, "standby");
  [primaryPort, standbyPort] = [await freePort(), await freePort()];
  // Loopback only, trust authentication: a throwaway cluster that lives for this test.
  pgTool("initdb", ["-D", primaryDir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  startServer(primaryDir, primaryPort);
  ownerUrl = `postgresql://postgres@127.0.0.1:${primaryPort}/pulseboard`;
  const admin = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${primaryPort}/postgres` });
  await admin.connect();
  await admin.query("CREATE DATABASE pulseboard");
  await admin.end();
  await runMigrations(ownerUrl);
  // The standby: a base backup of the migrated primary; -R writes primary_conninfo + standby.signal;
  // -c fast checkpoints at once (a spread checkpoint would take minutes).
  pgTool("pg_basebackup", [
    "-h",
    "127.0.0.1",
    "-p",
    String(primaryPort),
    "-U",
    "postgres",
    "-D",
    standbyDir,
    "-R",
    "-X",
    "stream",
    "-c",
    "fast",
    "--no-sync",
  ]);
  startServer(standbyDir, standbyPort);
  primaryAppUrl = appUrlFor(ownerUrl);
  const standbyOwnerUrl = `postgresql://postgres@127.0.0.1:${standbyPort}/pulseboard`;
  standbyAppUrl = appUrlFor(standbyOwnerUrl);
  // Same role and password on the standby (roles replicate); trust auth accepts either way.
  process.env.DATABASE_APP_URL = primaryAppUrl;
  process.env.DATABASE_REPLICA_URLS = standbyAppUrl;
}, 240_000);

afterAll(async () => {
  if (savedEnv.app === undefined) delete process.env.DATABASE_APP_URL;
  else process.env.DATABASE_APP_URL = savedEnv.app;
  if (savedEnv.replicas === undefined) delete process.env.DATABASE_REPLICA_URLS;
  else process.env.DATABASE_REPLICA_URLS = savedEnv.replicas;
  if (!binariesPresent) return;
  await Promise.allSettled([primaryAppUrl, standbyAppUrl].filter(Boolean).map((url) => prismaFor(url).$disconnect()));
  for (const dataDir of started.reverse()) {
    try {
      pgTool("pg_ctl", ["stop", "-D", dataDir, "-m", "immediate", "-w"]);
    } catch {
      // already stopped
    }
  }
  if (root) rmSync(root, { recursive: true, force: true });
}, 120_000);

describe("DATABASE_REPLICA_URLS parsing", () => {
  it("accepts a comma-separated list, ignores blanks, refuses a non-postgres URL", () => {
    expect(replicaUrls("")).toEqual([]);
    expect(replicaUrls(" postgres://a@h:1/d , ,postgresql://b@h:2/d")).toEqual([
      "postgres://a@h:1/d",
      "postgresql://b@h:2/d",
    ]);
    expect(() => replicaUrls("http://h/d")).toThrow(
      /DATABASE_REPLICA_URLS is invalid: each DATABASE_REPLICA_URLS entry must be a postgres/,
    );
    expect(nextReplicaPrisma("")).toBeNull();
  });
});

describe.skipIf(!binariesPresent)(
  `reads on a real streaming replica${binariesPresent ? "" : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    it("serves withUserReadContext from the standby and withUserContext from the primary; writes replicate", async () => {
      const owner = new pg.Client({ connectionString: ownerUrl });
      await owner.connect();
      try {
        const one = async (sql: string, params: unknown[] = []) =>
          (await owner.query<{ id: string }>(sql, params)).rows[0].id;
        const ws = await one("INSERT INTO public.workspaces (slug, name) VALUES ('rep', 'Rep') RETURNING id");
        const account = await one("INSERT INTO public.accounts (email) VALUES ('reader@rep.test') RETURNING id");
        await owner.query(
          "INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'member')",
          [ws, account],
        );
        await owner.query(
          "INSERT INTO public.agents (workspace_id, external_id, name) SELECT $1, 'a' || g, 'Agent ' || g FROM generate_series(1, 7) g",
          [ws],
        );

        // Wait (bounded) until the standby has replayed the primary's WAL up to this point.
        const waitForReplay = async () => {
          const lsn = (await owner.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0].lsn;
          const standby = new pg.Client({
            connectionString: `postgresql://postgres@127.0.0.1:${standbyPort}/pulseboard`,
          });
          await standby.connect();
          try {
            for (let attempt = 0; attempt < 300; attempt++) {
              const { rows } = await standby.query<{ caught_up: boolean }>(
                "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up",
                [lsn],
              );
              if (rows[0].caught_up) return;
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
            throw new Error(`standby did not replay up to ${lsn} within 30 s`);
          } finally {
            await standby.end();
          }
        };
        await waitForReplay();

        const read = () =>
          withUserReadContext(
            account,
            (tx) =>
              tx.$queryRaw<{ in_recovery: boolean; port: number; agents: number }[]>`
            SELECT pg_is_in_recovery() AS in_recovery, inet_server_port() AS port, (SELECT count(*)::int FROM public.agents) AS agents`,
          );
        expect(await read()).toEqual([{ in_recovery: true, port: standbyPort, agents: 7 }]);

        // A write through the app role goes to the primary (same RLS as always: this member may not
        // write agents, but may read them there).
        const onPrimary = await withUserContext(
          account,
          (tx) =>
            tx.$queryRaw<
              { in_recovery: boolean; port: number }[]
            >`SELECT pg_is_in_recovery() AS in_recovery, inet_server_port() AS port`,
        );
        expect(onPrimary).toEqual([{ in_recovery: false, port: primaryPort }]);

        // A new write on the primary becomes visible on the replica after replication.
        await owner.query(
          "INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'late', 'Late agent')",
          [ws],
        );
        await waitForReplay();
        expect(await read()).toEqual([{ in_recovery: true, port: standbyPort, agents: 8 }]);

        // The replica refuses writes (read-only transaction on a hot standby).
        await expect(
          withUserReadContext(
            account,
            (tx) => tx.$queryRaw`UPDATE public.accounts SET name = 'x' WHERE id = ${account}::uuid`,
          ),
        ).rejects.toThrow(/read-only transaction/);
      } finally {
        await owner.end();
      }
    });
  },
);
