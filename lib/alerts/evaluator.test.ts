import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { refreshDirtyRollups } from "@/lib/rollups/engine";
import { prismaFor } from "@/lib/db/prisma";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { alertPayloadSchema } from "./channels";
import { deliverDueNotifications, type BackoffOptions } from "./deliver";
import { evaluateAlerts } from "./evaluator";
import { createRule, RuleInputError, snoozeRule, updateRule } from "./rules";
import { ruleInputSchema, type RuleInput } from "./schema";
import { verify } from "./signing";
import { createAlertWorld, insertLlmCall, startHttpReceiver, startSmtpReceiver, type HttpReceiver } from "./testkit";

const T = new Date("2026-03-10T12:30:00Z");
const minutes = (n: number) => new Date(T.getTime() + n * 60_000);
// Retries immediately due: the tests drive attempts, never wait for them.
const IMMEDIATE: BackoffOptions = { baseMs: 0, maxMs: 0, maxAttempts: 4 };

let db: TestDatabase;
let receiver: HttpReceiver;
let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
let slugCounter = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startHttpReceiver();
  smtp = await startSmtpReceiver();
  process.env.ALERT_WEBHOOK_ALLOWLIST = "127.0.0.1";
  process.env.SMTP_HOST = "127.0.0.1";
  process.env.SMTP_PORT = String(smtp.port);
  process.env.SMTP_FROM = "alerts@pulseboard.test";
});
afterAll(async () => {
  await receiver.close();
  await smtp.close();
  await db.drop();
});
afterEach(() => {
  process.env.ALERT_WEBHOOK_ALLOWLIST = "127.0.0.1";
});

function input(overrides: Partial<Record<keyof RuleInput, unknown>>): RuleInput {
  return ruleInputSchema.parse({
    name: "Cost spike",
    metric: "cost_usd",
    scopeKind: "workspace",
    comparator: "greater_than",
    conditionKind: "value",
    threshold: 1,
    windowMinutes: 60,
    pendingMinutes: 0,
    repeatMinutes: null,
    noDataPolicy: "no_data",
    errorPolicy: "error",
    channels: [],
    ...overrides,
  });
}

async function world(userCount = 2) {
  slugCounter += 1;
  // The evaluator evaluates every active rule in the database: keep earlier tests' rules out.
  await db.owner.query(`UPDATE analytics.alert_rules SET is_active = false`);
  return createAlertWorld(db.owner, `alerts-${slugCounter}`, userCount);
}

async function newRule(workspaceId: string, overrides: Partial<Record<keyof RuleInput, unknown>>) {
  return db.ownerPrisma.$transaction((tx) => createRule(tx, { workspaceId, accountId: null, input: input(overrides) }));
}

async function spend(w: Awaited<ReturnType<typeof world>>, at: Date, costUsd: number, user = 0) {
  await insertLlmCall(db.owner, {
    workspaceId: w.workspaceId,
    userId: w.userIds[user],
    agentId: w.agentId,
    at,
    costUsd,
  });
  await refreshDirtyRollups(db.owner);
}

async function tick(now: Date) {
  const summary = await evaluateAlerts(db.ownerPrisma, { now });
  await deliverDueNotifications(db.ownerPrisma, { now, backoff: IMMEDIATE });
  return summary;
}

const forPath = (path: string) => receiver.requests.filter((r) => r.path === path);

describe("a breach, end to end", () => {
  it("sends exactly one firing and one resolved per channel, signed, and records every transition", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, {
      channels: [
        { kind: "webhook", url: receiver.url("/e2e-hook") },
        { kind: "slack", url: receiver.url("/e2e-slack") },
        { kind: "email", recipients: ["oncall@example.com"] },
      ],
    });
    expect(rule.secrets).toHaveLength(1);
    const mailsBefore = smtp.messages.length;

    await spend(w, minutes(-10), 5);
    await tick(T); // ok → firing
    await tick(minutes(1)); // still firing: nothing new
    await tick(minutes(2));
    await tick(minutes(120)); // window moved past the spend: value 0 → resolved
    await tick(minutes(121));

    const hooks = forPath("/e2e-hook");
    expect(hooks.map((r) => alertPayloadSchema.parse(JSON.parse(r.body)).type)).toEqual([
      "alert.firing",
      "alert.resolved",
    ]);
    for (const hook of hooks) {
      const ok = verify(
        rule.secrets[0].secret,
        {
          id: String(hook.headers["webhook-id"]),
          timestamp: String(hook.headers["webhook-timestamp"]),
          signature: String(hook.headers["webhook-signature"]),
        },
        hook.body,
      );
      expect(ok).toBe(true);
      // A tampered body does not verify.
      expect(
        verify(
          rule.secrets[0].secret,
          {
            id: String(hook.headers["webhook-id"]),
            timestamp: String(hook.headers["webhook-timestamp"]),
            signature: String(hook.headers["webhook-signature"]),
          },
          hook.body.replace("5", "6"),
        ),
      ).toBe(false);
    }
    const firing = alertPayloadSchema.parse(JSON.parse(hooks[0].body));
    expect(firing.data.value).toBe(5);
    expect(firing.data.threshold).toBe(1);
    expect(firing.data.link).toContain(`/w/alerts-${slugCounter}/alerts/history?rule=${rule.id}`);

    const slack = forPath("/e2e-slack").map(
      (r) => JSON.parse(r.body) as { text: string; blocks: Array<{ type: string }> },
    );
    expect(slack).toHaveLength(2);
    expect(slack[0].text).toContain("[Firing] Cost spike");
    expect(slack[1].text).toContain("[Resolved] Cost spike");
    expect(slack[0].blocks.map((b) => b.type)).toEqual(["header", "section", "actions", "context"]);

    const mails = smtp.messages.slice(mailsBefore);
    expect(mails).toHaveLength(2);
    expect(mails[0].to).toEqual(["oncall@example.com"]);
    expect(mails[0].raw).toContain("Subject: [Firing] Cost spike");
    expect(mails[0].raw).toContain("text/plain");
    expect(mails[0].raw).toContain("text/html");
    expect(mails[1].raw).toContain("Subject: [Resolved] Cost spike");

    const ruleRow = await db.owner.query(
      `SELECT trigger_count, last_triggered_at FROM analytics.alert_rules WHERE id = $1`,
      [rule.id],
    );
    expect(ruleRow.rows[0]).toEqual({ trigger_count: 1, last_triggered_at: T });
    const history = await db.owner.query(
      `SELECT previous_state, state, metric_value::float8 AS value, threshold_value::float8 AS threshold, notification_status,
              jsonb_array_length(notifications_sent) AS sent
       FROM analytics.alert_history WHERE alert_rule_id = $1 ORDER BY triggered_at`,
      [rule.id],
    );
    expect(history.rows).toEqual([
      { previous_state: "ok", state: "firing", value: 5, threshold: 1, notification_status: "sent", sent: 3 },
      { previous_state: "firing", state: "ok", value: 0, threshold: 1, notification_status: "sent", sent: 3 },
    ]);
    const attempts = await db.owner.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'delivered')::int AS delivered
       FROM analytics.alert_delivery_attempts WHERE alert_rule_id = $1`,
      [rule.id],
    );
    expect(attempts.rows[0]).toEqual({ n: 6, delivered: 6 });
  });
});

describe("webhook retries", () => {
  it("retries on 500 with the same webhook-id until a 2xx, logging every attempt", async () => {
    const w = await world();
    receiver.script("/retry-hook", [500, 503]);
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/retry-hook") }] });
    await spend(w, minutes(-5), 3);
    await tick(T);
    const hooks = forPath("/retry-hook");
    expect(hooks).toHaveLength(3);
    expect(new Set(hooks.map((h) => h.headers["webhook-id"])).size).toBe(1);
    const attempts = await db.owner.query(
      `SELECT attempt, http_status, outcome FROM analytics.alert_delivery_attempts WHERE alert_rule_id = $1 ORDER BY attempt`,
      [rule.id],
    );
    expect(attempts.rows).toEqual([
      { attempt: 1, http_status: 500, outcome: "retry" },
      { attempt: 2, http_status: 503, outcome: "retry" },
      { attempt: 3, http_status: 200, outcome: "delivered" },
    ]);
  });

  it("gives up after the last attempt and marks the history failed", async () => {
    const w = await world();
    receiver.script("/down-hook", [500, 500, 500, 500, 500]);
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/down-hook") }] });
    await spend(w, minutes(-5), 3);
    await tick(T);
    expect(forPath("/down-hook")).toHaveLength(IMMEDIATE.maxAttempts);
    const row = await db.owner.query(
      `SELECT n.status, n.attempts, h.notification_status FROM analytics.alert_notifications n
       JOIN analytics.alert_history h ON h.id = n.alert_history_id WHERE n.alert_rule_id = $1`,
      [rule.id],
    );
    expect(row.rows).toEqual([{ status: "failed", attempts: 4, notification_status: "failed" }]);
  });

  it("spaces retries with exponential backoff when the clock does not move", async () => {
    const w = await world();
    receiver.script("/slow-hook", [500, 500]);
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/slow-hook") }] });
    await spend(w, minutes(-5), 3);
    await evaluateAlerts(db.ownerPrisma, { now: T });
    const backoff = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 8 };
    await deliverDueNotifications(db.ownerPrisma, { now: T, backoff });
    await deliverDueNotifications(db.ownerPrisma, { now: T, backoff });
    expect(forPath("/slow-hook")).toHaveLength(1);
    const next = await db.owner.query<{ delay: number }>(
      `SELECT extract(epoch FROM next_attempt_at - $2::timestamptz)::float8 AS delay FROM analytics.alert_notifications WHERE alert_rule_id = $1`,
      [rule.id, T],
    );
    expect(next.rows[0].delay).toBeGreaterThanOrEqual(15);
    expect(next.rows[0].delay).toBeLessThanOrEqual(30);
    await deliverDueNotifications(db.ownerPrisma, { now: new Date(T.getTime() + 31_000), backoff });
    expect(forPath("/slow-hook")).toHaveLength(2);
    const second = await db.owner.query<{ delay: number }>(
      `SELECT extract(epoch FROM next_attempt_at - $2::timestamptz)::float8 AS delay FROM analytics.alert_notifications WHERE alert_rule_id = $1`,
      [rule.id, new Date(T.getTime() + 31_000)],
    );
    expect(second.rows[0].delay).toBeGreaterThanOrEqual(30);
    expect(second.rows[0].delay).toBeLessThanOrEqual(60);
  });

  it("stops on 410 Gone and disables the endpoint", async () => {
    const w = await world();
    receiver.script("/gone-hook", [410]);
    const rule = await newRule(w.workspaceId, {
      repeatMinutes: 1,
      channels: [
        { kind: "webhook", url: receiver.url("/gone-hook") },
        { kind: "webhook", url: receiver.url("/alive-hook") },
      ],
    });
    await spend(w, minutes(-5), 3);
    await tick(T);
    await tick(minutes(1)); // repeat: only the live endpoint
    expect(forPath("/gone-hook")).toHaveLength(1);
    expect(forPath("/alive-hook")).toHaveLength(2);
    const channel = await db.owner.query(
      `SELECT is_enabled, disabled_reason FROM analytics.alert_channels WHERE alert_rule_id = $1 AND url LIKE '%gone-hook'`,
      [rule.id],
    );
    expect(channel.rows[0].is_enabled).toBe(false);
    expect(channel.rows[0].disabled_reason).toContain("410");
    const history = await db.owner.query(
      `SELECT notification_status FROM analytics.alert_history WHERE alert_rule_id = $1`,
      [rule.id],
    );
    expect(history.rows).toEqual([{ notification_status: "partial" }]);
  });

  it("does not follow redirects", async () => {
    const w = await world();
    receiver.script("/moved-hook", [301, 301, 301, 301]);
    await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/moved-hook") }] });
    await spend(w, minutes(-5), 3);
    await tick(T);
    expect(forPath("/moved-hook")).toHaveLength(IMMEDIATE.maxAttempts);
    expect(forPath("/elsewhere")).toHaveLength(0);
  });
});

describe("exactly once across evaluators", () => {
  it("two evaluators and two deliverers at once still deliver each notification once", async () => {
    const w = await world();
    await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/twice-hook") }] });
    await spend(w, minutes(-5), 3);
    // Two separate connection pools, as two worker processes would have.
    const a = prismaFor(db.ownerUrl, { max: 3 });
    const b = prismaFor(`${db.ownerUrl}${db.ownerUrl.includes("?") ? "&" : "?"}application_name=evaluator-b`, {
      max: 3,
    });
    // Same minute, and the next minute racing it: the rule row lock serialises them.
    const summaries = await Promise.all([
      evaluateAlerts(a, { now: T }),
      evaluateAlerts(b, { now: T }),
      evaluateAlerts(b, { now: minutes(1) }),
    ]);
    await Promise.all([
      deliverDueNotifications(a, { now: minutes(1), backoff: IMMEDIATE }),
      deliverDueNotifications(b, { now: minutes(1), backoff: IMMEDIATE }),
    ]);
    expect(summaries.reduce((n, s) => n + s.notificationsCreated, 0)).toBe(1);
    expect(forPath("/twice-hook")).toHaveLength(1);
    const counts = await db.owner.query(
      `SELECT (SELECT count(*)::int FROM analytics.alert_incidents WHERE workspace_id = $1) AS incidents,
              (SELECT count(*)::int FROM analytics.alert_history WHERE workspace_id = $1) AS history,
              (SELECT trigger_count FROM analytics.alert_rules WHERE workspace_id = $1) AS triggers`,
      [w.workspaceId],
    );
    expect(counts.rows[0]).toEqual({ incidents: 1, history: 1, triggers: 1 });
    await Promise.all([a.$disconnect(), b.$disconnect()]);
  });

  it("two evaluator processes started at once deliver once", async () => {
    const w = await world();
    await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/process-hook") }] });
    await spend(w, minutes(-5), 3);
    const run = () =>
      promisify(execFile)("npx", ["tsx", "lib/alerts/evaluate-once.ts", db.ownerUrl, T.toISOString()], {
        env: { ...process.env, ALERT_WEBHOOK_ALLOWLIST: "127.0.0.1" },
        timeout: 60_000,
      });
    const outputs = await Promise.all([run(), run()]);
    const summaries = outputs.map(
      (o) => JSON.parse(o.stdout.trim().split("\n").at(-1) ?? "{}") as { evaluation: { notificationsCreated: number } },
    );
    expect(summaries.reduce((n, s) => n + s.evaluation.notificationsCreated, 0)).toBe(1);
    expect(forPath("/process-hook")).toHaveLength(1);
    const history = await db.owner.query(
      `SELECT count(*)::int AS n FROM analytics.alert_history WHERE workspace_id = $1`,
      [w.workspaceId],
    );
    expect(history.rows[0].n).toBe(1);
  });

  it("the notification unique key refuses a second copy of the same event", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/key-hook") }] });
    await spend(w, minutes(-5), 3);
    await evaluateAlerts(db.ownerPrisma, { now: T });
    const copy = db.owner.query(
      `INSERT INTO analytics.alert_notifications (workspace_id, alert_rule_id, incident_id, alert_channel_id, event, event_seq, payload)
       SELECT workspace_id, alert_rule_id, incident_id, alert_channel_id, event, event_seq, payload
       FROM analytics.alert_notifications WHERE alert_rule_id = $1`,
      [rule.id],
    );
    await expect(copy).rejects.toThrow(/alert_notifications_once_key/);
  });
});

describe("state rules in the database", () => {
  it("trigger_count moves only on entry to firing; repeats notify without counting", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, {
      repeatMinutes: 2,
      channels: [{ kind: "webhook", url: receiver.url("/repeat-hook") }],
    });
    await spend(w, minutes(-5), 3);
    for (let m = 0; m <= 4; m++) await tick(minutes(m));
    const types = forPath("/repeat-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)).type);
    expect(types).toEqual(["alert.firing", "alert.repeat", "alert.repeat"]);
    const row = await db.owner.query(
      `SELECT trigger_count, last_triggered_at FROM analytics.alert_rules WHERE id = $1`,
      [rule.id],
    );
    expect(row.rows[0]).toEqual({ trigger_count: 1, last_triggered_at: T });
    const history = await db.owner.query(
      `SELECT count(*)::int AS n FROM analytics.alert_history WHERE alert_rule_id = $1`,
      [rule.id],
    );
    expect(history.rows[0].n).toBe(1);
  });

  it("pending period: history records ok→pending→firing, one notification", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, {
      pendingMinutes: 2,
      channels: [{ kind: "webhook", url: receiver.url("/pending-hook") }],
    });
    await spend(w, minutes(-5), 3);
    for (let m = 0; m <= 3; m++) await tick(minutes(m));
    const history = await db.owner.query(
      `SELECT previous_state, state, notification_status FROM analytics.alert_history WHERE alert_rule_id = $1 ORDER BY triggered_at`,
      [rule.id],
    );
    expect(history.rows).toEqual([
      { previous_state: "ok", state: "pending", notification_status: "none" },
      { previous_state: "pending", state: "firing", notification_status: "sent" },
    ]);
    expect(forPath("/pending-hook")).toHaveLength(1);
  });

  it("no data: a rate with nothing to measure follows the no-data policy", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, {
      metric: "success_rate",
      comparator: "less_than",
      threshold: 90,
      channels: [{ kind: "webhook", url: receiver.url("/nodata-hook") }],
    });
    await tick(T);
    await tick(minutes(1));
    const types = forPath("/nodata-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)).type);
    expect(types).toEqual(["alert.no_data"]);
    const state = await db.owner.query(`SELECT state FROM analytics.alert_series_state WHERE alert_rule_id = $1`, [
      rule.id,
    ]);
    expect(state.rows).toEqual([{ state: "no_data" }]);
  });

  it("an evaluation error follows the error policy and is recorded", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/error-hook") }] });
    // A metric the catalogue does not know (written past the form's validation) fails to evaluate.
    await db.owner.query(`UPDATE analytics.alert_rules SET metric_type = 'no_such_metric' WHERE id = $1`, [rule.id]);
    await tick(T);
    const history = await db.owner.query(
      `SELECT state, error_message FROM analytics.alert_history WHERE alert_rule_id = $1`,
      [rule.id],
    );
    expect(history.rows[0].state).toBe("error");
    expect(history.rows[0].error_message).toContain('Unknown metric "no_such_metric"');
    expect(forPath("/error-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)).type)).toEqual([
      "alert.error",
    ]);
  });

  it("snooze: evaluation and history go on, nothing is sent", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/snooze-hook") }] });
    await db.ownerPrisma.$transaction((tx) => snoozeRule(tx, w.workspaceId, rule.id, minutes(30)));
    await spend(w, minutes(-5), 3);
    await tick(T);
    expect(forPath("/snooze-hook")).toHaveLength(0);
    const history = await db.owner.query(
      `SELECT state, notification_status FROM analytics.alert_history WHERE alert_rule_id = $1`,
      [rule.id],
    );
    expect(history.rows).toEqual([{ state: "firing", notification_status: "suppressed" }]);
    const count = await db.owner.query(`SELECT trigger_count FROM analytics.alert_rules WHERE id = $1`, [rule.id]);
    expect(count.rows[0].trigger_count).toBe(1);
  });

  it("editing the condition resolves open incidents with a notification, and the next breach fires again", async () => {
    const w = await world();
    const rule = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url: receiver.url("/edit-hook") }] });
    await spend(w, minutes(-5), 3);
    await tick(T);
    const before = await db.owner.query(`SELECT state FROM analytics.alert_series_state WHERE alert_rule_id = $1`, [
      rule.id,
    ]);
    expect(before.rows).toEqual([{ state: "firing" }]);
    const renamed = await db.ownerPrisma.$transaction((tx) =>
      updateRule(tx, {
        workspaceId: w.workspaceId,
        ruleId: rule.id,
        input: input({ name: "Renamed", channels: [{ kind: "webhook", url: receiver.url("/edit-hook") }] }),
      }),
    );
    expect(renamed.stateReset).toBe(false);
    // The form sends the channel's id back: the same channel, kept (a removed channel gets nothing).
    const channel = await db.owner.query<{ id: string }>(
      `SELECT id FROM analytics.alert_channels WHERE alert_rule_id = $1`,
      [rule.id],
    );
    const changed = await db.ownerPrisma.$transaction((tx) =>
      updateRule(tx, {
        workspaceId: w.workspaceId,
        ruleId: rule.id,
        now: minutes(0.5),
        input: input({
          threshold: 10,
          channels: [{ id: channel.rows[0].id, kind: "webhook", url: receiver.url("/edit-hook") }],
        }),
      }),
    );
    expect(changed.stateReset).toBe(true);
    const after = await db.owner.query(`SELECT state FROM analytics.alert_series_state WHERE alert_rule_id = $1`, [
      rule.id,
    ]);
    expect(after.rows).toEqual([{ state: "ok" }]);
    const open = await db.owner.query(
      `SELECT count(*)::int AS n FROM analytics.alert_incidents WHERE alert_rule_id = $1 AND resolved_at IS NULL`,
      [rule.id],
    );
    expect(open.rows[0].n).toBe(0);
    await tick(minutes(1)); // $3 < $10: stays ok; delivers the resolved notification
    const history = await db.owner.query(
      `SELECT previous_state, state FROM analytics.alert_history WHERE alert_rule_id = $1 ORDER BY triggered_at, previous_state`,
      [rule.id],
    );
    expect(history.rows).toEqual([
      { previous_state: "ok", state: "firing" },
      { previous_state: "firing", state: "ok" },
    ]);
    await spend(w, minutes(1), 20);
    await tick(minutes(2)); // $23 > $10: a new incident fires and is notified
    const events = forPath("/edit-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)));
    expect(events.map((e) => [e.type, e.data.rule.condition])).toEqual([
      ["alert.firing", "cost_usd > 1"],
      ["alert.resolved", "cost_usd > 1"],
      ["alert.firing", "cost_usd > 10"],
    ]);
    expect(new Set(events.map((e) => e.data.incidentId)).size).toBe(2);
  });

  it("evaluates the exact window: spend 61 minutes ago is outside a 60-minute window", async () => {
    const w = await world();
    await newRule(w.workspaceId, { threshold: 4, channels: [{ kind: "webhook", url: receiver.url("/exact-hook") }] });
    await spend(w, minutes(-61), 3); // same local hour as the tick's window start, but before it
    await spend(w, minutes(-59), 2);
    await tick(T); // $2 in the last 60 minutes: ok (hour rounding would read $5)
    expect(forPath("/exact-hook")).toHaveLength(0);
    await spend(w, minutes(-1), 2.5);
    await tick(minutes(1)); // $4.50 > $4
    const hooks = forPath("/exact-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)));
    expect(hooks.map((h) => [h.type, h.data.value])).toEqual([["alert.firing", 4.5]]);
  });

  it("each user: one alert instance per series", async () => {
    const w = await world(3);
    const rule = await newRule(w.workspaceId, {
      scopeKind: "each_user",
      threshold: 50,
      windowMinutes: 1440,
      channels: [{ kind: "webhook", url: receiver.url("/each-hook") }],
    });
    await spend(w, minutes(-120), 30, 0);
    await spend(w, minutes(-60), 30, 0); // user 0: $60 in 24 h
    await spend(w, minutes(-30), 20, 1); // user 1: $20
    await tick(T);
    const hooks = forPath("/each-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)));
    expect(hooks.map((h) => [h.data.series.key, h.data.value])).toEqual([[`user:${w.userIds[0]}`, 60]]);
    const states = await db.owner.query(
      `SELECT series_key, state FROM analytics.alert_series_state WHERE alert_rule_id = $1 ORDER BY series_key`,
      [rule.id],
    );
    expect(states.rows).toEqual([{ series_key: `user:${w.userIds[0]}`, state: "firing" }]);
  });
});

describe("per-series scopes", () => {
  it("each user with a non-additive metric, and a series that goes missing resolves (Grafana's MissingSeries)", async () => {
    const w = await world(3);
    const rule = await newRule(w.workspaceId, {
      metric: "llm_latency_p95",
      scopeKind: "each_user",
      threshold: 1000,
      windowMinutes: 30,
      noDataPolicy: "alerting",
      channels: [{ kind: "webhook", url: receiver.url("/latency-hook") }],
    });
    await insertLlmCall(db.owner, {
      workspaceId: w.workspaceId,
      userId: w.userIds[0],
      agentId: w.agentId,
      at: minutes(-10),
      costUsd: 1,
      latencyMs: 2000,
    });
    await insertLlmCall(db.owner, {
      workspaceId: w.workspaceId,
      userId: w.userIds[1],
      agentId: w.agentId,
      at: minutes(-10),
      costUsd: 1,
      latencyMs: 300,
    });
    await refreshDirtyRollups(db.owner);
    await tick(T);
    const states = async () =>
      (
        await db.owner.query<{ series_key: string; state: string }>(
          `SELECT series_key, state FROM analytics.alert_series_state WHERE alert_rule_id = $1 ORDER BY series_key`,
          [rule.id],
        )
      ).rows;
    expect(await states()).toEqual([{ series_key: `user:${w.userIds[0]}`, state: "firing" }]);
    // 25 minutes later the call is outside the 30-minute window: the series is missing → resolved,
    // even though the no-data policy is "alerting".
    await tick(minutes(25));
    expect(await states()).toEqual([{ series_key: `user:${w.userIds[0]}`, state: "ok" }]);
    const types = forPath("/latency-hook").map((r) => alertPayloadSchema.parse(JSON.parse(r.body)).type);
    expect(types).toEqual(["alert.firing", "alert.resolved"]);
  });

  it("the form refuses 'less than' on a total for each user/agent", async () => {
    const w = await world();
    const error = await newRule(w.workspaceId, { scopeKind: "each_agent", comparator: "less_than" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
  });
});

describe("SSRF guard", () => {
  it("refuses private, loopback, link-local and metadata targets at save", async () => {
    process.env.ALERT_WEBHOOK_ALLOWLIST = "";
    const w = await world();
    for (const url of [
      "http://127.0.0.1:8080/hook",
      "http://169.254.169.254/latest/meta-data",
      "http://10.1.2.3/hook",
      "http://192.168.1.1/hook",
      "http://[::1]/hook",
      "http://[fd00:ec2::254]/",
      "http://[::ffff:127.0.0.1]/hook",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://localhost:3000/hook",
      "http://vm/hook", // a hostname that resolves to 127.0.0.1 (/etc/hosts)
      "ftp://example.com/hook",
    ]) {
      const error = await newRule(w.workspaceId, { channels: [{ kind: "webhook", url }] }).catch((e: unknown) => e);
      expect(error, url).toBeInstanceOf(RuleInputError);
      expect(Object.keys((error as RuleInputError).fieldErrors)).toEqual(["channels.0.url"]);
    }
    const rules = await db.owner.query(`SELECT count(*)::int AS n FROM analytics.alert_rules WHERE workspace_id = $1`, [
      w.workspaceId,
    ]);
    expect(rules.rows[0].n).toBe(0);
  });

  it("refuses at send time after DNS resolution, without connecting", async () => {
    const w = await world();
    // Saved while the intranet host was allowed; the allow-list was narrowed since.
    process.env.ALERT_WEBHOOK_ALLOWLIST = "127.0.0.1,vm";
    const port = new URL(receiver.url("/")).port;
    const rule = await newRule(w.workspaceId, {
      channels: [{ kind: "webhook", url: `http://vm:${port}/rebind-hook` }],
    });
    process.env.ALERT_WEBHOOK_ALLOWLIST = "";
    await spend(w, minutes(-5), 3);
    await tick(T);
    expect(forPath("/rebind-hook")).toHaveLength(0);
    const attempts = await db.owner.query(
      `SELECT outcome, error FROM analytics.alert_delivery_attempts WHERE alert_rule_id = $1`,
      [rule.id],
    );
    expect(attempts.rows).toHaveLength(1);
    expect(attempts.rows[0].outcome).toBe("refused");
    expect(attempts.rows[0].error).toContain("vm resolves to 127.0.0.1");
  });
});
