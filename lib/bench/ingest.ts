import { randomUUID } from "node:crypto";
import { generateApiKey } from "@/lib/api-keys/keys";
import { prismaFor } from "@/lib/db/prisma";
import { handleIngestRequest } from "@/lib/ingest/handler";
import { serveFetchHandler } from "@/lib/ingest/test-server";
import { CopyBuffer } from "@/lib/seed/copy";
import type { BenchContext, BenchResult, BenchScale } from "./types";

/**
 * Ingest throughput: events/s through the real HTTP API on loopback (auth, body limit, zod, dedupe,
 * bulk unnest writes, dirty hours, the token bucket) with batches of 1,000, against PostgreSQL's
 * raw COPY of the same rows into the same tables (the ceiling), and the ratio of the two.
 */
const EVENTS: Record<BenchScale, number> = { small: 20_000, medium: 100_000, large: 300_000 };
const BATCH = 1_000;
const CONCURRENCY = 4;
const USERS = 2_000;
const AGENTS = 25;

type Event = { id: string; type: "activity" | "run" | "llm_call"; timestamp: string; body: Record<string, unknown> };

/** A deterministic mix: 50% LLM calls, 40% activity, 10% runs with two stages each. */
function makeEvents(count: number, prefix: string): Event[] {
  const start = Date.UTC(2025, 0, 1);
  const models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "house-model"];
  const events: Event[] = [];
  for (let i = 0; i < count; i++) {
    const ts = new Date(start + i * 1_000).toISOString();
    const userId = `user-${i % USERS}`;
    const kind = i % 10;
    if (kind < 5) {
      events.push({
        id: `${prefix}-${i}`,
        type: "llm_call",
        timestamp: ts,
        body: {
          userId,
          agentId: `agent-${i % AGENTS}`,
          provider: "openai",
          model: models[i % models.length],
          promptTokens: 500 + (i % 977),
          completionTokens: 50 + (i % 311),
          latencyMs: 200 + (i % 1500),
        },
      });
    } else if (kind < 9) {
      events.push({
        id: `${prefix}-${i}`,
        type: "activity",
        timestamp: ts,
        body: { userId, eventType: "page_view", pagePath: `/p/${i % 50}`, metadata: { n: i % 7 } },
      });
    } else {
      events.push({
        id: `${prefix}-${i}`,
        type: "run",
        timestamp: ts,
        body: {
          runId: `${prefix}-run-${i}`,
          agentId: `agent-${i % AGENTS}`,
          userId,
          status: i % 20 === 9 ? "failed" : "completed",
          startedAt: ts,
          finishedAt: new Date(start + i * 1_000 + 4_321).toISOString(),
          creditsConsumed: 1.5,
          stages: [
            { name: "plan", model: "gpt-4o-mini", promptTokens: 300, completionTokens: 40 },
            { name: "answer", model: "gpt-4o", promptTokens: 900, completionTokens: 200 },
          ],
        },
      });
    }
  }
  return events;
}

async function createWorkspaceWithKey(ctx: BenchContext, slug: string): Promise<{ workspaceId: string; key: string }> {
  const { rows } = await ctx.owner.query<{ id: string }>(
    "INSERT INTO public.workspaces (slug, name) VALUES ($1, $1) RETURNING id",
    [slug],
  );
  const generated = generateApiKey();
  // The bench measures the write path, not the limiter: give the key a bucket it cannot empty.
  await ctx.owner.query(
    `INSERT INTO public.api_keys (workspace_id, name, prefix, secret_sha256, scopes, rate_limit_per_second, rate_limit_burst)
     VALUES ($1, 'bench', $2, $3, '{ingest}', 100000000, 100000000)`,
    [rows[0].id, generated.prefix, generated.secretSha256],
  );
  return { workspaceId: rows[0].id, key: generated.key };
}

async function countRows(ctx: BenchContext, workspaceId: string): Promise<number> {
  const { rows } = await ctx.owner.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM public.llm_usage_logs WHERE workspace_id = $1)
          + (SELECT count(*) FROM analytics.user_activity WHERE workspace_id = $1)
          + (SELECT count(*) FROM public.agent_runs WHERE workspace_id = $1) AS n`,
    [workspaceId],
  );
  return Number(rows[0].n);
}

async function benchHttp(ctx: BenchContext, events: Event[]): Promise<number> {
  const { workspaceId, key } = await createWorkspaceWithKey(ctx, `bench-ingest-http-${Date.now()}`);
  const db = prismaFor(ctx.appUrl, { max: CONCURRENCY + 2 });
  const server = await serveFetchHandler((request) => handleIngestRequest(request, { db }));
  const bodies: string[] = [];
  for (let i = 0; i < events.length; i += BATCH) bodies.push(JSON.stringify({ batch: events.slice(i, i + BATCH) }));
  const send = async (body: string) => {
    const response = await fetch(`${server.url}/api/v1/ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body,
    });
    const answer = (await response.json()) as { errors?: unknown[] };
    if (response.status !== 207 || (answer.errors?.length ?? 0) > 0) {
      throw new Error(`ingest bench: unexpected answer ${response.status} ${JSON.stringify(answer).slice(0, 300)}`);
    }
  };
  try {
    await send(JSON.stringify({ batch: makeEvents(10, "warmup") })); // JIT, pool, prepared plans
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) await send(bodies[next++]);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const stored = await countRows(ctx, workspaceId);
    if (stored !== events.length + 10)
      throw new Error(`ingest bench: stored ${stored} rows for ${events.length + 10} events`);
    return events.length / seconds;
  } finally {
    await server.close();
    await db.$disconnect();
  }
}

/** The same rows written with COPY by one connection: no HTTP, no validation, no dedupe lookups. */
async function benchCopy(ctx: BenchContext, events: Event[]): Promise<number> {
  const { workspaceId } = await createWorkspaceWithKey(ctx, `bench-ingest-copy-${Date.now()}`);
  const client = await ctx.owner.connect();
  try {
    const started = performance.now();
    const users = new CopyBuffer("public.users", ["workspace_id", "id", "external_id"]);
    const agents = new CopyBuffer("public.agents", ["workspace_id", "id", "external_id", "name"]);
    const runs = new CopyBuffer("public.agent_runs", [
      "workspace_id",
      "id",
      "external_id",
      "agent_id",
      "user_id",
      "status",
      "started_at",
      "finished_at",
      "runtime_seconds",
      "credits_consumed",
      "model",
    ]);
    const stages = new CopyBuffer("public.run_stages", [
      "workspace_id",
      "run_id",
      "stage_index",
      "name",
      "model",
      "prompt_tokens",
      "completion_tokens",
      "started_at",
    ]);
    const calls = new CopyBuffer("public.llm_usage_logs", [
      "workspace_id",
      "user_id",
      "agent_id",
      "provider",
      "model",
      "prompt_tokens",
      "completion_tokens",
      "input_cost_usd",
      "output_cost_usd",
      "total_cost_usd",
      "cost_source",
      "latency_ms",
      "created_at",
    ]);
    const activity = new CopyBuffer("analytics.user_activity", [
      "workspace_id",
      "user_id",
      "event_type",
      "page_path",
      "metadata",
      "created_at",
    ]);
    const eventIds = new CopyBuffer("public.ingest_events", ["workspace_id", "event_id"]);
    const userIds = new Map<string, string>();
    const agentIds = new Map<string, string>();
    const idOf = (map: Map<string, string>, buffer: CopyBuffer, external: string, withName: boolean) => {
      let id = map.get(external);
      if (!id) {
        id = randomUUID();
        map.set(external, id);
        buffer.push(withName ? [workspaceId, id, external, external] : [workspaceId, id, external]);
      }
      return id;
    };
    for (const event of events) {
      const b = event.body;
      const userId = idOf(userIds, users, String(b.userId), false);
      eventIds.push([workspaceId, event.id]);
      if (event.type === "llm_call") {
        const agentId = idOf(agentIds, agents, String(b.agentId), true);
        calls.push([
          workspaceId,
          userId,
          agentId,
          "openai",
          String(b.model),
          Number(b.promptTokens),
          Number(b.completionTokens),
          "0.001",
          "0.002",
          "0.003",
          "price_table",
          Number(b.latencyMs),
          event.timestamp,
        ]);
      } else if (event.type === "activity") {
        activity.push([
          workspaceId,
          userId,
          "page_view",
          String(b.pagePath),
          JSON.stringify(b.metadata),
          event.timestamp,
        ]);
      } else {
        const agentId = idOf(agentIds, agents, String(b.agentId), true);
        const runId = randomUUID();
        runs.push([
          workspaceId,
          runId,
          String(b.runId),
          agentId,
          userId,
          String(b.status),
          String(b.startedAt),
          String(b.finishedAt),
          4.321,
          1.5,
          "gpt-4o",
        ]);
        stages.push([workspaceId, runId, 0, "plan", "gpt-4o-mini", 300, 40, String(b.startedAt)]);
        stages.push([workspaceId, runId, 1, "answer", "gpt-4o", 900, 200, String(b.startedAt)]);
      }
    }
    await client.query("BEGIN");
    for (const buffer of [users, agents, runs, stages, calls, activity, eventIds]) await buffer.flush(client);
    await client.query("COMMIT");
    const seconds = (performance.now() - started) / 1000;
    return events.length / seconds;
  } finally {
    client.release();
  }
}

export async function benchIngest(ctx: BenchContext): Promise<BenchResult[]> {
  const count = EVENTS[ctx.scale];
  ctx.log(
    `ingest: ${count.toLocaleString()} events through POST /api/v1/ingest (batches of ${BATCH}, ${CONCURRENCY} concurrent) and through COPY`,
  );
  const http = await benchHttp(ctx, makeEvents(count, "http"));
  ctx.log(`ingest: HTTP API ${Math.round(http).toLocaleString()} events/s`);
  const copy = await benchCopy(ctx, makeEvents(count, "copy"));
  ctx.log(`ingest: raw COPY ${Math.round(copy).toLocaleString()} events/s`);
  const mix = "50% llm_call, 40% activity, 10% runs with 2 stages";
  return [
    {
      section: "ingest",
      name: "HTTP API, batches of 1,000 (loopback)",
      value: Math.round(http),
      unit: "events/s",
      target: "≥ 50,000 events/s",
      note: `${count.toLocaleString()} events, ${CONCURRENCY} concurrent requests; ${mix}`,
    },
    {
      section: "ingest",
      name: "raw COPY into the same tables (ceiling)",
      value: Math.round(copy),
      unit: "events/s",
      note: "one connection, one transaction, no validation or dedupe",
    },
    { section: "ingest", name: "HTTP API / raw COPY", value: Math.round((http / copy) * 100) / 100, unit: "x" },
  ];
}
