import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "@/lib/api-keys/keys";
import { prismaFor } from "@/lib/db/prisma";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { handleMetricsRequest, metricReadCounts } from "./api";
import { WORLD_TZ, buildMetricWorld, type MetricWorld } from "./testkit";

let db: TestDatabase;
let world: MetricWorld;
const accounts: Record<"owner" | "viewer" | "outsider", string> = { owner: "", viewer: "", outsider: "" };

beforeAll(async () => {
  db = await createTestDatabase();
  world = await buildMetricWorld(db.owner, "api-world");
  for (const role of ["owner", "viewer", "outsider"] as const) {
    const { rows } = await db.owner.query<{ id: string }>(
      `INSERT INTO public.accounts (email) VALUES ($1) RETURNING id`,
      [`${role}@example.com`],
    );
    accounts[role] = rows[0].id;
    if (role !== "outsider") {
      await db.owner.query(
        `INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, $3)`,
        [world.workspaceId, rows[0].id, role],
      );
    }
  }
});
afterAll(async () => {
  await db?.drop();
});

function call(query: string, as: string | null, init: RequestInit = {}, format: "json" | "csv" = "json") {
  return handleMetricsRequest(
    new Request(`http://localhost/api/v1/metrics?${query}`, init),
    { db: db.appPrisma, sessionAccountId: async () => as },
    format,
  );
}

type Body = {
  metric: string;
  unit: string;
  timezone: string;
  series: { key: string; label: string; points: { t: string; v: number | null }[] }[];
};

describe("GET /api/v1/metrics", () => {
  it("answers runs by day, as the app role under RLS, equal to SQL over raw rows", async () => {
    const response = await call(
      "workspace=api-world&metric=runs&from=2026-03-02&to=2026-03-15&granularity=day",
      accounts.owner,
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Body;
    expect(body.metric).toBe("runs");
    expect(body.timezone).toBe(WORLD_TZ);
    const { rows } = await db.owner.query<{ day: string; n: number }>(
      `SELECT to_char((started_at AT TIME ZONE $2)::date, 'YYYY-MM-DD') AS day, count(*)::int AS n
       FROM public.agent_runs WHERE workspace_id = $1 GROUP BY 1`,
      [world.workspaceId, WORLD_TZ],
    );
    const expected = new Map(rows.map((r) => [r.day, r.n]));
    expect(body.series[0].points).toHaveLength(14);
    for (const p of body.series[0].points) expect(p.v, p.t).toBe(expected.get(p.t.slice(0, 10)) ?? 0);
  });

  it("answers cost by model per week, equal to SQL over raw rows", async () => {
    const response = await call(
      "workspace=api-world&metric=cost_usd&from=2026-03-02&to=2026-03-15&granularity=week&groupBy=model",
      accounts.owner,
    );
    const body = (await response.json()) as Body;
    const { rows } = await db.owner.query<{ week: string; model: string; cost: number }>(
      `SELECT to_char(date_trunc('week', created_at AT TIME ZONE $2), 'YYYY-MM-DD') AS week, model,
              coalesce(sum(total_cost_usd), 0)::float8 AS cost
       FROM public.llm_usage_logs WHERE workspace_id = $1 GROUP BY 1, 2`,
      [world.workspaceId, WORLD_TZ],
    );
    expect(body.series.map((s) => s.key).sort()).toEqual([...new Set(rows.map((r) => r.model))].sort());
    for (const row of rows) {
      const point = body.series.find((s) => s.key === row.model)?.points.find((p) => p.t.startsWith(row.week));
      expect(point?.v, `${row.model} ${row.week}`).toBeCloseTo(row.cost, 9);
    }
  });

  it("gives clear 400s", async () => {
    const cases: [string, RegExp][] = [
      ["workspace=api-world&metric=nope&from=2026-03-02&to=2026-03-15", /Unknown metric "nope"/],
      ["workspace=api-world&metric=runs&from=2026-03-02&to=2026-03-15&groupBy=planet", /Unknown groupBy "planet"/],
      ["workspace=api-world&metric=runs&from=2026-03-15&to=2026-03-02", /must be before/],
      ["workspace=api-world&metric=runs&from=2020-01-01&to=2026-03-02&granularity=hour", /more than 1000 hour buckets/],
      ["workspace=api-world&from=2026-03-02&to=2026-03-15", /metric/],
    ];
    for (const [query, message] of cases) {
      const response = await call(query, accounts.owner);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(message);
    }
  });

  it("refuses strangers and viewers' per-user exports", async () => {
    expect((await call("workspace=api-world&metric=runs&from=2026-03-02&to=2026-03-15", null)).status).toBe(401);
    expect(
      (await call("workspace=api-world&metric=runs&from=2026-03-02&to=2026-03-15", accounts.outsider)).status,
    ).toBe(404);
    const perUser = "workspace=api-world&metric=runs&from=2026-03-02&to=2026-03-15&groupBy=user";
    expect((await call(perUser, accounts.viewer, {}, "csv")).status).toBe(403);
    expect((await call(perUser, accounts.viewer)).status).toBe(200);
    const csv = await call(perUser, accounts.owner, {}, "csv");
    expect(csv.status).toBe(200);
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe("bucket,series_key,series,runs (count)");
    expect(lines).toHaveLength(1 + 3 * 14); // 3 users × 14 days

    // The export is audited; the refused one is not.
    const audit = await db.owner.query(
      "SELECT actor_account_id AS actor, details->>'groupBy' AS group_by FROM public.audit_log WHERE action = 'export.downloaded'",
    );
    expect(audit.rows).toEqual([{ actor: accounts.owner, group_by: "user" }]);

    // Looking at one tracked user's numbers is audited too, with which user.
    const one = `workspace=api-world&metric=runs&from=2026-03-02&to=2026-03-15&userId=${world.userIds[0]}`;
    expect((await call(one, accounts.owner)).status).toBe(200);
    const viewed = await db.owner.query(
      "SELECT actor_account_id AS actor, details->>'userId' AS user_id FROM public.audit_log WHERE action = 'usage.viewed_other_user'",
    );
    expect(viewed.rows).toEqual([{ actor: accounts.owner, user_id: world.userIds[0] }]);
  });

  it("accepts an API key with read scope and refuses one without", async () => {
    const read = await createApiKey(db.ownerPrisma, world.workspaceId, { name: "reader", scopes: ["read"] }, null);
    const ingest = await createApiKey(
      db.ownerPrisma,
      world.workspaceId,
      { name: "ingester", scopes: ["ingest"] },
      null,
    );
    const query = "metric=runs&from=2026-03-02&to=2026-03-15&granularity=month";
    const ok = await call(query, null, { headers: { authorization: `Bearer ${read.key}` } });
    expect(ok.status).toBe(200);
    expect((await call(query, null, { headers: { authorization: `Bearer ${ingest.key}` } })).status).toBe(403);
    expect((await call(query, null, { headers: { authorization: "Bearer pb_nonsense" } })).status).toBe(401);
    // The key's own workspace slug is accepted; another workspace's is refused with a reason.
    const own = await call(`workspace=api-world&${query}`, null, { headers: { authorization: `Bearer ${read.key}` } });
    expect(own.status).toBe(200);
    const other = await call(`workspace=elsewhere&${query}`, null, {
      headers: { authorization: `Bearer ${read.key}` },
    });
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: string }).error).toBe(
      'This API key belongs to another workspace than "elsewhere".',
    );
  });

  // Read-scope keys read through app.current_read_workspace_id (migration 0071).
  it("an API key with read scope reads its workspace's numbers", async () => {
    const read = await createApiKey(db.ownerPrisma, world.workspaceId, { name: "reader2", scopes: ["read"] }, null);
    const ok = await call("metric=runs&from=2026-03-02&to=2026-03-15&granularity=month", null, {
      headers: { authorization: `Bearer ${read.key}` },
    });
    expect(((await ok.json()) as Body).series[0].points[0].v).toBe(12);
  });
});

/** Takes a connection of `client` in an open transaction until the returned function is called. */
function holdConnection(client: PrismaClient): Promise<() => void> {
  return new Promise((held) => {
    void client.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1`;
        await new Promise<void>((release) => held(release));
      },
      { timeout: 30_000 },
    );
  });
}

describe("GET /api/v1/metrics under load", () => {
  it("reads on the read pool: readers holding all of it wait, writes on the app pool do not", async () => {
    const read = await createApiKey(db.ownerPrisma, world.workspaceId, { name: "pool", scopes: ["read"] }, null);
    // A read pool of one connection, held by a slow reader until `release` is called.
    const readDb = prismaFor(db.appUrl, { max: 1, pool: "read-test" });
    const releaseHolder = await holdConnection(readDb);
    const events: string[] = [];
    const metrics = handleMetricsRequest(
      new Request("http://localhost/api/v1/metrics?metric=runs&from=2026-03-02&to=2026-03-15&granularity=month", {
        headers: { authorization: `Bearer ${read.key}` },
      }),
      { db: db.appPrisma, readDb, sessionAccountId: async () => null },
    ).then((response) => {
      events.push("metrics answered");
      return response;
    });
    // A write through the app pool (what ingest uses) goes through while every reader waits.
    await db.appPrisma.$queryRaw`SELECT 1`;
    events.push("write done");
    releaseHolder();
    const response = await metrics;
    expect(events).toEqual(["write done", "metrics answered"]);
    expect(response.status).toBe(200);
    expect(((await response.json()) as Body).series[0].points[0].v).toBe(12);
    await readDb.$disconnect();
  });

  it("identical concurrent requests share one read; other readers and other questions get their own", async () => {
    const read = await createApiKey(db.ownerPrisma, world.workspaceId, { name: "crowd", scopes: ["read"] }, null);
    // A read pool of one connection, held until every request is waiting for a read: then the
    // identical ones must have joined one read instead of queueing for their own.
    const readDb = prismaFor(db.appUrl, { max: 1, pool: "crowd-test" });
    const releaseHolder = await holdConnection(readDb);
    const ask = (query: string, key: string | null, account: string | null = null) =>
      handleMetricsRequest(
        new Request(`http://localhost/api/v1/metrics?${query}`, {
          headers: key ? { authorization: `Bearer ${key}` } : {},
        }),
        { db: db.appPrisma, readDb, sessionAccountId: async () => account },
      );
    const runs = "metric=runs&from=2026-03-02&to=2026-03-15&granularity=month";
    const before = metricReadCounts();
    const responses = Promise.all([
      ...Array.from({ length: 8 }, () => ask(runs, read.key)),
      ask("metric=llm_calls&from=2026-03-02&to=2026-03-15&granularity=month", read.key),
      ask(`workspace=api-world&${runs}`, null, accounts.viewer),
    ]);
    // Wait until all 10 requests wait on a metric read (started, or joined to one).
    for (let i = 0; i < 500; i++) {
      const now = metricReadCounts();
      if (now.started + now.joined - before.started - before.joined === 10) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    releaseHolder();
    const answered = await responses;
    const after = metricReadCounts();
    const bodies = (await Promise.all(answered.map((r) => r.json()))) as Body[];
    expect(answered.map((r) => r.status)).toEqual(Array(10).fill(200));
    for (const body of bodies.slice(0, 8)) expect(body.series[0].points[0].v).toBe(12);
    expect(bodies[8].metric).toBe("llm_calls");
    expect(bodies[9].series[0].points[0].v).toBe(12);
    // Three metric reads: the key's runs (8 requests), the key's llm_calls, the account's runs
    // (the same question from another reader: never shared).
    expect(after.started - before.started).toBe(3);
    expect(after.joined - before.joined).toBe(7);
    await readDb.$disconnect();
  });
});

describe("OpenAPI", () => {
  it("documents /api/v1/metrics with every metric and its definition", async () => {
    await import("./openapi");
    const { buildOpenApiDocument } = await import("@/lib/openapi/registry");
    const doc = buildOpenApiDocument();
    const op = (doc.paths["/api/v1/metrics"] as Record<string, { description: string; parameters: { name: string }[] }>)
      .get;
    expect(op.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining(["metric", "from", "to", "granularity", "groupBy", "agentId", "userId", "model"]),
    );
    expect(op.description).toContain("| `success_rate` | percent | Completed runs ÷ finished runs");
    expect(op.description).toContain("runs count by start time");
    expect(doc.paths["/api/v1/export/metrics"]).toBeDefined();
  });
});
