import { expect, test } from "@playwright/test";
import pg from "pg";
import { readRuntime } from "../support/local-database";

const ADMIN_EMAIL = "admin@pulseboard.local";

/** The runs started in the last 7 workspace-local days, counted over the RAW table. */
async function rawRunsLast7Days(slug: string): Promise<number> {
  const client = new pg.Client({ connectionString: readRuntime().ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ runs: number }>(
      `SELECT count(*)::int AS runs
       FROM public.agent_runs r
       JOIN public.workspaces w ON w.id = r.workspace_id
       WHERE w.slug = $1
         AND r.started_at >= (((now() AT TIME ZONE w.timezone)::date - 6)::timestamp AT TIME ZONE w.timezone)
         AND r.started_at <  (((now() AT TIME ZONE w.timezone)::date + 1)::timestamp AT TIME ZONE w.timezone)`,
      [slug],
    );
    return rows[0].runs;
  } finally {
    await client.end();
  }
}

test.describe("overview", () => {
  test("the Runs (7 days) card equals a count over the raw runs table", async ({ page }) => {
    await page.goto("/");
    await page.waitForURL(/\/w\/[a-z0-9-]+$/);
    const slug = new URL(page.url()).pathname.split("/")[2];
    const card = page.getByRole("region", { name: "Runs (7 days)" });
    const value = card.getByTestId("kpi-value");
    await expect(value).toBeVisible();
    const expected = await rawRunsLast7Days(slug);
    // The seed writes recent runs: a 0 here would make the comparison meaningless.
    expect(expected).toBeGreaterThan(0);
    await expect(value).toHaveAttribute("data-value", String(expected));
    expect(Number((await value.innerText()).replace(/,/g, ""))).toBe(expected);
    await expect(page.getByRole("region", { name: /Runs per day by status/ })).toBeVisible();
  });

  test("the chart can be read as a table", async ({ page }) => {
    await page.goto("/");
    await page.waitForURL(/\/w\/[a-z0-9-]+$/);
    const chart = page.getByRole("region", { name: /Runs per day by status/ });
    await chart.getByRole("button", { name: "Show as table" }).click();
    const table = chart.getByRole("table");
    await expect(table.getByRole("columnheader", { name: "Completed" })).toBeVisible();
    // One header row plus one row per day of the 30-day window.
    await expect(table.getByRole("row")).toHaveCount(31);
  });
});

test.describe("signed out", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a wrong password or unknown e-mail shows the same generic error", async ({ page }) => {
    await page.goto("/login");
    const form = page.getByRole("form", { name: "Sign in" });
    const attempt = async (email: string, password: string) => {
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      const answered = page.waitForResponse((response) => response.url().includes("/api/auth/callback/credentials"));
      await form.getByRole("button", { name: "Sign in" }).click();
      expect((await answered).status()).toBe(401);
      await expect(form.getByRole("alert")).toHaveText("Email or password is incorrect");
      await expect(page).toHaveURL(/\/login/);
    };
    await attempt(ADMIN_EMAIL, "not-the-password");
    await attempt("nobody@pulseboard.local", "pulseboard-demo");
  });

  test("a workspace page redirects to sign-in and back", async ({ page }) => {
    const response = await page.goto("/w/any-workspace");
    expect(response?.ok()).toBe(true);
    await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fw%2Fany-workspace$/);
    await expect(page.getByRole("heading", { name: "Pulseboard" })).toBeVisible();
    await page.goto("/");
    await expect(page).toHaveURL(/\/login$/);
  });
});
