// Random raw worlds for the usage-rollup tests (dimensions, token usage, cohorts), the SQL to load
// them, and timezone helpers computed with Intl — independently of PostgreSQL's zone arithmetic —
// so the brute-force expectations in the tests do not share code with the SQL under test.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import type pg from "pg";

export const TIMEZONES = [
  "UTC",
  "America/New_York",
  "Europe/Berlin",
  "Asia/Kolkata",
  "Pacific/Chatham",
  "Australia/Lord_Howe",
];

// Instants near DST changes (US fall back 2026-11-01, EU spring forward 2026-03-29) and month ends.
export const ANCHORS = [
  Date.UTC(2026, 10, 1, 6, 0, 0),
  Date.UTC(2026, 2, 29, 1, 0, 0),
  Date.UTC(2026, 0, 31, 23, 0, 0),
  Date.UTC(2026, 9, 4, 15, 0, 0),
];

export type RawRun = {
  id: string;
  userIndex: number;
  agentIndex: number;
  status: "running" | "completed" | "failed" | "cancelled";
  startedAt: number;
  runtimeMs: number | null;
  creditsUnits: number; // ten-thousandths
  model: string | null;
  errorType: string | null;
  rating: number | null;
};
export type RawStage = {
  runIndex: number;
  name: string;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  costNanos: number | null; // 1e-8 USD
  durationMs: number | null;
  status: "running" | "completed" | "failed" | "skipped";
};
export type RawCall = {
  userIndex: number;
  agentIndex: number | null;
  runIndex: number | null;
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  costNanos: number | null;
  latencyMs: number;
  success: boolean;
  errorType: string | null;
  at: number;
};
export type World = {
  timezone: string;
  users: { id: string; createdAt: number }[];
  agents: { id: string }[];
  runs: RawRun[];
  stages: RawStage[];
  calls: RawCall[];
};

const HOUR = 3_600_000;
const at = (anchor: number) => fc.integer({ min: -40 * 3600, max: 40 * 3600 }).map((s) => anchor + s * 1000);

export function worldArbitrary(): fc.Arbitrary<World> {
  return fc
    .record({
      timezone: fc.constantFrom(...TIMEZONES),
      anchor: fc.constantFrom(...ANCHORS),
      userCount: fc.integer({ min: 1, max: 4 }),
      agentCount: fc.integer({ min: 1, max: 3 }),
    })
    .chain(({ timezone, anchor, userCount, agentCount }) => {
      const run = fc.record({
        userIndex: fc.nat(userCount - 1),
        agentIndex: fc.nat(agentCount - 1),
        status: fc.constantFrom("running", "completed", "failed", "cancelled") as fc.Arbitrary<RawRun["status"]>,
        startedAt: at(anchor),
        runtimeMs: fc.option(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4_000_000 })), { nil: null }),
        creditsUnits: fc.integer({ min: 0, max: 5_000_000 }),
        model: fc.option(fc.constantFrom("gpt-4o", "claude-3-5-sonnet"), { nil: null }),
        errorType: fc.option(fc.constantFrom("timeout", "rate_limit"), { nil: null }),
        rating: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
      });
      return fc.record({
        timezone: fc.constant(timezone),
        users: fc
          .array(at(anchor - 30 * HOUR), { minLength: userCount, maxLength: userCount })
          .map((times) => times.map((createdAt) => ({ id: randomUUID(), createdAt }))),
        agents: fc.constant(Array.from({ length: agentCount }, () => ({ id: randomUUID() }))),
        runs: fc
          .array(run, { minLength: 1, maxLength: 25 })
          .map((runs) =>
            runs.map((r) => ({ ...r, id: randomUUID(), runtimeMs: r.status === "running" ? null : r.runtimeMs })),
          ),
        anchor: fc.constant(anchor),
        userCount: fc.constant(userCount),
        agentCount: fc.constant(agentCount),
      });
    })
    .chain((w) => {
      const stage = fc.record({
        runIndex: fc.nat(w.runs.length - 1),
        name: fc.constantFrom("retrieve", "extract", "validate"),
        model: fc.option(fc.constantFrom("gpt-4o", "claude-3-5-sonnet"), { nil: null }),
        promptTokens: fc.integer({ min: 0, max: 50_000 }),
        completionTokens: fc.integer({ min: 0, max: 20_000 }),
        costNanos: fc.option(fc.integer({ min: 0, max: 500_000_000 }), { nil: null }),
        durationMs: fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: null }),
        status: fc.constantFrom("running", "completed", "failed", "skipped") as fc.Arbitrary<RawStage["status"]>,
      });
      const call = fc.record({
        userIndex: fc.nat(w.userCount - 1),
        agentIndex: fc.option(fc.nat(w.agentCount - 1), { nil: null }),
        runIndex: fc.option(fc.nat(w.runs.length - 1), { nil: null }),
        provider: fc.constantFrom("openai", "anthropic"),
        model: fc.constantFrom("gpt-4o", "claude-3-5-sonnet"),
        promptTokens: fc.integer({ min: 0, max: 50_000 }),
        completionTokens: fc.integer({ min: 0, max: 20_000 }),
        costNanos: fc.option(fc.integer({ min: 0, max: 500_000_000 }), { nil: null }),
        latencyMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120_000 })),
        success: fc.boolean(),
        errorType: fc.option(fc.constantFrom("timeout", "rate_limit"), { nil: null }),
        at: at(w.anchor),
      });
      return fc.record({
        timezone: fc.constant(w.timezone),
        users: fc.constant(w.users),
        agents: fc.constant(w.agents),
        runs: fc.constant(w.runs),
        // A run has at most one stage per index: the stage index is the stage's position per run.
        stages: fc.array(stage, { maxLength: 20 }),
        calls: fc.array(call, { minLength: 1, maxLength: 40 }),
      });
    });
}

/** Loads a world into a fresh workspace; returns its id. */
export async function loadWorld(pool: pg.Pool, world: World): Promise<string> {
  const workspaceId = randomUUID();
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO public.workspaces (id, slug, name, timezone) VALUES ($1, $2, 'Test', $3)", [
      workspaceId,
      `ws-${workspaceId}`,
      world.timezone,
    ]);
    await client.query(
      `INSERT INTO public.users (workspace_id, id, external_id, created_at)
       SELECT $1, u.id, u.id::text, u.created_at FROM jsonb_to_recordset($2::jsonb) AS u(id uuid, created_at timestamptz)`,
      [
        workspaceId,
        JSON.stringify(world.users.map((u) => ({ id: u.id, created_at: new Date(u.createdAt).toISOString() }))),
      ],
    );
    await client.query(
      `INSERT INTO public.agents (workspace_id, id, external_id, name)
       SELECT $1, a.id, a.id::text, 'agent' FROM jsonb_to_recordset($2::jsonb) AS a(id uuid)`,
      [workspaceId, JSON.stringify(world.agents)],
    );
    const runs = world.runs.map((r) => ({
      id: r.id,
      agent_id: world.agents[r.agentIndex].id,
      user_id: world.users[r.userIndex].id,
      status: r.status,
      started_at: new Date(r.startedAt).toISOString(),
      finished_at: r.runtimeMs === null ? null : new Date(r.startedAt + r.runtimeMs).toISOString(),
      runtime_seconds: r.runtimeMs === null ? null : (r.runtimeMs / 1000).toFixed(3),
      credits_consumed: (r.creditsUnits / 10_000).toFixed(4),
      model: r.model,
      error_type: r.errorType,
      rating: r.rating,
    }));
    await client.query(
      `INSERT INTO public.agent_runs (workspace_id, id, external_id, agent_id, user_id, status, started_at, finished_at,
                                      runtime_seconds, credits_consumed, model, error_type, rating)
       SELECT $1, r.id, r.id::text, r.agent_id, r.user_id, r.status, r.started_at, r.finished_at, r.runtime_seconds,
              r.credits_consumed, r.model, r.error_type, r.rating
       FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, agent_id uuid, user_id uuid, status text, started_at timestamptz,
            finished_at timestamptz, runtime_seconds numeric, credits_consumed numeric, model text, error_type text, rating smallint)`,
      [workspaceId, JSON.stringify(runs)],
    );
    const stages = world.stages.map((s, index) => ({
      run_id: world.runs[s.runIndex].id,
      stage_index: index,
      name: s.name,
      model: s.model,
      prompt_tokens: s.promptTokens,
      completion_tokens: s.completionTokens,
      cost_usd: s.costNanos === null ? null : (s.costNanos / 1e8).toFixed(8),
      duration_ms: s.durationMs,
      status: s.status,
      started_at: new Date(world.runs[s.runIndex].startedAt).toISOString(),
    }));
    await client.query(
      `INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, model, prompt_tokens, completion_tokens,
                                      cost_usd, duration_ms, status, started_at)
       SELECT $1, s.run_id, s.stage_index, s.name, s.model, s.prompt_tokens, s.completion_tokens, s.cost_usd,
              s.duration_ms, s.status, s.started_at
       FROM jsonb_to_recordset($2::jsonb) AS s(run_id uuid, stage_index int, name text, model text, prompt_tokens int,
            completion_tokens int, cost_usd numeric, duration_ms int, status text, started_at timestamptz)`,
      [workspaceId, JSON.stringify(stages)],
    );
    const calls = world.calls.map((c) => ({
      run_id: c.runIndex === null ? null : world.runs[c.runIndex].id,
      agent_id: c.agentIndex === null ? null : world.agents[c.agentIndex].id,
      user_id: world.users[c.userIndex].id,
      provider: c.provider,
      model: c.model,
      prompt_tokens: c.promptTokens,
      completion_tokens: c.completionTokens,
      total_cost_usd: c.costNanos === null ? null : (c.costNanos / 1e8).toFixed(8),
      cost_source: c.costNanos === null ? "unpriced" : "reported",
      latency_ms: c.latencyMs,
      success: c.success,
      error_type: c.errorType,
      created_at: new Date(c.at).toISOString(),
    }));
    await client.query(
      `INSERT INTO public.llm_usage_logs (workspace_id, run_id, agent_id, user_id, provider, model, prompt_tokens,
                                          completion_tokens, total_cost_usd, cost_source, latency_ms, success, error_type, created_at)
       SELECT $1, c.run_id, c.agent_id, c.user_id, c.provider, c.model, c.prompt_tokens, c.completion_tokens,
              c.total_cost_usd, c.cost_source, c.latency_ms, c.success, c.error_type, c.created_at
       FROM jsonb_to_recordset($2::jsonb) AS c(run_id uuid, agent_id uuid, user_id uuid, provider text, model text,
            prompt_tokens int, completion_tokens int, total_cost_usd numeric, cost_source text, latency_ms int,
            success boolean, error_type text, created_at timestamptz)`,
      [workspaceId, JSON.stringify(calls)],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
  return workspaceId;
}

type LocalParts = { year: number; month: number; day: number; hour: number; minute: number; second: number };
const formatters = new Map<string, Intl.DateTimeFormat>();
export function localParts(ms: number, timezone: string): LocalParts {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timezone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

const pad = (n: number) => String(n).padStart(2, "0");
/** Workspace-local calendar day as YYYY-MM-DD. */
export function localDay(ms: number, timezone: string): string {
  const p = localParts(ms, timezone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}
/** The instant the local hour holding `ms` began (whole seconds in, whole seconds out). */
export function localHourStart(ms: number, timezone: string): number {
  const p = localParts(ms, timezone);
  return ms - (p.minute * 60 + p.second) * 1000;
}
/** Calendar arithmetic on YYYY-MM-DD strings (UTC-based, no zone involved). */
export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
export function isoWeekStart(day: string): string {
  const weekday = (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday = 0
  return addDays(day, -weekday);
}
export function monthStart(day: string): string {
  return `${day.slice(0, 7)}-01`;
}
export function addMonths(day: string, months: number): string {
  const d = new Date(`${day.slice(0, 7)}-01T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
}

/** Log-histogram key of a value in ms, as the migration defines it (α = 1 %). */
export const HIST_ALPHA = 0.01;
export function histKey(valueMs: number): number {
  return valueMs <= 0 ? -32768 : Math.ceil(Math.log(valueMs) / Math.log((1 + HIST_ALPHA) / (1 - HIST_ALPHA)));
}
/** Sorted keys and their counts. */
export function histogram(values: number[]): { keys: number[]; counts: number[] } {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(histKey(v), (counts.get(histKey(v)) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => a - b);
  return { keys, counts: keys.map((k) => counts.get(k) ?? 0) };
}
/** percentile_cont over plain values. */
export function percentileCont(values: number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = fraction * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Groups items by a key built from their fields (JSON of a tuple), keeping insertion order. */
export function groupBy<T>(items: T[], key: (item: T) => unknown[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = JSON.stringify(key(item));
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
