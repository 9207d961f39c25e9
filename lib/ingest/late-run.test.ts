import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { handleIngestRequest } from "./handler";
import { serveFetchHandler } from "./test-server";
import { createKey, createWorkspace } from "./test-fixtures";

/** A model call may arrive before its run (migration 0096): it waits, then links when the run does. */
let db: TestDatabase;
let workspaceId: string;
let otherWorkspaceId: string;
let key: string;
let otherKey: string;
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = await createWorkspace(db.owner, "late-run");
  otherWorkspaceId = await createWorkspace(db.owner, "late-run-other");
  key = await createKey(db.owner, workspaceId);
  otherKey = await createKey(db.owner, otherWorkspaceId);
  server = await serveFetchHandler((request) => handleIngestRequest(request, { db: db.appPrisma }));
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

async function ingest(apiKey: string, batch: unknown[]) {
  const response = await fetch(`${server.url}/api/v1/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ batch }),
  });
  expect(response.status).toBe(207);
  const body = (await response.json()) as { errors: unknown[] };
  expect(body.errors).toEqual([]);
}

const call = (id: string, runId: string | undefined, createdAt: string) => ({
  id,
  type: "llm_call",
  timestamp: createdAt,
  body: {
    runId,
    userId: "u1",
    provider: "openai",
    model: "gpt-4o",
    promptTokens: 100,
    completionTokens: 10,
    latencyMs: 50,
  },
});
const run = (id: string, runId: string, startedAt: string) => ({
  id,
  type: "run",
  timestamp: startedAt,
  body: { runId, agentId: "writer", userId: "u1", status: "completed", startedAt, finishedAt: startedAt },
});

type CallRow = { id: string; run_ext: string | null; agent: string | null; pending: string | null };
async function calls(ws: string): Promise<CallRow[]> {
  const { rows } = await db.owner.query<CallRow>(
    `SELECT l.id::text, k.external_id AS run_ext, a.external_id AS agent, l.pending_run_external_id AS pending
       FROM public.llm_usage_logs l
       LEFT JOIN public.agent_run_keys k ON k.workspace_id = l.workspace_id AND k.run_id = l.run_id
       LEFT JOIN public.agents a ON a.workspace_id = l.workspace_id AND a.id = l.agent_id
      WHERE l.workspace_id = $1 ORDER BY l.created_at`,
    [ws],
  );
  return rows;
}

describe("LLM calls that arrive before their run", () => {
  it("wait with the run's id, link (run and agent) when the run arrives, and re-mark their hour dirty", async () => {
    await ingest(key, [call("c1", "run-1", "2026-03-01T10:15:00Z"), call("c2", "run-1", "2026-03-01T12:40:00Z")]);
    expect((await calls(workspaceId)).map(({ run_ext, agent, pending }) => ({ run_ext, agent, pending }))).toEqual([
      { run_ext: null, agent: null, pending: "run-1" },
      { run_ext: null, agent: null, pending: "run-1" },
    ]);

    // The rollup engine consumed the calls' hours in the meantime.
    await db.owner.query("DELETE FROM analytics.rollup_dirty_hours WHERE workspace_id = $1", [workspaceId]);
    await ingest(key, [run("r1", "run-1", "2026-03-01T10:00:00Z")]);
    expect((await calls(workspaceId)).map(({ run_ext, agent, pending }) => ({ run_ext, agent, pending }))).toEqual([
      { run_ext: "run-1", agent: "writer", pending: null },
      { run_ext: "run-1", agent: "writer", pending: null },
    ]);
    const dirty = await db.owner.query<{ hour: string }>(
      "SELECT to_char(hour AT TIME ZONE 'UTC', 'HH24') AS hour FROM analytics.rollup_dirty_hours WHERE workspace_id = $1 ORDER BY 1",
      [workspaceId],
    );
    expect(dirty.rows.map((row) => row.hour)).toEqual(["10", "12"]);
  });

  it("a call whose run is already known is linked at once and waits for nothing", async () => {
    await ingest(key, [call("c3", "run-1", "2026-03-01T10:30:00Z")]);
    const rows = await calls(workspaceId);
    expect(rows.at(-1)).toMatchObject({ run_ext: "run-1", pending: null });
  });

  it("a call without a run, or in another workspace, is never linked to this workspace's run", async () => {
    await ingest(otherKey, [call("c1", "run-2", "2026-03-01T11:00:00Z")]);
    await ingest(key, [call("c4", undefined, "2026-03-01T11:00:00Z"), run("r2", "run-2", "2026-03-01T11:00:00Z")]);
    expect((await calls(otherWorkspaceId)).map(({ run_ext, pending }) => ({ run_ext, pending }))).toEqual([
      { run_ext: null, pending: "run-2" },
    ]);
    expect((await calls(workspaceId)).find((row) => row.run_ext === null)).toMatchObject({ pending: null });
  });

  it("a second event of an existing run does not disturb calls linked to it", async () => {
    await ingest(key, [run("r1-again", "run-1", "2026-03-01T10:00:00Z")]);
    const rows = await calls(workspaceId);
    expect(rows.filter((row) => row.run_ext === "run-1")).toHaveLength(3);
  });
});
