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
  return { status: response.status, headers: response.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : null };
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
          body: { userId: "u1", userEmail: "Ann@Example.com", eventType: "page_view", pagePath: "/home", metadata: { a: 1 } },
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
          body: { runId: "run-1", userId: "u1", provider: "OpenAI", model: "gpt-4o-2024-08-06", promptTokens: 1_000_000, completionTokens: 100_000, latencyMs: 900 },
        },
        {
          id: "c2",
          type: "llm_call",
          timestamp: "2025-03-01T12:31:00Z",
          body: { userId: "u2", provider: "acme", model: "house-model", promptTokens: 10, completionTokens: 5, latencyMs: 10 },
        },
        {
          id: "c3",
          type: "llm_call",
          timestamp: "2025-03-01T12:32:00Z",
          body: { userId: "u2", provider: "acme", model: "house-model", promptTokens: 10, completionTokens: 5, latencyMs: 10, costUsd: 0.25 },
        },
      ],
    });
    expect(res.status).toBe(207);
    expect(res.json?.errors).toEqual([]);
    expect((res.json?.successes as { status: string }[]).map((s) => s.status)).toEqual(Array(5).fill("created"));

    const run = await db.owner.query(
      "SELECT status, runtime_seconds::text, credits_consumed::text, model FROM public.agent_runs WHERE external_id = 'run-1'",
    );
    expect(run.rows[0]).toEqual({ status: "completed", runtime_seconds: "42.500", credits_consumed: "3.5000", model: "gpt-4o" });
    expect(await count("SELECT count(*) AS n FROM public.run_stages")).toBe(2);
    expect(await count("SELECT count(*) AS n FROM analytics.user_activity WHERE workspace_id = $1", [workspaceId])).toBe(1);
    const calls = await db.owner.query(
      "SELECT model, cost_source, total_cost_usd::text, run_id IS NOT NULL AS linked, agent_id IS NOT NULL AS has_agent FROM public.llm_usage_logs ORDER BY created_at",
    );
    // gpt-4o default price: $2.50 in / $10 out per 1M → 2.5 + 1.0.
    expect(calls.rows).toEqual([
      { model: "gpt-4o-2024-08-06", cost_source: "price_table", total_cost_usd: "3.50000000", linked: true, has_agent: true },
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
        { id: "dup-1", type: "activity", timestamp: "2025-03-02T10:00:00Z", body: { userId: "u9", eventType: "login" } },
        { id: "dup-1", type: "activity", timestamp: "2025-03-02T10:00:00Z", body: { userId: "u9", eventType: "login" } },
      ],
    };
    const first = await post(batch);
    const second = await post(batch);
    expect((first.json?.successes as { status: string }[]).map((s) => s.status)).toEqual(["created", "duplicate"]);
    expect((second.json?.successes as { status: string }[]).map((s) => s.status)).toEqual(["duplicate", "duplicate"]);
    expect(await count("SELECT count(*) AS n FROM analytics.user_activity WHERE event_type = 'login'")).toBe(1);
  });
});
