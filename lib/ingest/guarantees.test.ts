import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { handleIngestRequest, type IngestHandlerDeps } from "./handler";
import { serveFetchHandler } from "./test-server";
import { createKey, createWorkspace } from "./test-fixtures";

let db: TestDatabase;
let workspaceA: string;
let workspaceB: string;
let keyA: string;
let keyB: string;
let server: { url: string; close: () => Promise<void> };
const deps: IngestHandlerDeps = { db: null as never };

beforeAll(async () => {
  db = await createTestDatabase();
  workspaceA = await createWorkspace(db.owner, "team-a");
  workspaceB = await createWorkspace(db.owner, "team-b");
  keyA = await createKey(db.owner, workspaceA);
  keyB = await createKey(db.owner, workspaceB);
  deps.db = db.appPrisma;
  server = await serveFetchHandler((request) => handleIngestRequest(request, deps));
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

async function post(key: string, body: unknown) {
  const response = await fetch(`${server.url}/api/v1/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text ? (JSON.parse(text) as { successes?: { status: string }[]; errors?: unknown[] }) : null,
  };
}

async function rowCounts(workspaceId: string) {
  const { rows } = await db.owner.query<Record<string, string>>(
    `SELECT (SELECT count(*) FROM analytics.user_activity WHERE workspace_id = $1) AS activity,
            (SELECT count(*) FROM public.agent_runs WHERE workspace_id = $1) AS runs,
            (SELECT count(*) FROM public.run_stages WHERE workspace_id = $1) AS stages,
            (SELECT count(*) FROM public.llm_usage_logs WHERE workspace_id = $1) AS calls,
            (SELECT count(*) FROM public.users WHERE workspace_id = $1) AS users,
            (SELECT count(*) FROM public.ingest_events WHERE workspace_id = $1) AS events`,
    [workspaceId],
  );
  return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
}

function mixedBatch(prefix: string, size: number) {
  return {
    batch: Array.from({ length: size }, (_, i) => {
      const timestamp = new Date(Date.UTC(2025, 4, 1, i % 24, i % 60)).toISOString();
      const userId = `${prefix}-user-${i % 7}`;
      if (i % 3 === 0)
        return { id: `${prefix}-${i}`, type: "activity", timestamp, body: { userId, eventType: "feature_use" } };
      if (i % 3 === 1) {
        return {
          id: `${prefix}-${i}`,
          type: "run",
          timestamp,
          body: {
            runId: `${prefix}-run-${i}`,
            agentId: `${prefix}-agent-${i % 3}`,
            userId,
            status: "completed",
            startedAt: timestamp,
            finishedAt: new Date(Date.parse(timestamp) + 1000).toISOString(),
            stages: [{ name: "only", promptTokens: 5 }],
          },
        };
      }
      return {
        id: `${prefix}-${i}`,
        type: "llm_call",
        timestamp,
        body: { userId, provider: "openai", model: "gpt-4o-mini", promptTokens: 10, completionTokens: 2, latencyMs: 5 },
      };
    }),
  };
}

describe("ingest guarantees", () => {
  it("stores one set from 20 concurrent copies of one batch", async () => {
    const batch = mixedBatch("conc", 300);
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(keyA, batch)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(207));
    const created = answers.flatMap((a) => a.json?.successes ?? []).filter((s) => s.status === "created").length;
    expect(created).toBe(300);
    expect(await rowCounts(workspaceA)).toEqual({
      activity: 100,
      runs: 100,
      stages: 100,
      calls: 100,
      users: 7,
      events: 300,
    });
  });

  it("never lets a key of workspace A write into workspace B", async () => {
    const before = await rowCounts(workspaceB);
    // Even ids equal to B's own and a payload naming B's workspace id go to A (the key decides).
    const batch = {
      batch: [
        {
          id: "shared-id",
          type: "activity",
          timestamp: "2025-05-02T00:00:00Z",
          body: { userId: "b-user", eventType: "login", metadata: { workspaceId: workspaceB } },
        },
      ],
    };
    expect((await post(keyB, batch)).json?.successes?.[0].status).toBe("created");
    expect((await post(keyA, batch)).json?.successes?.[0].status).toBe("created");
    const after = await rowCounts(workspaceB);
    expect(after.activity - before.activity).toBe(1);
    // And the app role under A's context cannot even see B's rows.
    const seen = await db.appPrisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.current_workspace_id', ${workspaceA}, true)`;
      return tx.$queryRaw<
        { n: bigint }[]
      >`SELECT count(*) AS n FROM public.users WHERE workspace_id = ${workspaceB}::uuid`;
    });
    expect(Number(seen[0].n)).toBe(0);
  });

  it("loses and duplicates nothing when the connection is killed mid-batch and the client retries", async () => {
    const batch = mixedBatch("kill", 90);
    let kills = 0;
    deps.maxAttempts = 1;
    deps.hooks = {
      beforeCommit: async (tx) => {
        if (kills > 0) return;
        kills++;
        const [{ pid }] = await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await db.owner.query("SELECT pg_terminate_backend($1)", [pid]);
      },
    };
    const before = await rowCounts(workspaceA);
    const failed = await post(keyA, batch);
    expect(failed.status).toBe(503);
    expect(await rowCounts(workspaceA)).toEqual(before);
    const retried = await post(keyA, batch);
    expect(retried.status).toBe(207);
    expect(retried.json?.successes?.filter((s) => s.status === "created").length).toBe(90);
    const again = await post(keyA, batch);
    expect(again.json?.successes?.filter((s) => s.status === "duplicate").length).toBe(90);
    const after = await rowCounts(workspaceA);
    expect(after.events - before.events).toBe(90);
    expect(after.activity - before.activity).toBe(30);
    expect(after.runs - before.runs).toBe(30);
    expect(after.calls - before.calls).toBe(30);
    deps.hooks = undefined;
    deps.maxAttempts = undefined;
  });

  it("answers thousands of random and malformed payloads without a 5xx or a partial row", async () => {
    const json = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 8, unit: "binary" }),
      fc.integer(),
      fc.double(),
      fc.constant(null),
      fc.constant("\u0000"),
      fc.constant(-1),
      fc.constant(1e300),
    );
    const timestamp = fc.oneof(
      fc
        .date({ min: new Date("1960-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
        .map((d) => d.toISOString()),
      fc.constant("2025-05-01T00:00:00+14:00"),
      fc.string({ maxLength: 30 }),
    );
    const body = fc.record(
      {
        userId: fc.oneof(fc.string({ maxLength: 300, unit: "binary" }), json),
        userEmail: fc.oneof(fc.emailAddress(), json),
        eventType: fc.oneof(fc.constantFrom("login", "page_view", "nope"), json),
        sessionId: fc.oneof(fc.uuid(), json),
        ipAddress: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 40 })),
        metadata: fc.oneof(fc.jsonValue({ maxDepth: 3 }), json),
        runId: fc.oneof(fc.string({ maxLength: 20 }), json),
        agentId: fc.oneof(fc.string({ maxLength: 20 }), json),
        status: fc.oneof(fc.constantFrom("running", "completed", "failed", "cancelled"), json),
        startedAt: timestamp,
        finishedAt: timestamp,
        creditsConsumed: fc.oneof(fc.double(), json),
        rating: fc.oneof(fc.integer({ min: -2, max: 7 }), json),
        stages: fc.oneof(
          fc.array(
            fc.record(
              { name: fc.string({ maxLength: 5 }), promptTokens: fc.oneof(fc.integer(), json) },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          json,
        ),
        provider: fc.oneof(fc.string({ maxLength: 10 }), json),
        model: fc.oneof(fc.constantFrom("gpt-4o", "claude-3-haiku", "unknown-model"), json),
        promptTokens: fc.oneof(fc.integer({ min: -5, max: 2_000_000_000 }), json),
        completionTokens: fc.oneof(fc.nat(), json),
        costUsd: fc.oneof(fc.double({ min: -1, max: 2e6, noNaN: true }), json),
        latencyMs: fc.oneof(fc.nat(), json),
      },
      { requiredKeys: [] },
    );
    const item = fc.oneof(
      fc.record(
        {
          id: fc.oneof(fc.string({ minLength: 1, maxLength: 12, unit: "binary" }), json),
          type: fc.oneof(fc.constantFrom("activity", "run", "llm_call"), json),
          timestamp,
          body: fc.oneof(body, json),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const payload = fc.oneof(
      { weight: 6, arbitrary: fc.record({ batch: fc.array(item, { maxLength: 12 }) }).map((p) => JSON.stringify(p)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 50, unit: "binary" }) },
    );
    const before = await rowCounts(workspaceB);
    const created = { activity: 0, llm_call: 0, runIds: new Set<string>(), events: 0 };
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (raw) => {
        requests++;
        const res = await post(keyB, raw);
        expect(res.status).toBeLessThan(500);
        expect([207, 400, 413]).toContain(res.status);
        if (res.status !== 207) return;
        const sent = JSON.parse(raw) as { batch: { type: string; body: { runId: string } }[] };
        for (const success of (res.json?.successes ?? []) as { status: string; index: number }[]) {
          if (success.status !== "created") continue;
          created.events++;
          const item = sent.batch[success.index];
          if (item.type === "activity") created.activity++;
          else if (item.type === "llm_call") created.llm_call++;
          else created.runIds.add(item.body.runId);
        }
      }),
      { numRuns: 2000 },
    );
    expect(requests).toBe(2000);
    // Nothing half-written: exactly the items acknowledged as created have their rows and event ids.
    const after = await rowCounts(workspaceB);
    expect(after.events - before.events).toBe(created.events);
    expect(after.activity - before.activity).toBe(created.activity);
    expect(after.calls - before.calls).toBe(created.llm_call);
    const runsOfB = await db.owner.query<{ n: string }>(
      "SELECT count(*) AS n FROM public.agent_runs WHERE workspace_id = $1 AND external_id = ANY ($2)",
      [workspaceB, [...created.runIds]],
    );
    expect(Number(runsOfB.rows[0].n)).toBe(created.runIds.size);
    expect(after.runs - before.runs).toBe(created.runIds.size);
    // Every dirty hour of B is an hour that holds a row of B.
    const orphanHours = await db.owner.query<{ n: string }>(
      `SELECT count(*) AS n FROM analytics.rollup_dirty_hours h WHERE h.workspace_id = $1 AND NOT EXISTS (
         SELECT 1 FROM analytics.user_activity a WHERE a.workspace_id = h.workspace_id AND date_trunc('hour', a.created_at, 'UTC') = h.hour
         UNION ALL SELECT 1 FROM public.llm_usage_logs l WHERE l.workspace_id = h.workspace_id AND date_trunc('hour', l.created_at, 'UTC') = h.hour
         UNION ALL SELECT 1 FROM public.agent_runs r WHERE r.workspace_id = h.workspace_id
                   AND h.hour IN (date_trunc('hour', r.started_at, 'UTC'), date_trunc('hour', r.finished_at, 'UTC')))`,
      [workspaceB],
    );
    expect(Number(orphanHours.rows[0].n)).toBe(0);
  }, 600_000);
});
