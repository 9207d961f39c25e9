import { expect, test as setup } from "@playwright/test";
import { readRuntime } from "./support/local-database";

export const ADMIN_EMAIL = "admin@pulseboard.local";
export const ADMIN_PASSWORD = "pulseboard-demo";

setup("sign in as the demo admin", async ({ page }) => {
  readRuntime(); // the guard: throws unless the server's database is local
  await page.goto("/login");
  await page.getByLabel("Email").fill(ADMIN_EMAIL);
  await page.getByLabel("Password").fill(ADMIN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/w\/[a-z0-9-]+$/);
  await expect(page.getByRole("navigation", { name: "Workspace" })).toBeVisible();
  await page.context().storageState({ path: "e2e/.auth/admin.json" });
});
