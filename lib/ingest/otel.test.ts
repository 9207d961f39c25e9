import { context, trace, SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@/lib/testing/db";
import { handleOtelTracesRequest } from "./otel";
import { serveFetchHandler } from "./test-server";
import { createKey, createWorkspace } from "./test-fixtures";

let db: TestDatabase;
let workspaceId: string;
let key: string;
let server: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = await createWorkspace(db.owner, "otel");
  key = await createKey(db.owner, workspaceId, ["ingest"]);
  server = await serveFetchHandler((request) => handleOtelTracesRequest(request, { db: db.appPrisma }));
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

describe("POST /api/v1/otel/v1/traces", () => {
  it("stores GenAI spans sent by the real OpenTelemetry SDK and protobuf exporter, once", async () => {
    const exporter = new OTLPTraceExporter({
      url: `${server.url}/api/v1/otel/v1/traces`,
      headers: { Authorization: `Bearer ${key}` },
    });
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": "agent-platform", "enduser.id": "resource-user" }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("test");
    const agent = tracer.startSpan("invoke_agent Researcher", {
      attributes: {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.id": "researcher",
        "gen_ai.agent.name": "Researcher",
        "user.id": "user-42",
      },
    });
    const agentContext = trace.setSpan(context.active(), agent);
    const chat = tracer.startSpan(
      "chat gpt-4o",
      {
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "gpt-4o",
          "gen_ai.response.model": "gpt-4o-2024-08-06",
          "gen_ai.usage.input_tokens": 1000,
          "gen_ai.usage.output_tokens": 200,
          "gen_ai.response.finish_reasons": ["stop"],
        },
      },
      agentContext,
    );
    chat.end();
    const failing = tracer.startSpan(
      "chat claude",
      {
        attributes: {
          "gen_ai.operation.name": "chat",
          "gen_ai.system": "anthropic",
          "gen_ai.request.model": "claude-3-haiku",
          "gen_ai.usage.input_tokens": 10,
          "error.type": "timeout",
        },
      },
      agentContext,
    );
    failing.setStatus({ code: SpanStatusCode.ERROR, message: "timed out" });
    failing.end();
    tracer.startSpan("not genai").end();
    agent.end();
    await provider.forceFlush();

    const runs = await db.owner.query(
      `SELECT r.status, a.external_id AS agent, a.name, u.external_id AS user_id, r.external_id
         FROM public.agent_runs r JOIN public.agents a ON a.id = r.agent_id JOIN public.users u ON u.id = r.user_id`,
    );
    expect(runs.rows).toEqual([
      {
        status: "completed",
        agent: "researcher",
        name: "Researcher",
        user_id: "user-42",
        external_id: `otel:${agent.spanContext().traceId}:${agent.spanContext().spanId}`,
      },
    ]);
    const calls = await db.owner.query(
      `SELECT l.provider, l.model, l.prompt_tokens, l.completion_tokens, l.total_cost_usd::text, l.success, l.error_type,
              l.finish_reason, u.external_id AS user_id, l.run_id IS NOT NULL AS linked
         FROM public.llm_usage_logs l JOIN public.users u ON u.id = l.user_id ORDER BY l.model`,
    );
    expect(calls.rows).toEqual([
      // 1000 × $0.25/1M + 0 × $1.25/1M
      {
        provider: "anthropic",
        model: "claude-3-haiku",
        prompt_tokens: 10,
        completion_tokens: 0,
        total_cost_usd: "0.00000250",
        success: false,
        error_type: "timeout",
        finish_reason: null,
        user_id: "user-42",
        linked: true,
      },
      // 1000 × $2.50/1M + 200 × $10/1M
      {
        provider: "openai",
        model: "gpt-4o-2024-08-06",
        prompt_tokens: 1000,
        completion_tokens: 200,
        total_cost_usd: "0.00450000",
        success: true,
        error_type: null,
        finish_reason: "stop",
        user_id: "user-42",
        linked: true,
      },
    ]);

    // The same spans exported again are duplicates (span id is the event id).
    const resend = await fetch(`${server.url}/api/v1/otel/v1/traces`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: chat.spanContext().traceId,
                    spanId: chat.spanContext().spanId,
                    startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                    endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                    attributes: [
                      { key: "gen_ai.request.model", value: { stringValue: "gpt-4o" } },
                      { key: "gen_ai.usage.input_tokens", value: { intValue: "5" } },
                    ],
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    expect(resend.status).toBe(200);
    expect(await resend.json()).toEqual({});
    const count = await db.owner.query<{ n: string }>("SELECT count(*) AS n FROM public.llm_usage_logs");
    expect(Number(count.rows[0].n)).toBe(2);
    await provider.shutdown();
  });

  it("links a model call exported before its agent span (a later request) to the run once the agent arrives", async () => {
    const exporter = new OTLPTraceExporter({
      url: `${server.url}/api/v1/otel/v1/traces`,
      headers: { Authorization: `Bearer ${key}` },
    });
    const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
    const tracer = provider.getTracer("test");
    const agent = tracer.startSpan("invoke_agent Planner", {
      attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "planner", "user.id": "user-7" },
    });
    const agentContext = trace.setSpan(context.active(), agent);
    // A tool span between the agent and the call: the call's run is its first ancestor missing from the request.
    const tool = tracer.startSpan("execute_tool search", {}, agentContext);
    const call = tracer.startSpan(
      "chat claude",
      {
        attributes: {
          "gen_ai.provider.name": "anthropic",
          "gen_ai.request.model": "claude-sonnet-4",
          "gen_ai.usage.input_tokens": 300,
          "gen_ai.usage.output_tokens": 30,
          "user.id": "user-7",
        },
      },
      trace.setSpan(context.active(), tool),
    );
    call.end();
    tool.end();
    await provider.forceFlush(); // request 1: the call and the tool span, no agent yet
    const pending = await db.owner.query<{ run_id: string | null; agent_id: string | null }>(
      "SELECT run_id, agent_id FROM public.llm_usage_logs WHERE model = 'claude-sonnet-4'",
    );
    expect(pending.rows).toEqual([{ run_id: null, agent_id: null }]);

    agent.end();
    await provider.forceFlush(); // request 2: the agent span alone
    const linked = await db.owner.query<{ linked: boolean; agent: string }>(
      `SELECT l.run_id = r.id AS linked, a.external_id AS agent
         FROM public.llm_usage_logs l
         JOIN public.agent_runs r ON r.workspace_id = l.workspace_id AND r.external_id = $1
         JOIN public.agents a ON a.workspace_id = l.workspace_id AND a.id = l.agent_id
        WHERE l.model = 'claude-sonnet-4'`,
      [`otel:${agent.spanContext().traceId}:${agent.spanContext().spanId}`],
    );
    expect(linked.rows).toEqual([{ linked: true, agent: "planner" }]);
    await provider.shutdown();
  });

  it("rejects bad OTLP with 400, a bad key with 401, and reports invalid spans as partial success", async () => {
    const post = (body: string | Uint8Array<ArrayBuffer>, type: string, auth = `Bearer ${key}`) =>
      fetch(`${server.url}/api/v1/otel/v1/traces`, {
        method: "POST",
        headers: { authorization: auth, "content-type": type },
        body,
      });
    expect(
      (await post(new Uint8Array([0xff, 0xff, 0xff]) as Uint8Array<ArrayBuffer>, "application/x-protobuf")).status,
    ).toBe(400);
    expect((await post("{", "application/json")).status).toBe(400);
    expect((await post("{}", "application/json", "Bearer nope")).status).toBe(401);
    const partial = await post(
      JSON.stringify({
        resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "xyz", spanId: "1", startTimeUnixNano: "1" }] }] }],
      }),
      "application/json",
    );
    expect(partial.status).toBe(200);
    expect(await partial.json()).toMatchObject({ partialSuccess: { rejectedSpans: "1" } });
  });
});
