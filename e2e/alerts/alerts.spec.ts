import { expect, test, type Page } from "@playwright/test";
import pg from "pg";
import { readRuntime } from "../support/local-database";

async function sql<T extends pg.QueryResultRow>(text: string, params: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: readRuntime().ownerUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

async function openWorkspace(page: Page): Promise<string> {
  await page.goto("/");
  await page.waitForURL(/\/w\/[a-z0-9-]+$/);
  return new URL(page.url()).pathname.split("/")[2];
}

/** An ingest key made through the API-keys page, as a user would. */
async function createIngestKey(page: Page, slug: string): Promise<string> {
  await page.goto(`/w/${slug}/settings/api-keys`);
  await page.getByLabel("Name").fill(`alerts e2e ${Date.now()}`);
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-api-key").locator("code").innerText()).trim();
  expect(key).toMatch(/^pb_/);
  return key;
}

test.describe("alerts", () => {
  test("create a rule, push spend over it through ingest, see it firing, acknowledge it", async ({ page, request }) => {
    // Rollups run every 15 s and the evaluator every minute: allow a few cycles.
    test.setTimeout(300_000);
    const slug = await openWorkspace(page);
    const ruleName = `E2E spend ${Date.now()}`;

    await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Alerts" }).click();
    await expect(page).toHaveURL(new RegExp(`/w/${slug}/alerts$`));
    await page.getByRole("link", { name: "New rule" }).click();

    // Field errors first: nothing filled in.
    await page.getByRole("button", { name: "Create rule" }).click();
    await expect(page.locator("#name-error")).toContainText("Give the rule a name");
    await expect(page.locator("#threshold-error")).toContainText("Enter a number");

    await page.getByLabel("Name").fill(ruleName);
    await page.getByLabel("Metric").selectOption("cost_usd");
    await page.getByLabel("Comparison").selectOption("greater_than");
    // Far above anything the seeded world spends in an hour.
    await page.getByLabel("Threshold").fill("100000");
    await page.getByLabel("Evaluation window (minutes)").fill("60");
    await page.getByRole("button", { name: "Preview 24 h" }).click();
    await expect(page.getByTestId("preview-fired")).toContainText("would not have fired");
    await page.getByRole("button", { name: "Create rule" }).click();
    await expect(page).toHaveURL(new RegExp(`/w/${slug}/alerts$`));
    const row = page.getByTestId(`rule-${ruleName}`);
    await expect(row).toContainText("cost_usd > 100000");
    await expect(row.getByTestId("rule-state")).toHaveText("ok");

    // Spend $150,000 now, through the public ingest API.
    const key = await createIngestKey(page, slug);
    const now = new Date().toISOString();
    const response = await request.post("/api/v1/ingest", {
      headers: { authorization: `Bearer ${key}` },
      data: {
        batch: [
          {
            id: `alerts-e2e-${Date.now()}`,
            type: "llm_call",
            timestamp: now,
            body: {
              userId: "alerts-e2e-user",
              provider: "openai",
              model: "gpt-4o",
              promptTokens: 1000,
              completionTokens: 100,
              costUsd: 150_000,
              latencyMs: 900,
            },
          },
        ],
      },
    });
    expect(response.status()).toBeLessThan(300);

    // The worker rolls the call up and the evaluator fires the rule.
    await page.goto(`/w/${slug}/alerts/history`);
    await expect
      .poll(
        async () => {
          await page.reload();
          return page
            .getByTestId("history-row")
            .filter({ hasText: ruleName })
            .and(page.locator('[data-state="firing"]'))
            .count();
        },
        { timeout: 240_000, intervals: [5_000] },
      )
      .toBe(1);
    const firingRow = page
      .getByTestId("history-row")
      .filter({ hasText: ruleName })
      .and(page.locator('[data-state="firing"]'));
    await expect(firingRow.getByTestId("history-state")).toContainText("ok → firing");
    await expect(firingRow).toContainText(/15\d{4}(\.\d+)? \/ 100000/);

    // Filter by the rule, then acknowledge with a note.
    const [{ id: ruleId }] = await sql<{ id: string }>(`SELECT id::text FROM analytics.alert_rules WHERE name = $1`, [
      ruleName,
    ]);
    await page.goto(`/w/${slug}/alerts/history?rule=${ruleId}&state=firing`);
    await expect(page.getByTestId("history-row")).toHaveCount(1);
    await page.getByPlaceholder("Note (optional)").fill("looking into the spend");
    await page.getByRole("button", { name: "Acknowledge" }).click();
    await expect(page.getByTestId("history-ack")).toContainText("by admin@pulseboard.local");
    await expect(page.getByTestId("history-ack")).toContainText("looking into the spend");

    const [ack] = await sql<{ email: string; notes: string; triggers: number }>(
      `SELECT a.email, h.notes, r.trigger_count AS triggers
       FROM analytics.alert_history h JOIN public.accounts a ON a.id = h.acknowledged_by
       JOIN analytics.alert_rules r ON r.id = h.alert_rule_id
       WHERE h.alert_rule_id = $1 AND h.state = 'firing'`,
      [ruleId],
    );
    expect(ack).toEqual({ email: "admin@pulseboard.local", notes: "looking into the spend", triggers: 1 });

    // Creating the rule was audited: who, what, which rule.
    const audited = await sql<{ email: string; name: string }>(
      `SELECT a.email, l.details->>'name' AS name FROM public.audit_log l JOIN public.accounts a ON a.id = l.actor_account_id
       WHERE l.action = 'alert_rule.created' AND l.target_id = $1`,
      [ruleId],
    );
    expect(audited).toEqual([{ email: "admin@pulseboard.local", name: ruleName }]);

    // The list shows the rule firing.
    await page.goto(`/w/${slug}/alerts`);
    await expect(page.getByTestId(`rule-${ruleName}`).getByTestId("rule-state")).toHaveText("1 firing");

    // The edit page: the rule's numbers, and "send test" reports per channel (none here).
    await page.getByTestId(`rule-${ruleName}`).getByRole("link", { name: ruleName }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(ruleName);
    await expect(page.getByText("Fired 1×")).toBeVisible();
    await page.getByRole("button", { name: "Send test" }).click();
    await expect(page.getByTestId("send-test-results")).toHaveText("This rule has no channels to test.");
  });
});
