import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { getActiveUsers, getRunTotals, getRunsByDay, hasRollupData, type OverviewScope } from "./queries";

let db: TestDatabase;
let tokyo: { id: string; timezone: string };
let other: { id: string; timezone: string };
let memberId: string;
let outsiderId: string;
// 23:30 UTC on 10 March is already 11 March in Tokyo: "today" there is 2026-03-11.
const asOf = new Date("2026-03-10T23:30:00Z");

const scope = (accountId: string, workspace = tokyo): OverviewScope => ({
  accountId,
  workspace,
  asOf,
  client: db.appPrisma,
});

beforeAll(async () => {
  db = await createTestDatabase();
  const ws = await db.owner.query<{ id: string; slug: string; timezone: string }>(
    `INSERT INTO public.workspaces (slug, name, timezone) VALUES ('tokyo', 'Tokyo', 'Asia/Tokyo'), ('other', 'Other', 'UTC')
     RETURNING id, slug, timezone`,
  );
  tokyo = ws.rows.find((w) => w.slug === "tokyo")!;
  other = ws.rows.find((w) => w.slug === "other")!;
  const accounts = await db.owner.query<{ id: string; email: string }>(
    `INSERT INTO public.accounts (email) VALUES ('member@example.test'), ('outsider@example.test') RETURNING id, email`,
  );
  memberId = accounts.rows.find((a) => a.email === "member@example.test")!.id;
  outsiderId = accounts.rows.find((a) => a.email === "outsider@example.test")!.id;
  await db.owner.query(
    `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'viewer'), ($3, $4, 'owner')`,
    [tokyo.id, memberId, other.id, outsiderId],
  );
  // (date, total, successful, failed, cancelled, credits)
  const tokyoDays: [string, number, number, number, number, number][] = [
    ["2026-03-11", 10, 6, 2, 1, 12.5], // today: 1 still running
    ["2026-03-08", 5, 5, 0, 0, 2.25],
    ["2026-03-05", 4, 1, 3, 0, 1], // 7th day back: inside
    ["2026-03-04", 100, 100, 0, 0, 1000], // 8th day back: outside the KPI window, inside the chart
    ["2026-02-09", 50, 50, 0, 0, 50], // 31st day back: outside both
  ];
  for (const [day, total, ok, failed, cancelled, credits] of tokyoDays) {
    await db.owner.query(
      `INSERT INTO analytics.daily_metrics
         (metric_date, workspace_id, total_runs, successful_runs, failed_runs, cancelled_runs, total_credits_consumed)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [day, tokyo.id, total, ok, failed, cancelled, credits],
    );
  }
  // Another workspace and the platform-wide row on the same day must not leak into Tokyo's numbers.
  await db.owner.query(
    `INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs, successful_runs, total_credits_consumed)
     VALUES ('2026-03-11', $1, 1000, 1000, 1000), ('2026-03-11', NULL, 2000, 2000, 2000)`,
    [other.id],
  );
  const users = await db.owner.query<{ id: string; external_id: string }>(
    `INSERT INTO public.users (workspace_id, external_id) SELECT $1, 'u' || g FROM generate_series(1, 4) g
     RETURNING id, external_id`,
    [tokyo.id],
  );
  const user = (n: number) => users.rows.find((u) => u.external_id === `u${n}`)!.id;
  // u1 active on 3 days (counted once), u2 once, u3 only on the 8th day back, u4 never.
  const activity: [number, string][] = [
    [1, "2026-03-11"],
    [1, "2026-03-09"],
    [1, "2026-03-05"],
    [2, "2026-03-10"],
    [3, "2026-03-04"],
  ];
  for (const [n, day] of activity) {
    await db.owner.query(
      `INSERT INTO analytics.user_daily_activity (workspace_id, activity_date, user_id, runs, first_seen_at, last_seen_at)
       VALUES ($1, $2, $3, 1, $2::date, $2::date)`,
      [tokyo.id, day, user(n)],
    );
  }
});

afterAll(async () => {
  await db?.drop();
});

describe("overview queries", () => {
  it("sums the last 7 workspace-local days of runs, outcomes and credits", async () => {
    const totals = await getRunTotals(scope(memberId));
    expect(totals).toEqual({
      runs: 19,
      completed: 12,
      failed: 5,
      cancelled: 1,
      credits: 15.75,
      from: "2026-03-05",
      to: "2026-03-11",
      successRate: 12 / 18,
    });
  });

  it("counts distinct active users over the window, not user-days", async () => {
    expect(await getActiveUsers(scope(memberId))).toBe(2);
    expect(await getActiveUsers(scope(memberId), 8)).toBe(3);
  });

  it("returns 30 days oldest first with zero days filled in and running = total - finished", async () => {
    const days = await getRunsByDay(scope(memberId));
    expect(days).toHaveLength(30);
    expect(days[0].day).toBe("2026-02-10");
    expect(days[29]).toEqual({ day: "2026-03-11", completed: 6, failed: 2, cancelled: 1, running: 1 });
    expect(days.find((d) => d.day === "2026-03-04")).toEqual({
      day: "2026-03-04",
      completed: 100,
      failed: 0,
      cancelled: 0,
      running: 0,
    });
    expect(days.find((d) => d.day === "2026-03-06")).toEqual({
      day: "2026-03-06",
      completed: 0,
      failed: 0,
      cancelled: 0,
      running: 0,
    });
    expect(days.reduce((sum, d) => sum + d.completed + d.failed + d.cancelled + d.running, 0)).toBe(119);
  });

  it("has no success rate when nothing finished, and reports empty workspaces as empty", async () => {
    // In UTC, 23:30 on 10 March is still 10 March: Other's row of the 11th is not in its window yet.
    expect((await getRunTotals(scope(outsiderId, other))).runs).toBe(0);
    const otherNextDay = await getRunTotals({ ...scope(outsiderId, other), asOf: new Date("2026-03-11T12:00:00Z") });
    expect(otherNextDay).toMatchObject({ runs: 1000, completed: 1000, successRate: 1 });
    const later = await getRunTotals({ ...scope(memberId), asOf: new Date("2027-01-01T00:00:00Z") });
    expect(later).toMatchObject({ runs: 0, credits: 0, successRate: null });
    expect(await hasRollupData(scope(memberId))).toBe(true);
  });

  it("reads nothing through row-level security for someone who is not a member", async () => {
    expect((await getRunTotals(scope(outsiderId))).runs).toBe(0);
    expect(await getActiveUsers(scope(outsiderId))).toBe(0);
    expect(await hasRollupData(scope(outsiderId))).toBe(false);
  });
});
