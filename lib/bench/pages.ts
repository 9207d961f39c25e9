import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { hashPassword } from "@/lib/auth/password";
import { freePort } from "@/lib/db/embedded";
import { percentile } from "./load-test";
import type { BenchContext, BenchResult } from "./types";

/**
 * Full server render of the dashboard pages: `next start` (the production build) on the bench
 * database, a real credentials sign-in (CSRF token, POST /api/auth/callback/credentials, the
 * session cookie next-auth sets), then sequential GETs of each page, timed to the last byte of the
 * streamed HTML (every card's data is in it: cards are server components behind Suspense). One
 * request at a time, so the figure is one page's render, not queueing.
 *
 * The build is reused when .next/BUILD_ID is newer than every source file of app/, lib/,
 * components/; otherwise `next build` runs first (minutes on 2 cores; logged). BENCH_PAGES_DIR
 * points at another checkout to build and serve instead of the working tree.
 */
const SECTION = "pages";
const ITERATIONS = { small: 10, medium: 6, large: 4 } as const;
const PASSWORD = "bench-pages-password";
const EMAIL = "bench-pages@pulseboard.local";

const csrfSchema = z.object({ csrfToken: z.string().min(1) });

/** Newest modification time (ms) of the files under `dirs` (skips generated code and tests). */
function newestSource(root: string, dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "generated" && entry.name !== "node_modules") walk(full);
      } else if (/\.(tsx?|css)$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) {
        newest = Math.max(newest, statSync(full).mtimeMs);
      }
    }
  };
  for (const dir of dirs) if (existsSync(path.join(root, dir))) walk(path.join(root, dir));
  return newest;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "ignore", "inherit"] });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}`)),
    );
  });
}

async function ensureBuild(ctx: BenchContext, root: string, env: NodeJS.ProcessEnv): Promise<string> {
  const buildId = path.join(root, ".next", "BUILD_ID");
  const fresh = existsSync(buildId) && statSync(buildId).mtimeMs > newestSource(root, ["app", "lib", "components"]);
  if (fresh) return "existing production build";
  ctx.log("  production build missing or older than the sources: running next build (minutes on 2 cores)");
  const started = performance.now();
  try {
    await run("npx", ["next", "build"], root, env);
  } catch (error) {
    // A tree mid-edit can fail the build's type check; an older build still measures the pages.
    if (!existsSync(buildId)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`  next build failed (${message}): measuring the previous build`);
    return `STALE build from ${statSync(buildId).mtime.toISOString()}: next build failed`;
  }
  return `built for this run in ${((performance.now() - started) / 1000).toFixed(0)} s`;
}

async function waitForHealth(baseUrl: string, server: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`next start exited ${server.exitCode}`);
    const ok = await fetch(`${baseUrl}/api/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`next start did not answer ${baseUrl}/api/health within ${timeoutMs / 1000} s`);
}

/** `name=value` pairs of the Set-Cookie headers of a response. */
function cookiesOf(response: Response): string[] {
  return response.headers.getSetCookie().map((c) => c.split(";")[0]);
}

/** Signs in through next-auth's credentials flow exactly as the login form does; returns the Cookie header. */
async function signIn(baseUrl: string): Promise<string> {
  const csrfResponse = await fetch(`${baseUrl}/api/auth/csrf`);
  const { csrfToken } = csrfSchema.parse(await csrfResponse.json());
  const csrfCookies = cookiesOf(csrfResponse);
  const response = await fetch(`${baseUrl}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookies.join("; ") },
    body: new URLSearchParams({ csrfToken, email: EMAIL, password: PASSWORD, json: "true" }),
  });
  const session = cookiesOf(response).find((c) => c.startsWith("next-auth.session-token="));
  if (!session) throw new Error(`sign-in failed: HTTP ${response.status}, no session cookie`);
  return [...csrfCookies, session].join("; ");
}

export async function benchPages(ctx: BenchContext): Promise<BenchResult[]> {
  const { owner, log } = ctx;
  const { rows: busiest } = await owner.query<{ id: string; slug: string }>(
    `SELECT w.id, w.slug FROM public.workspaces w
     ORDER BY (SELECT count(*) FROM analytics.run_daily_totals t WHERE t.workspace_id = w.id) DESC,
              (SELECT sum(runs) FROM analytics.run_daily_totals t WHERE t.workspace_id = w.id) DESC NULLS LAST, w.slug
     LIMIT 1`,
  );
  if (!busiest[0]) return [{ section: SECTION, name: "no workspace loaded", value: Number.NaN, unit: "" }];
  const workspace = busiest[0];
  const { rows: agent } = await owner.query<{ id: string }>(
    `SELECT agent_id::text AS id FROM analytics.run_hourly WHERE workspace_id = $1
     GROUP BY agent_id ORDER BY sum(runs) DESC LIMIT 1`,
    [workspace.id],
  );
  // An owner of the workspace who is also a platform admin (for /platform): every card renders.
  const { rows: account } = await owner.query<{ id: string }>(
    `INSERT INTO public.accounts (email, name, password_hash, is_platform_admin) VALUES ($1, 'Bench pages', $2, true)
     ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, is_platform_admin = true RETURNING id`,
    [EMAIL, await hashPassword(PASSWORD)],
  );
  await owner.query(
    `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'owner')
     ON CONFLICT (workspace_id, account_id) DO UPDATE SET role = 'owner'`,
    [workspace.id, account[0].id],
  );

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    DATABASE_URL: ctx.ownerUrl,
    DATABASE_APP_URL: ctx.appUrl,
    NEXTAUTH_SECRET: randomBytes(32).toString("base64url"),
    NEXTAUTH_URL: baseUrl,
    PORT: String(port),
  };
  // BENCH_PAGES_DIR: build and serve another checkout (e.g. `git archive HEAD` unpacked, with
  // node_modules and lib/generated) so a tree other engineers are editing is neither built nor
  // stripped of its .next; default: this working tree.
  const appDir = path.resolve(process.env.BENCH_PAGES_DIR ?? process.cwd());
  const build = await ensureBuild(ctx, appDir, env);
  // Its own process group, so stopping it also stops the node process npx starts.
  const server = spawn("npx", ["next", "start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: appDir,
    env,
    stdio: ["ignore", "ignore", "inherit"],
    detached: true,
  });
  const results: BenchResult[] = [];
  try {
    await waitForHealth(baseUrl, server, 120_000);
    const cookie = await signIn(baseUrl);
    const slug = workspace.slug;
    const pages: [string, string][] = [
      ["overview", `/w/${slug}`],
      ["agents", `/w/${slug}/agents`],
      ["one agent", `/w/${slug}/agents/${agent[0]?.id ?? "none"}`],
      ["token usage", `/w/${slug}/usage`],
      ["cohorts", `/w/${slug}/cohorts`],
      ["platform", "/platform"],
    ];
    const iterations = ITERATIONS[ctx.scale];
    log(`pages: ${baseUrl} (${build}), workspace ${slug}, ${iterations} renders each after one warm-up`);
    for (const [name, pagePath] of pages) {
      const fetchPage = async () => {
        const response = await fetch(`${baseUrl}${pagePath}`, { headers: { cookie }, redirect: "manual" });
        const html = await response.text();
        if (response.status !== 200) throw new Error(`GET ${pagePath}: HTTP ${response.status}`);
        // A failing card renders CardError (role="alert") instead of failing the page: count them.
        return (html.match(/role="alert"/g) ?? []).length;
      };
      const cardErrors = await fetchPage(); // warm-up: compiles nothing in production, fills caches
      const samples: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const started = performance.now();
        await fetchPage();
        samples.push(performance.now() - started);
      }
      const p50 = percentile(samples, 0.5);
      const p95 = percentile(samples, 0.95);
      log(`  ${name} (${pagePath}): p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms`);
      results.push({
        section: SECTION,
        name: `${name} page, full server render (GET ${pagePath.replace(slug, "<ws>")}) p95`,
        value: p95,
        unit: "ms",
        note: `p50 ${p50.toFixed(0)} ms; ${iterations} sequential renders, signed-in owner${
          cardErrors > 0 ? `; ${cardErrors} card error(s) on the page` : ""
        }`,
      });
    }
  } finally {
    if (server.pid && server.exitCode === null) {
      try {
        process.kill(-server.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
  return results;
}
