import pg from "pg";
import { verifyPassword } from "@/lib/auth/password";
import { formatSummary } from "./cli";
import { DEMO_ACCOUNTS, DEMO_PASSWORD, SeedRefusedError, isDatabaseEmpty, seedDemoWorld } from "./seed";

/**
 * On first start (no workspace yet) load the demo world so the dashboards have something to show.
 * PULSEBOARD_SEED=off skips it (a production install that starts empty); PULSEBOARD_SEED_SCALE
 * picks another scale (default demo).
 */
export async function seedIfEmpty(ownerUrl: string, { log }: { log: (line: string) => void }): Promise<boolean> {
  if (process.env.PULSEBOARD_SEED === "off") return false;
  if (!(await isDatabaseEmpty(ownerUrl))) return false;
  const scale = process.env.PULSEBOARD_SEED_SCALE ?? "demo";
  log(`empty database: seeding the ${scale} demo world (once)`);
  let lastDecile = -1;
  const summary = await seedDemoWorld(
    ownerUrl,
    { scale: scale === "small" || scale === "large" ? scale : "demo" },
    {
      log,
      onProgress: ({ done, total }) => {
        const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
        if (decile !== lastDecile && decile % 5 === 0) log(`seeding: ${decile * 10}%`);
        lastDecile = decile;
      },
    },
  ).catch((error: unknown) => {
    // Another process (a second `npm start`) seeded between our check and our lock: nothing to do.
    if (error instanceof SeedRefusedError) return null;
    throw error;
  });
  if (!summary) {
    log("another process seeded the database first");
    return false;
  }
  for (const line of formatSummary(summary)) log(line);
  return true;
}

/** One line telling whoever started Pulseboard how to sign in, or null when nothing useful to say. */
export async function adminHint(ownerUrl: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ accounts: number; admin_hash: string | null }>(
      `SELECT (SELECT count(*)::int FROM public.accounts) AS accounts,
              (SELECT password_hash FROM public.accounts WHERE email = $1) AS admin_hash`,
      [DEMO_ACCOUNTS.admin],
    );
    const { accounts, admin_hash: adminHash } = rows[0];
    if (accounts === 0) {
      return 'no accounts yet: create one with npm run admin -- create-user --email you@example.com --password "<10+ characters>" --admin';
    }
    if (adminHash && (await verifyPassword(adminHash, DEMO_PASSWORD))) {
      return `demo logins: ${DEMO_ACCOUNTS.admin}, ${DEMO_ACCOUNTS.member}, ${DEMO_ACCOUNTS.viewer} (password: ${DEMO_PASSWORD})`;
    }
    return null;
  } finally {
    await client.end();
  }
}
