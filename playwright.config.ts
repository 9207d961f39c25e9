import { chmodSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineConfig, devices } from "@playwright/test";
import { assertLocalDatabaseUrl } from "./e2e/support/local-database";

/**
 * End-to-end tests against the production build, started by `scripts/start.ts` on a throwaway
 * embedded PostgreSQL in a fresh temp directory (migrated, seeded at small scale, rolled up once).
 * Browsers: Debian's Chromium (no `npx playwright install` on these machines).
 */
const PORT = Number(process.env.E2E_PORT ?? 3100);
const BASE_URL = `http://localhost:${PORT}`;

// Refuse to point the app (and these tests' raw SQL) at a database that is not on this machine:
// scripts/start.ts uses DATABASE_URL as-is when it is set.
if (process.env.DATABASE_URL) assertLocalDatabaseUrl(process.env.DATABASE_URL);

// Workers load this file again; the directory is created once and inherited through the env.
if (!process.env.PULSEBOARD_E2E_DATA_DIR) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pulseboard-e2e-"));
  chmodSync(dir, 0o755); // the embedded server runs as the unprivileged "postgres" user under root
  process.env.PULSEBOARD_E2E_DATA_DIR = dir;
}
const DATA_DIR = process.env.PULSEBOARD_E2E_DATA_DIR;

export default defineConfig({
  testDir: "./e2e",
  fullyParallel: false,
  workers: 1, // two cores, one server, one database
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: process.env.CI ? "list" : [["list"]],
  use: {
    baseURL: BASE_URL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    },
  },
  projects: [
    { name: "setup", testMatch: /auth\.setup\.ts$/ },
    {
      name: "chromium",
      testMatch: /.*\.spec\.ts$/,
      dependencies: ["setup"],
      use: { ...devices["Desktop Chrome"], storageState: "e2e/.auth/admin.json" },
    },
  ],
  webServer: {
    command: "npx tsx scripts/start.ts",
    url: `${BASE_URL}/api/health`,
    timeout: 600_000, // first start: migrate, seed, roll up, and build if no build exists
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    env: {
      PORT: String(PORT),
      PULSEBOARD_DATA_DIR: DATA_DIR,
      PULSEBOARD_SEED_SCALE: "small",
      NEXTAUTH_URL: BASE_URL,
      NEXT_TELEMETRY_DISABLED: "1",
    },
  },
});
