import { expect, test } from "@playwright/test";

// An iPhone 12–15 sized viewport: the narrowest width the dashboards promise to work at.
test.use({ viewport: { width: 390, height: 844 } });

const PAGES = ["", "/agents", "/usage", "/cohorts", "/alerts"];

test.describe("phone layout", () => {
  test("the header is one row and no dashboard page scrolls sideways at 390 px", async ({ page }) => {
    await page.goto("/");
    await page.waitForURL(/\/w\/[a-z0-9-]+$/);
    const base = new URL(page.url()).pathname;
    for (const suffix of PAGES) {
      await page.goto(`${base}${suffix}`);
      const header = page.locator(".app-header-inner");
      await expect(header).toBeVisible();
      const brand = await page.locator(".brand-mark").boundingBox();
      const account = await page.getByText("Account:", { exact: false }).locator("..").boundingBox();
      expect(brand, `brand mark on ${suffix || "overview"}`).not.toBeNull();
      expect(account, `account menu on ${suffix || "overview"}`).not.toBeNull();
      // Same row: the account menu's vertical centre lies within the logo's row.
      const brandMid = brand!.y + brand!.height / 2;
      expect(
        Math.abs(account!.y + account!.height / 2 - brandMid),
        `header row on ${suffix || "overview"}`,
      ).toBeLessThan(20);
      expect(
        account!.x + account!.width,
        `account menu inside the screen on ${suffix || "overview"}`,
      ).toBeLessThanOrEqual(390);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `horizontal overflow on ${suffix || "overview"}`).toBeLessThanOrEqual(0);
    }
  });

  test("the workspace switcher still names the workspace and opens on screen", async ({ page }) => {
    await page.goto("/");
    await page.waitForURL(/\/w\/[a-z0-9-]+$/);
    const switcher = page.locator("summary", { hasText: "Workspace:" });
    await switcher.click();
    const panel = page.locator(".menu-panel-left");
    await expect(panel).toBeVisible();
    const box = await panel.boundingBox();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
  });
});
