import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { handleIngestRequest, type IngestHandlerDeps } from "./handler";
import { serveFetchHandler } from "./test-server";
import { createKey, createWorkspace } from "./test-fixtures";

let db: TestDatabase;
let workspaceId: string;
let key: string;
let server: { url: string; close: () => Promise<void> };
let deps: IngestHandlerDeps;

beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = await createWorkspace(db.owner, "acme");
  key = await createKey(db.owner, workspaceId);
  deps = { db: db.appPrisma };
  server = await serveFetchHandler((request) => handleIngestRequest(request, deps));
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/api/v1/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : null,
  };
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.owner.query<{ n: string }>(sql, params);
  return Number(rows[0].n);
}

describe("POST /api/v1/ingest", () => {
  it("stores activity, runs and llm calls, and marks their hours dirty", async () => {
    const res = await post({
      batch: [
        {
          id: "a1",
          type: "activity",
          timestamp: "2025-03-01T10:15:00Z",
          body: {
            userId: "u1",
            userEmail: "Ann@Example.com",
            eventType: "page_view",
            pagePath: "/home",
            metadata: { a: 1 },
          },
        },
        {
          id: "r1",
          type: "run",
          timestamp: "2025-03-01T11:00:00Z",
          body: {
            runId: "run-1",
            agentId: "agent-1",
            agentName: "Summariser",
            userId: "u1",
            status: "completed",
            startedAt: "2025-03-01T11:00:00Z",
            finishedAt: "2025-03-01T11:00:42.5Z",
            creditsConsumed: 3.5,
            stages: [
              { name: "retrieve", model: "gpt-4o-mini", promptTokens: 100, completionTokens: 10 },
              { name: "answer", model: "gpt-4o", promptTokens: 1000, completionTokens: 500, costUsd: 0.01 },
            ],
          },
        },
        {
          id: "c1",
          type: "llm_call",
          timestamp: "2025-03-01T12:30:00Z",
          body: {
            runId: "run-1",
            userId: "u1",
            provider: "OpenAI",
            model: "gpt-4o-2024-08-06",
            promptTokens: 1_000_000,
            completionTokens: 100_000,
            latencyMs: 900,
          },
        },
        {
          id: "c2",
          type: "llm_call",
          timestamp: "2025-03-01T12:31:00Z",
          body: {
            userId: "u2",
            provider: "acme",
            model: "house-model",
            promptTokens: 10,
            completionTokens: 5,
            latencyMs: 10,
          },
        },
        {
          id: "c3",
          type: "llm_call",
          timestamp: "2025-03-01T12:32:00Z",
          body: {
            userId: "u2",
            provider: "acme",
            model: "house-model",
            promptTokens: 10,
            completionTokens: 5,
            latencyMs: 10,
            costUsd: 0.25,
          },
        },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.json?.errors).toEqual([]);
    expect((res.json?.successes as { status: string }[]).map((s) => s.status)).toEqual(Array(5).fill("created"));

    const run = await db.owner.query(
      "SELECT status, runtime_seconds::text, credits_consumed::text, model FROM public.agent_runs WHERE external_id = 'run-1'",
    );
    expect(run.rows[0]).toEqual({
      status: "completed",
      runtime_seconds: "42.500",
      credits_consumed: "3.5000",
      model: "gpt-4o",
    });
    expect(await count("SELECT count(*) AS n FROM public.run_stages")).toBe(2);
    expect(
      await count("SELECT count(*) AS n FROM analytics.user_activity WHERE workspace_id = $1", [workspaceId]),
    ).toBe(1);
    const calls = await db.owner.query(
      "SELECT model, cost_source, total_cost_usd::text, run_id IS NOT NULL AS linked, agent_id IS NOT NULL AS has_agent FROM public.llm_usage_logs ORDER BY created_at",
    );
    // gpt-4o default price: $2.50 in / $10 out per 1M → 2.5 + 1.0.
    expect(calls.rows).toEqual([
      {
        model: "gpt-4o-2024-08-06",
        cost_source: "price_table",
        total_cost_usd: "3.50000000",
        linked: true,
        has_agent: true,
      },
      { model: "house-model", cost_source: "unpriced", total_cost_usd: null, linked: false, has_agent: false },
      { model: "house-model", cost_source: "reported", total_cost_usd: "0.25000000", linked: false, has_agent: false },
    ]);
    const user = await db.owner.query("SELECT email FROM public.users WHERE external_id = 'u1'");
    expect(user.rows[0].email).toBe("ann@example.com");
    const hours = await db.owner.query<{ hour: Date }>("SELECT hour FROM analytics.rollup_dirty_hours ORDER BY hour");
    expect(hours.rows.map((r) => r.hour.toISOString())).toEqual([
      "2025-03-01T10:00:00.000Z",
      "2025-03-01T11:00:00.000Z",
      "2025-03-01T12:00:00.000Z",
    ]);
  });

  it("acknowledges a repeated batch as duplicates and stores nothing twice", async () => {
    const batch = {
      batch: [
        {
          id: "dup-1",
          type: "activity",
          timestamp: "2025-03-02T10:00:00Z",
          body: { userId: "u9", eventType: "login" },
        },
        {
          id: "dup-1",
          type: "activity",
          timestamp: "2025-03-02T10:00:00Z",
          body: { userId: "u9", eventType: "login" },
        },
      ],
    };
    const first = await post(batch);
    const second = await post(batch);
    expect((first.json?.successes as { status: string }[]).map((s) => s.status)).toEqual(["created", "duplicate"]);
    expect((second.json?.successes as { status: string }[]).map((s) => s.status)).toEqual(["duplicate", "duplicate"]);
    expect(await count("SELECT count(*) AS n FROM analytics.user_activity WHERE event_type = 'login'")).toBe(1);
  });

  it("answers every error code with an actionable message", async () => {
    const noKey = await fetch(`${server.url}/api/v1/ingest`, { method: "POST", body: "{}" });
    expect(noKey.status).toBe(401);
    expect((await post({ batch: [] }, { authorization: "Bearer pb_00000000_" + "a".repeat(43) })).status).toBe(401);
    const readOnly = await createKey(db.owner, workspaceId, ["read"]);
    expect((await post({ batch: [] }, { authorization: `Bearer ${readOnly}` })).status).toBe(403);

    const malformed = await post("{not json");
    expect(malformed.status).toBe(400);
    expect(malformed.json?.error).toBe("invalid_json");
    const noBatch = await post({ items: [] });
    expect(noBatch.status).toBe(400);
    expect(String(noBatch.json?.message)).toContain("batch");

    const big = await post({ batch: [{ id: "x", pad: "y".repeat(5 * 1024 * 1024) }] });
    expect(big.status).toBe(413);
    const tooMany = await post({
      batch: Array.from({ length: 1001 }, (_, i) => ({
        id: `m${i}`,
        type: "activity",
        timestamp: "2025-03-02T10:00:00Z",
        body: { userId: "u", eventType: "login" },
      })),
    });
    expect(tooMany.status).toBe(413);
    expect(await count("SELECT count(*) AS n FROM public.ingest_events WHERE event_id LIKE 'm%'")).toBe(0);

    // A streamed body without Content-Length is cut off at the limit too.
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await fetch(`${server.url}/api/v1/ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);

    const mixed = await post({
      batch: [
        {
          id: "ok-1",
          type: "activity",
          timestamp: "2025-03-02T10:00:00Z",
          body: { userId: "u1", eventType: "export" },
        },
        { id: "bad-1", type: "activity", timestamp: "2025-03-02T10:00:00Z", body: { userId: "u1", eventType: "jump" } },
        {
          id: "bad-2",
          type: "llm_call",
          timestamp: "2025-03-02T10:00:00Z",
          body: { userId: "u1", provider: "x", model: "y", promptTokens: -1, completionTokens: 1, latencyMs: 1 },
        },
        {
          id: "bad-3",
          type: "run",
          timestamp: "2025-03-02T10:00:00Z",
          body: { runId: "r", agentId: "a", userId: "u1", status: "completed", startedAt: "2025-03-02T10:00:00Z" },
        },
      ],
    });
    expect(mixed.status).toBe(207);
    expect((mixed.json?.successes as { id: string }[]).map((s) => s.id)).toEqual(["ok-1"]);
    const errors = mixed.json?.errors as { id: string; status: number; message: string }[];
    expect(errors.map((e) => [e.id, e.status])).toEqual([
      ["bad-1", 400],
      ["bad-2", 400],
      ["bad-3", 400],
    ]);
    expect(errors[0].message).toContain("body.eventType");
    expect(errors[1].message).toContain("body.promptTokens");
    expect(errors[2].message).toContain("body.finishedAt: is required when status is completed");
    expect(await count("SELECT count(*) AS n FROM analytics.user_activity WHERE event_type = 'export'")).toBe(1);
  });

  it("rate-limits a key with a shared token bucket and says when to retry", async () => {
    const limited = await createKey(db.owner, workspaceId, ["ingest"], { perSecond: 1, burst: 3 });
    const item = (id: string) => ({
      id,
      type: "activity",
      timestamp: "2025-03-02T10:00:00Z",
      body: { userId: "rl", eventType: "login" },
    });
    const first = await post({ batch: [item("rl-1"), item("rl-2")] }, { authorization: `Bearer ${limited}` });
    expect(first.status).toBe(207);
    const second = await post({ batch: [item("rl-3"), item("rl-4")] }, { authorization: `Bearer ${limited}` });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await count("SELECT count(*) AS n FROM public.ingest_events WHERE event_id LIKE 'rl-%'")).toBe(2);
  });

  it("replays the first answer for a repeated Idempotency-Key", async () => {
    const batch = {
      batch: [
        {
          id: "idem-1",
          type: "activity",
          timestamp: "2025-03-02T10:00:00Z",
          body: { userId: "u1", eventType: "logout" },
        },
      ],
    };
    const first = await post(batch, { "idempotency-key": "req-1" });
    const again = await post(batch, { "idempotency-key": "req-1" });
    expect(first.json).toEqual(again.json);
    expect((again.json?.successes as { status: string }[])[0].status).toBe("created");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const other = await post({ batch: [] }, { "idempotency-key": "req-1" });
    expect(other.status).toBe(400); // empty batch: envelope error before any replay
    const changed = await post({ batch: [{ ...batch.batch[0], id: "idem-2" }] }, { "idempotency-key": "req-1" });
    expect(changed.status).toBe(422);
    expect(await count("SELECT count(*) AS n FROM analytics.user_activity WHERE event_type = 'logout'")).toBe(1);
  });

  it("updates a run by later events, never moving back from a final status, and re-marks its old hour", async () => {
    const run = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
      id,
      type: "run",
      timestamp: "2025-04-01T09:00:00Z",
      body: {
        runId: "long-run",
        agentId: "agent-1",
        userId: "u1",
        status,
        startedAt: "2025-01-01T08:30:00Z",
        ...extra,
      },
    });
    await post({ batch: [run("lr-1", "running")] });
    await db.owner.query("DELETE FROM analytics.rollup_dirty_hours");
    await post({ batch: [run("lr-2", "completed", { finishedAt: "2025-01-01T08:31:00Z", rating: 4 })] });
    await post({ batch: [run("lr-3", "running", { creditsConsumed: 2 })] });
    await post({ batch: [run("lr-4", "failed", { finishedAt: "2025-01-01T09:00:00Z" })] });
    const { rows } = await db.owner.query(
      "SELECT status, finished_at, runtime_seconds::text, rating, credits_consumed::text FROM public.agent_runs WHERE external_id = 'long-run'",
    );
    expect(rows).toEqual([
      {
        status: "completed",
        finished_at: new Date("2025-01-01T08:31:00Z"),
        runtime_seconds: "60.000",
        rating: 4,
        credits_consumed: "2.0000",
      },
    ]);
    const hours = await db.owner.query<{ hour: Date }>("SELECT hour FROM analytics.rollup_dirty_hours ORDER BY hour");
    expect(hours.rows.map((r) => r.hour.toISOString())).toEqual(["2025-01-01T08:00:00.000Z"]);
  });
});
