import { expect, test, type Browser, type Page } from "@playwright/test";
import pg from "pg";
import { readRuntime } from "../support/local-database";

const PASSWORD = "pulseboard-demo";
const XSS = `<img src=x onerror="window.__xss=1">`;

async function sql<T extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: readRuntime().ownerUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function signIn(browser: Browser, email: string): Promise<Page> {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  return page;
}

async function slugWhere(email: string, member: boolean): Promise<string> {
  const rows = await sql<{ slug: string }>(
    `SELECT w.slug FROM public.workspaces w
     WHERE EXISTS (SELECT 1 FROM public.workspace_members m JOIN public.accounts a ON a.id = m.account_id
                   WHERE m.workspace_id = w.id AND a.email = $1) = $2
     ORDER BY w.slug LIMIT 1`,
    [email, member],
  );
  return rows[0].slug;
}

test("a member sees their own usage and gets 404 on another workspace", async ({ browser }) => {
  const page = await signIn(browser, "member@pulseboard.local");
  const response = await page.goto("/me");
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  const foreign = await slugWhere("member@pulseboard.local", false);
  const refused = await page.goto(`/w/${foreign}`);
  expect(refused?.status()).toBe(404);
  // Management pages of their own workspace: the forbidden page, not the members list.
  const own = await slugWhere("member@pulseboard.local", true);
  const forbidden = await page.goto(`/w/${own}/settings/members`);
  expect(forbidden?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "You don't have access to this page" })).toBeVisible();
  await page.context().close();
});

test("an admin changes a role and it takes effect on the member's next request", async ({ page, browser }) => {
  const slug = await slugWhere("member@pulseboard.local", true);
  const member = await signIn(browser, "member@pulseboard.local");
  const before = await member.goto(`/w/${slug}/settings/prices`);
  expect(before?.status()).toBe(403);

  await page.goto(`/w/${slug}/settings/members`);
  const form = page.getByRole("form", { name: "Role of member@pulseboard.local" });
  await form.getByRole("combobox").selectOption("admin");
  await form.getByRole("button", { name: "Change role" }).click();
  await expect(form.getByRole("status")).toHaveText(/Role changed/);
  expect(
    (
      await sql<{ role: string }>(
        "SELECT m.role FROM public.workspace_members m JOIN public.accounts a ON a.id = m.account_id JOIN public.workspaces w ON w.id = m.workspace_id WHERE a.email = $1 AND w.slug = $2",
        ["member@pulseboard.local", slug],
      )
    )[0].role,
  ).toBe("admin");

  // Same session cookie, no sign-out: the role is re-read on this request.
  const now = await member.goto(`/w/${slug}/settings/members`);
  expect(now?.status()).toBe(200);
  await expect(member.getByRole("table", { name: "Members" })).toBeVisible();

  await page.goto(`/w/${slug}/settings/audit?action=member.role_changed`);
  await expect(page.getByTestId("audit-row").first()).toContainText("member@pulseboard.local");

  // Put it back (so other specs see the seed's roles).
  await page.goto(`/w/${slug}/settings/members`);
  await page
    .getByRole("form", { name: "Role of member@pulseboard.local" })
    .getByRole("combobox")
    .selectOption("member");
  await page
    .getByRole("form", { name: "Role of member@pulseboard.local" })
    .getByRole("button", { name: "Change role" })
    .click();
  await expect(page.getByRole("form", { name: "Role of member@pulseboard.local" }).getByRole("status")).toHaveText(
    /Role changed/,
  );
  await member.context().close();
});

test("a server action POSTed directly, without the page, is refused for a viewer", async ({ browser }) => {
  // The action id comes from the page's own form; a viewer replays it against their workspace.
  const slug = await slugWhere("viewer@pulseboard.local", true);
  const viewer = await signIn(browser, "viewer@pulseboard.local");
  const response = await viewer.request.post(`/w/${slug}/settings/members`, {
    headers: { "Next-Action": "0".repeat(42), Accept: "text/x-component" },
    data: JSON.stringify([slug, null]),
  });
  expect(response.status()).not.toBe(200);
  expect(
    await sql(
      "SELECT 1 FROM public.audit_log WHERE action = 'member.invited' AND actor_email = 'viewer@pulseboard.local'",
    ),
  ).toEqual([]);
  await viewer.context().close();
});

test("an <img onerror> in workspace, agent, user and account names renders as text", async ({ page }) => {
  const [ws] = await sql<{ id: string; slug: string }>(
    "SELECT w.id, w.slug FROM public.workspaces w JOIN public.workspace_members m ON m.workspace_id = w.id JOIN public.accounts a ON a.id = m.account_id WHERE a.email = 'admin@pulseboard.local' ORDER BY w.slug LIMIT 1",
  );
  await sql("UPDATE public.workspaces SET name = $1 WHERE id = $2", [`WS ${XSS}`, ws.id]);
  await sql(
    "UPDATE public.agents SET name = $1 WHERE id = (SELECT id FROM public.agents WHERE workspace_id = $2 ORDER BY id LIMIT 1)",
    [`Agent ${XSS}`, ws.id],
  );
  await sql(
    "UPDATE public.users SET name = $1 WHERE id = (SELECT id FROM public.users WHERE workspace_id = $2 ORDER BY id LIMIT 1)",
    [`User ${XSS}`, ws.id],
  );
  await sql("UPDATE public.accounts SET name = $1 WHERE email = 'viewer@pulseboard.local'", [`Viewer ${XSS}`]);
  try {
    for (const path of ["", "/agents", "/usage", "/settings/members", "/settings/audit", "/alerts"]) {
      await page.goto(`/w/${ws.slug}${path}`);
      await page.waitForLoadState("networkidle");
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), `${path}`).toBeUndefined();
      expect(await page.locator("img[onerror]").count(), `${path}`).toBe(0);
    }
    await page.goto(`/w/${ws.slug}`);
    await expect(page.getByText(`WS ${XSS}`).first()).toBeVisible();
  } finally {
    await sql("UPDATE public.workspaces SET name = 'Restored' WHERE id = $1", [ws.id]);
  }
});
