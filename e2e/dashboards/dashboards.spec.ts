import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import pg from "pg";
import { readRuntime } from "../support/local-database";

/** SQL over the RAW tables of the seeded world, as the owner (independent of rollups and catalogue). */
async function sql<T extends pg.QueryResultRow>(text: string, params: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: readRuntime().ownerUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function openWorkspace(page: Page, path = ""): Promise<string> {
  await page.goto("/");
  await page.waitForURL(/\/w\/[a-z0-9-]+$/);
  const slug = new URL(page.url()).pathname.split("/")[2];
  if (path) await page.goto(`/w/${slug}${path}`);
  return slug;
}

/** Runs started in the last `days` workspace-local days (today included). */
async function rawRuns(slug: string, days: number): Promise<number> {
  const rows = await sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM public.agent_runs r JOIN public.workspaces w ON w.id = r.workspace_id
     WHERE w.slug = $1
       AND r.started_at >= (((now() AT TIME ZONE w.timezone)::date - ($2::int - 1))::timestamp AT TIME ZONE w.timezone)
       AND r.started_at < (((now() AT TIME ZONE w.timezone)::date + 1)::timestamp AT TIME ZONE w.timezone)`,
    [slug, days],
  );
  return rows[0].n;
}

test.describe("dashboards", () => {
  test("overview: a KPI and a chart point equal SQL over raw rows", async ({ page }) => {
    const slug = await openWorkspace(page);
    const runs = page.getByTestId("kpi-runs").getByTestId("kpi-value");
    await expect(runs).toHaveAttribute("data-value", String(await rawRuns(slug, 7)));

    // Yesterday's completed runs in the 30-day status chart, read through "Show as table".
    const [{ day, label, completed }] = await sql<{ day: string; label: string; completed: number }>(
      `SELECT to_char(d, 'YYYY-MM-DD') AS day, to_char(d, 'Mon') || ' ' || extract(day FROM d)::int AS label,
              (SELECT count(*)::int FROM public.agent_runs r
                WHERE r.workspace_id = w.id AND r.status = 'completed'
                  AND (r.started_at AT TIME ZONE w.timezone)::date = d) AS completed
       FROM public.workspaces w CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE w.timezone)::date - 1 AS d) x
       WHERE w.slug = $1`,
      [slug],
    );
    expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const chart = page.getByRole("region", { name: /Runs per day by status/ });
    await chart.getByRole("button", { name: "Show as table" }).click();
    const row = chart.getByRole("row").filter({ has: page.getByRole("rowheader", { name: label, exact: true }) });
    const headers = await chart.getByRole("columnheader").allInnerTexts();
    const cells = await row.getByRole("cell").allInnerTexts();
    const value = cells[headers.indexOf("Completed") - 1];
    expect(Number(value.replace(/,/g, ""))).toBe(completed);

    // The chart's CSV (the same catalogue query, server-side) has the same point.
    const href = await page
      .getByTestId("chart-runs-by-status")
      .getByRole("link", { name: "Download CSV" })
      .getAttribute("href");
    const csv = await (await page.request.get(href ?? "")).text();
    const line = csv.split("\r\n").find((l) => l.startsWith(day) && l.includes(",completed,"));
    expect(line?.split(",").at(-1)).toBe(String(completed));
  });

  test("the date picker changes the URL and the numbers", async ({ page }) => {
    const slug = await openWorkspace(page);
    await page.getByRole("combobox", { name: "Range" }).selectOption("30d");
    await expect(page).toHaveURL(/range=30d/);
    const card = page.getByRole("region", { name: "Runs (30 days)" });
    await expect(card.getByTestId("kpi-value")).toHaveAttribute("data-value", String(await rawRuns(slug, 30)));
    // The URL alone reproduces the view (shareable link).
    await page.goto(`/w/${slug}?range=custom&from=2020-01-01&to=2020-01-02`);
    await expect(page.getByTestId("range-text")).toHaveText("2020-01-01 – 2020-01-02");
    await expect(page.getByTestId("kpi-runs").getByTestId("kpi-value")).toHaveAttribute("data-value", "0");
  });

  test("the metrics API answers runs by day equal to SQL", async ({ page }) => {
    const slug = await openWorkspace(page);
    const [{ from, to, tz }] = await sql<{ from: string; to: string; tz: string }>(
      `SELECT to_char((now() AT TIME ZONE timezone)::date - 6, 'YYYY-MM-DD') AS from,
              to_char((now() AT TIME ZONE timezone)::date, 'YYYY-MM-DD') AS to, timezone AS tz
       FROM public.workspaces WHERE slug = $1`,
      [slug],
    );
    const response = await page.request.get(
      `/api/v1/metrics?workspace=${slug}&metric=runs&from=${from}&to=${to}&granularity=day`,
    );
    expect(response.status()).toBe(200);
    const body = (await response.json()) as { timezone: string; series: { points: { t: string; v: number }[] }[] };
    expect(body.timezone).toBe(tz);
    const total = body.series[0].points.reduce((n, p) => n + p.v, 0);
    expect(total).toBe(await rawRuns(slug, 7));
    const bad = await page.request.get(`/api/v1/metrics?workspace=${slug}&metric=nope&from=${from}&to=${to}`);
    expect(bad.status()).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/Unknown metric "nope"/);
  });

  test("CSV export downloads the rows shown", async ({ page }) => {
    await openWorkspace(page, "/agents?range=30d");
    const table = page.getByTestId("agents-table");
    const shownNames = await table.locator("tbody tr th").allInnerTexts();
    expect(shownNames.length).toBeGreaterThan(0);
    const downloadPromise = page.waitForEvent("download");
    await table.getByRole("button", { name: /Export CSV/ }).click();
    const download = await downloadPromise;
    const csv = readFileSync(await download.path(), "utf8")
      .trim()
      .split(/\r\n/);
    expect(csv[0].split(",")[0]).toBe("Agent");
    // Names in the same order as the (first page of the) table; every row exported once.
    const names = csv
      .slice(1)
      .map((line) => (line.startsWith('"') ? line.slice(1, line.indexOf('"', 1)) : line.split(",")[0]));
    expect(names.slice(0, shownNames.length)).toEqual(shownNames);
    expect(await table.getByRole("button", { name: `Export CSV (${csv.length - 1} rows)` }).count()).toBe(1);
  });

  test("the cohort grid matches analytics.user_cohorts", async ({ page }) => {
    const slug = await openWorkspace(page, "/cohorts?cohort=weekly&range=90d");
    const rows = await sql<{
      cohort_date: string;
      initial_users: number;
      periods: { n: number; complete: boolean; active_pct: number | null }[];
    }>(
      `SELECT to_char(c.cohort_date, 'YYYY-MM-DD') AS cohort_date, c.initial_users, c.retention_data->'periods' AS periods
       FROM analytics.user_cohorts c JOIN public.workspaces w ON w.id = c.workspace_id
       WHERE w.slug = $1 AND c.cohort_period = 'weekly'
         AND c.cohort_date >= (now() AT TIME ZONE w.timezone)::date - 89
       ORDER BY 1`,
      [slug],
    );
    expect(rows.length).toBeGreaterThan(0);
    const grid = page.getByTestId("cohort-grid");
    await expect(grid).toBeVisible();
    for (const row of rows.slice(0, 6)) {
      const tr = grid.locator(`tr[data-cohort="${row.cohort_date}"]`);
      await expect(tr.locator("td").first()).toHaveText(String(row.initial_users));
      for (const period of row.periods.filter((p) => p.n < 12)) {
        const cell = tr.locator("td").nth(period.n + 1);
        if (period.complete) await expect(cell).toHaveAttribute("data-value", String(period.active_pct));
        else await expect(cell).toHaveText("…");
      }
    }
  });

  test("agents, agent, token usage and platform pages show the numbers of SQL over raw rows", async ({ page }) => {
    const slug = await openWorkspace(page);
    // The 30 local days ending today, as the pages cut them (workspace time zone).
    const window = `>= (((now() AT TIME ZONE w.timezone)::date - 29)::timestamp AT TIME ZONE w.timezone)
                    AND %s < (((now() AT TIME ZONE w.timezone)::date + 1)::timestamp AT TIME ZONE w.timezone)`;
    const [agent] = await sql<{ id: string; runs: number }>(
      `SELECT a.id::text AS id, count(r.*)::int AS runs
         FROM public.workspaces w
         JOIN public.agents a ON a.workspace_id = w.id
         LEFT JOIN public.agent_runs r ON r.workspace_id = w.id AND r.agent_id = a.id
              AND r.started_at ${window.replace("%s", "r.started_at")}
        WHERE w.slug = $1 GROUP BY a.id ORDER BY count(r.*) DESC, a.id LIMIT 1`,
      [slug],
    );
    expect(agent.runs).toBeGreaterThan(0);
    await page.goto(`/w/${slug}/agents/${agent.id}?range=30d`);
    await expect(page.getByTestId("kpi-runs").getByTestId("kpi-value")).toHaveAttribute(
      "data-value",
      String(agent.runs),
    );

    // The agents table (sorted by runs, so the busiest agent is on the first page) and the
    // platform page (one row per workspace) show the same counts.
    await page.goto(`/w/${slug}/agents?range=30d`);
    await expect(
      page.getByTestId("agents-table").locator(`tr[data-row-id="${agent.id}"] td[data-column="runs"]`),
    ).toHaveAttribute("data-value", String(agent.runs));
    // The platform page cuts one date range (shown in its subtitle) into each workspace's own local
    // days; in the hours where a workspace's local date differs from the server's, that is not the
    // workspace pages' "last 30 days", so the expected count uses the page's dates.
    await page.goto(`/platform?range=30d`);
    const subtitle = await page.locator(".page-subtitle").innerText();
    const [, from, to] = subtitle.match(/(\d{4}-\d{2}-\d{2}) – (\d{4}-\d{2}-\d{2})/) ?? [];
    expect(from, subtitle).toBeTruthy();
    const [workspace] = await sql<{ id: string; runs: number }>(
      `SELECT w.id::text AS id, count(r.*)::int AS runs
         FROM public.workspaces w
         LEFT JOIN public.agent_runs r ON r.workspace_id = w.id
              AND r.started_at >= ($2::date::timestamp AT TIME ZONE w.timezone)
              AND r.started_at < (($3::date + 1)::timestamp AT TIME ZONE w.timezone)
        WHERE w.slug = $1 GROUP BY w.id`,
      [slug, from, to],
    );
    expect(workspace.runs).toBeGreaterThan(0);
    await expect(page.locator(`tr[data-row-id="${workspace.id}"] td[data-column="runs"]`)).toHaveAttribute(
      "data-value",
      String(workspace.runs),
    );

    const [usage] = await sql<{ tokens: string; calls: number }>(
      `SELECT coalesce(sum(l.prompt_tokens + l.completion_tokens), 0)::text AS tokens, count(*)::int AS calls
         FROM public.workspaces w JOIN public.llm_usage_logs l ON l.workspace_id = w.id
        WHERE w.slug = $1 AND l.created_at ${window.replace("%s", "l.created_at")}`,
      [slug],
    );
    expect(usage.calls).toBeGreaterThan(0);
    await page.goto(`/w/${slug}/usage?range=30d`);
    await expect(page.getByTestId("kpi-total_tokens").getByTestId("kpi-value")).toHaveAttribute(
      "data-value",
      usage.tokens,
    );
    await expect(page.getByTestId("kpi-llm_calls").getByTestId("kpi-value")).toHaveAttribute(
      "data-value",
      String(usage.calls),
    );
  });

  test("every dashboard page renders its cards without errors", async ({ page }) => {
    const slug = await openWorkspace(page);
    const [{ agent, user }] = await sql<{ agent: string; user: string }>(
      `SELECT (SELECT a.id::text FROM public.agents a WHERE a.workspace_id = w.id ORDER BY a.name LIMIT 1) AS agent,
              (SELECT u.id::text FROM public.users u WHERE u.workspace_id = w.id ORDER BY u.external_id LIMIT 1) AS user
       FROM public.workspaces w WHERE w.slug = $1`,
      [slug],
    );
    const pages: [string, RegExp][] = [
      [`/w/${slug}/agents/${agent}?range=30d`, /Runs by stage/],
      [`/w/${slug}/usage?range=30d`, /Top consumers/],
      [`/w/${slug}/usage?range=30d&userId=${user}`, /One user/],
      [`/w/${slug}/cohorts?cohort=daily&mode=count&bound=on_or_after&range=30d`, /Retention/],
      [`/w/${slug}/agents?range=24h`, /Agents/],
      ["/platform", /Workspaces/],
      ["/me", /My usage/],
    ];
    for (const [path, text] of pages) {
      await page.goto(path);
      // Inside <main>: the header's menus also say "Workspaces" and "My usage".
      await expect(page.locator("main").getByText(text).first(), path).toBeVisible();
      // Every Suspense card has resolved, and none of them shows an error.
      await expect(page.locator("[aria-busy=true]"), path).toHaveCount(0);
      await expect(page.locator("main").getByRole("alert"), path).toHaveCount(0);
    }
  });
});
