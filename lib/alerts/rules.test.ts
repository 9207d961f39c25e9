import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withUserContext } from "@/lib/db/context";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { retryDelayMs } from "./deliver";
import { wouldHaveFired } from "./preview";
import { listHistory, listRules } from "./queries";
import { acknowledge, createRule, duplicateRule } from "./rules";
import { fieldErrors, ruleInputSchema } from "./schema";
import { sendTestNotifications } from "./send-test";
import { addressRefusal, parseAllowList } from "./ssrf";
import { createAlertWorld, startHttpReceiver, type HttpReceiver } from "./testkit";

let db: TestDatabase;
let receiver: HttpReceiver;
let world: Awaited<ReturnType<typeof createAlertWorld>>;
let memberId: string;

const validInput = {
  name: "Budget",
  metric: "cost_usd",
  scopeKind: "workspace",
  comparator: "greater_than",
  conditionKind: "value",
  threshold: "50",
  windowMinutes: "1440",
  pendingMinutes: "0",
  repeatMinutes: null,
  noDataPolicy: "no_data",
  errorPolicy: "error",
  channels: [],
};

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startHttpReceiver();
  process.env.ALERT_WEBHOOK_ALLOWLIST = "127.0.0.1";
  world = await createAlertWorld(db.owner, "alerts-rules");
  const member = await db.owner.query<{ id: string }>(
    `INSERT INTO public.accounts (email) VALUES ('member@alerts.test') RETURNING id::text`,
  );
  memberId = member.rows[0].id;
  await db.owner.query(
    `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'member')`,
    [world.workspaceId, memberId],
  );
});
afterAll(async () => {
  await receiver.close();
  await db.drop();
});

describe("rule form validation", () => {
  it("accepts a valid rule and coerces form strings", () => {
    const input = ruleInputSchema.parse(validInput);
    expect(input.threshold).toBe(50);
    expect(input.windowMinutes).toBe(1440);
  });

  it("reports each mistake on its own field", () => {
    const result = ruleInputSchema.safeParse({
      ...validInput,
      name: " ",
      threshold: "abc",
      windowMinutes: "0",
      scopeKind: "user",
      scopeValue: "",
      channels: [{ kind: "email", recipients: ["not-an-email"] }],
    });
    expect(result.success).toBe(false);
    const errors = fieldErrors(result.error!);
    expect(Object.keys(errors).sort()).toEqual(
      ["channels.0.recipients.0", "name", "threshold", "windowMinutes"].sort(),
    );
  });

  it("requires the scope value; per-series scopes take every metric but refuse 'below' conditions on totals", () => {
    const noUser = ruleInputSchema.safeParse({ ...validInput, scopeKind: "user", scopeValue: "" });
    expect(fieldErrors(noUser.error!)).toEqual({ scopeValue: "Choose the user this rule watches" });
    const rate = ruleInputSchema.safeParse({ ...validInput, metric: "success_rate", scopeKind: "each_agent" });
    expect(rate.success).toBe(true);
    const rateBelow = ruleInputSchema.safeParse({
      ...validInput,
      metric: "success_rate",
      scopeKind: "each_agent",
      comparator: "less_than",
    });
    expect(rateBelow.success).toBe(true);
    const p95 = ruleInputSchema.safeParse({ ...validInput, metric: "runtime_p95", scopeKind: "each_user" });
    expect(p95.success).toBe(true);
    for (const [comparator, threshold] of [
      ["less_than", 5],
      ["less_than_or_equal", 5],
      ["equals", 0],
    ] as const) {
      const below = ruleInputSchema.safeParse({ ...validInput, scopeKind: "each_user", comparator, threshold });
      expect(fieldErrors(below.error!), comparator).toEqual({
        comparator: expect.stringContaining("a user with no activity has no series and never fires"),
      });
    }
    const active = ruleInputSchema.safeParse({ ...validInput, metric: "active_users", scopeKind: "each_user" });
    expect(fieldErrors(active.error!).scopeKind).toContain("cannot be split by user");
  });
});

describe("row-level security", () => {
  it("members read rules but cannot create, edit or read webhook secrets", async () => {
    const created = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        createRule(tx, {
          workspaceId: world.workspaceId,
          accountId: world.ownerAccountId,
          input: ruleInputSchema.parse({ ...validInput, channels: [{ kind: "webhook", url: receiver.url("/rls") }] }),
        }),
      db.appPrisma,
    );
    expect(created.secrets[0].secret).toMatch(/^whsec_/);
    const seen = await withUserContext(
      memberId,
      async (tx) => ({
        rules: await tx.alertRule.count({ where: { workspaceId: world.workspaceId } }),
        channels: await tx.alertChannel.count({ where: { workspaceId: world.workspaceId } }),
        secrets: await tx.alertChannelSecret.count({ where: { workspaceId: world.workspaceId } }),
      }),
      db.appPrisma,
    );
    expect(seen).toEqual({ rules: 1, channels: 1, secrets: 0 });
    const write = withUserContext(
      memberId,
      (tx) =>
        createRule(tx, {
          workspaceId: world.workspaceId,
          accountId: memberId,
          input: ruleInputSchema.parse(validInput),
        }),
      db.appPrisma,
    );
    await expect(write).rejects.toThrow();
    const edit = await withUserContext(
      memberId,
      (tx) => tx.alertRule.updateMany({ where: { id: created.id }, data: { name: "hijacked" } }),
      db.appPrisma,
    );
    expect(edit.count).toBe(0);
  });

  it("duplicates a rule disabled, with a fresh webhook secret", async () => {
    const original = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        createRule(tx, {
          workspaceId: world.workspaceId,
          accountId: world.ownerAccountId,
          input: ruleInputSchema.parse({
            ...validInput,
            name: "Original",
            channels: [{ kind: "webhook", url: receiver.url("/dup") }],
          }),
        }),
      db.appPrisma,
    );
    const copy = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        duplicateRule(tx, { workspaceId: world.workspaceId, ruleId: original.id, accountId: world.ownerAccountId }),
      db.appPrisma,
    );
    const rows = await db.owner.query(`SELECT name, is_active FROM analytics.alert_rules WHERE id = $1`, [copy.id]);
    expect(rows.rows[0]).toEqual({ name: "Original (copy)", is_active: false });
    expect(copy.secrets).toHaveLength(1);
    expect(copy.secrets[0].secret).not.toBe(original.secrets[0].secret);
  });
});

describe("send test and acknowledge", () => {
  it("sends a signed test to every channel and logs the attempts", async () => {
    const rule = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        createRule(tx, {
          workspaceId: world.workspaceId,
          accountId: world.ownerAccountId,
          input: ruleInputSchema.parse({
            ...validInput,
            name: "Tested",
            channels: [
              { kind: "webhook", url: receiver.url("/test-ok") },
              { kind: "slack", url: receiver.url("/test-broken") },
            ],
          }),
        }),
      db.appPrisma,
    );
    receiver.script("/test-broken", [500]);
    const results = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        sendTestNotifications(tx, { workspace: { id: world.workspaceId, slug: "alerts-rules" }, ruleId: rule.id }),
      db.appPrisma,
    );
    expect(results.map((r) => [r.kind, r.outcome, r.httpStatus])).toEqual([
      ["webhook", "delivered", 200],
      ["slack", "failed", 500],
    ]);
    const hook = receiver.requests.find((r) => r.path === "/test-ok");
    expect(JSON.parse(hook?.body ?? "{}").type).toBe("alert.test");
    expect(hook?.headers["webhook-signature"]).toMatch(/^v1,/);
    const attempts = await db.owner.query(
      `SELECT outcome, is_test FROM analytics.alert_delivery_attempts WHERE alert_rule_id = $1 ORDER BY outcome`,
      [rule.id],
    );
    expect(attempts.rows).toEqual([
      { outcome: "delivered", is_test: true },
      { outcome: "failed", is_test: true },
    ]);
  });

  it("acknowledges once, recording who, when and the note", async () => {
    const rule = await db.owner.query<{ id: string }>(
      `SELECT id::text FROM analytics.alert_rules WHERE workspace_id = $1 LIMIT 1`,
      [world.workspaceId],
    );
    const history = await db.owner.query<{ id: string }>(
      `INSERT INTO analytics.alert_history (workspace_id, alert_rule_id, previous_state, state, notification_status)
       VALUES ($1, $2, 'ok', 'firing', 'sent') RETURNING id::text`,
      [world.workspaceId, rule.rows[0].id],
    );
    const byMember = await withUserContext(
      memberId,
      (tx) =>
        acknowledge(tx, {
          workspaceId: world.workspaceId,
          accountId: memberId,
          historyId: history.rows[0].id,
          note: "mine",
        }),
      db.appPrisma,
    );
    expect(byMember).toBe(false); // RLS: members cannot acknowledge
    const first = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        acknowledge(tx, {
          workspaceId: world.workspaceId,
          accountId: world.ownerAccountId,
          historyId: history.rows[0].id,
          note: "on it",
        }),
      db.appPrisma,
    );
    const second = await withUserContext(
      world.ownerAccountId,
      (tx) =>
        acknowledge(tx, {
          workspaceId: world.workspaceId,
          accountId: world.ownerAccountId,
          historyId: history.rows[0].id,
          note: "again",
        }),
      db.appPrisma,
    );
    expect([first, second]).toEqual([true, false]);
    const row = await db.owner.query(
      `SELECT acknowledged_by::text, notes, acknowledged_at IS NOT NULL AS has_time FROM analytics.alert_history WHERE id = $1`,
      [history.rows[0].id],
    );
    expect(row.rows[0]).toEqual({ acknowledged_by: world.ownerAccountId, notes: "on it", has_time: true });
  });
});

describe("page reads", () => {
  it("lists rules with their series states and filters history by rule, state and day", async () => {
    const ws = await createAlertWorld(db.owner, "alerts-reads");
    const [a, b] = await Promise.all(
      ["Reads A", "Reads B"].map((name) =>
        db.owner
          .query<{ id: string }>(
            `INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value)
             VALUES ($1, $2, 'runs', 'greater_than', 1) RETURNING id::text`,
            [ws.workspaceId, name],
          )
          .then((r) => r.rows[0].id),
      ),
    );
    await db.owner.query(
      `INSERT INTO analytics.alert_series_state (workspace_id, alert_rule_id, series_key, series_label, state, state_since, last_evaluated_at)
       VALUES ($1, $2, 'user:1', 'U1', 'firing', now(), now()), ($1, $2, 'user:2', 'U2', 'firing', now(), now()),
              ($1, $2, 'user:3', 'U3', 'pending', now(), now()), ($1, $3, '', 'Workspace', 'ok', now(), now())`,
      [ws.workspaceId, a, b],
    );
    await db.owner.query(
      `INSERT INTO analytics.alert_history (workspace_id, alert_rule_id, triggered_at, previous_state, state, notification_status)
       VALUES ($1, $2, '2026-03-01 10:00Z', 'ok', 'firing', 'sent'), ($1, $2, '2026-03-02 10:00Z', 'firing', 'ok', 'sent'),
              ($1, $3, '2026-03-02 11:00Z', 'ok', 'firing', 'none')`,
      [ws.workspaceId, a, b],
    );
    await db.owner.query(
      `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'viewer')`,
      [ws.workspaceId, memberId],
    );
    const read = <T>(fn: (tx: Parameters<Parameters<typeof withUserContext>[1]>[0]) => Promise<T>) =>
      withUserContext(memberId, fn, db.appPrisma);
    const rules = await read((tx) => listRules(tx, ws.workspaceId));
    expect(rules.map((r) => [r.name, r.firing, r.pending])).toEqual([
      ["Reads A", 2, 1],
      ["Reads B", 0, 0],
    ]);
    const workspace = { id: ws.workspaceId, timezone: "UTC" };
    const count = async (filter: Parameters<typeof listHistory>[2]) =>
      (await read((tx) => listHistory(tx, workspace, filter))).length;
    expect(await count({})).toBe(3);
    expect(await count({ rule: a })).toBe(2);
    expect(await count({ state: "firing" })).toBe(2);
    expect(await count({ rule: a, state: "firing" })).toBe(1);
    expect(await count({ from: "2026-03-02", to: "2026-03-02" })).toBe(2);
    expect(await count({ to: "2026-03-01" })).toBe(1);
  });
});

describe("pure helpers", () => {
  it("preview replays the state machine over hourly values", () => {
    const points = [1, 5, 6, 1, 7, 8, 9].map((value, i) => ({
      t: new Date(Date.UTC(2026, 0, 1, i)).toISOString(),
      value,
    }));
    const policy = {
      pendingSeconds: 3600,
      repeatIntervalSeconds: null,
      noDataPolicy: "no_data" as const,
      errorPolicy: "error" as const,
      snoozedUntil: null,
    };
    const fired = wouldHaveFired(points, { comparator: "greater_than", kind: "value", threshold: 4 }, policy);
    expect(fired).toEqual([points[2].t, points[5].t]);
  });

  it("backoff doubles per attempt, with jitter between half and the full delay, capped", () => {
    const options = { baseMs: 1000, maxMs: 10_000, maxAttempts: 8 };
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, options, () => 0))).toEqual([500, 1000, 2000, 4000, 5000]);
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, options, () => 1))).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });

  it("judges addresses, including IPv4 inside IPv6, and honours the allow-list", () => {
    const none = parseAllowList("");
    expect(addressRefusal("93.184.216.34", none)).toBeNull();
    expect(addressRefusal("2606:4700::1111", none)).toBeNull();
    for (const address of [
      "127.0.0.1",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.0.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "fd00:ec2::254",
      "::ffff:10.0.0.1",
      "::ffff:7f00:1",
    ]) {
      expect(addressRefusal(address, none), address).not.toBeNull();
    }
    const intranet = parseAllowList("10.20.0.0/16, hooks.intranet");
    expect(addressRefusal("10.20.3.4", intranet)).toBeNull();
    expect(addressRefusal("10.21.3.4", intranet)).not.toBeNull();
    expect(intranet.hosts.has("hooks.intranet")).toBe(true);
  });
});
