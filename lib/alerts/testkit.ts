/**
 * Real receivers on loopback for the alert tests: an HTTP server that records every request and
 * answers from a script, and an SMTP server (the `smtp-server` package) that records every message.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import { SMTPServer } from "smtp-server";

export type ReceivedRequest = { path: string; headers: http.IncomingHttpHeaders; body: string };

export type HttpReceiver = {
  url: (path: string) => string;
  requests: ReceivedRequest[];
  /** Status codes to answer on `path`, consumed in order; afterwards 200. */
  script: (path: string, statuses: number[]) => void;
  close: () => Promise<void>;
};

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const scripts = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const status = scripts.get(path)?.shift() ?? 200;
      if (status >= 300 && status < 400) res.setHeader("location", "http://127.0.0.1:1/elsewhere");
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : `status ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    script: (path, statuses) => scripts.set(path, [...statuses]),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export type ReceivedMail = { from: string; to: string[]; raw: string };

export async function startSmtpReceiver(): Promise<{
  port: number;
  messages: ReceivedMail[];
  close: () => Promise<void>;
}> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, messages, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A workspace (UTC) with `userCount` tracked users and one agent; ids returned. */
export async function createAlertWorld(owner: pg.Pool, slug: string, userCount = 2) {
  const ws = await owner.query<{ id: string }>(
    `INSERT INTO public.workspaces (slug, name, timezone) VALUES ($1, $1, 'UTC') RETURNING id::text`,
    [slug],
  );
  const workspaceId = ws.rows[0].id;
  const users = await owner.query<{ id: string }>(
    `INSERT INTO public.users (workspace_id, external_id, name)
     SELECT $1, 'user-' || i, 'User ' || i FROM generate_series(1, $2::int) i ORDER BY i RETURNING id::text`,
    [workspaceId, userCount],
  );
  const agent = await owner.query<{ id: string }>(
    `INSERT INTO public.agents (workspace_id, external_id, name) VALUES ($1, 'agent-1', 'Agent 1') RETURNING id::text`,
    [workspaceId],
  );
  const account = await owner.query<{ id: string }>(
    `INSERT INTO public.accounts (email, name) VALUES ($1, 'Owner') RETURNING id::text`,
    [`owner@${slug}.test`],
  );
  await owner.query(`INSERT INTO public.workspace_members (workspace_id, account_id, role) VALUES ($1, $2, 'owner')`, [
    workspaceId,
    account.rows[0].id,
  ]);
  return {
    workspaceId,
    userIds: users.rows.map((r) => r.id),
    agentId: agent.rows[0].id,
    ownerAccountId: account.rows[0].id,
  };
}

/** One priced LLM call at `at`, marking its hour dirty exactly as ingest does. */
export async function insertLlmCall(
  owner: pg.Pool,
  args: {
    workspaceId: string;
    userId: string;
    agentId: string;
    at: Date;
    costUsd: number;
    tokens?: number;
    latencyMs?: number;
  },
) {
  await owner.query(
    `INSERT INTO public.llm_usage_logs (workspace_id, agent_id, user_id, provider, model, prompt_tokens, completion_tokens,
       total_cost_usd, cost_source, latency_ms, created_at)
     VALUES ($1, $2, $3, 'openai', 'gpt-4o', $4, 0, $5, 'reported', $7, $6)`,
    [args.workspaceId, args.agentId, args.userId, args.tokens ?? 100, args.costUsd, args.at, args.latencyMs ?? 100],
  );
  await owner.query(
    `INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour) VALUES ($1, date_trunc('hour', $2::timestamptz, 'UTC'))
     ON CONFLICT DO NOTHING`,
    [args.workspaceId, args.at],
  );
}
