import type { Tx } from "@/lib/db/prisma";
import {
  FINAL_RUN_STATUSES,
  type ActivityItem,
  type IngestItem,
  type LlmCallItem,
  type RunItem,
  type RunStatus,
} from "./schemas";

/**
 * Writes validated, batch-unique items of one workspace in the caller's transaction (whose RLS
 * context is that workspace) in two statements: the event-id dedupe, then app.ingest_write_batch
 * (migration 0090), where every table gets one bulk `INSERT … SELECT` (plus one UPDATE for rows
 * that already existed), never a statement per row. Inputs are sorted by their natural key so
 * concurrent batches lock rows in the same order and cannot deadlock each other.
 */

export type IndexedItem = { index: number; item: IngestItem };
export type WriteOutcome = { created: number[]; duplicates: number[] };

type Text = string | null;

export async function writeItems(tx: Tx, workspaceId: string, items: IndexedItem[]): Promise<WriteOutcome> {
  if (items.length === 0) return { created: [], duplicates: [] };

  // 1. Dedupe by client event id: only ids inserted now are new; the rest were seen before.
  const eventIds = items.map(({ item }) => item.id).sort();
  const inserted = await tx.$queryRaw<{ event_id: string }[]>`
    INSERT INTO public.ingest_events (workspace_id, event_id)
    SELECT ${workspaceId}::uuid, e FROM unnest(${eventIds}::text[]) AS e ORDER BY e
    ON CONFLICT (workspace_id, event_id) DO NOTHING
    RETURNING event_id`;
  const fresh = new Set(inserted.map((row) => row.event_id));
  const created = items.filter(({ item }) => fresh.has(item.id));
  const duplicates = items.filter(({ item }) => !fresh.has(item.id)).map(({ index }) => index);
  if (created.length === 0) return { created: [], duplicates };

  const activities = created.map(({ item }) => item).filter((item): item is ActivityItem => item.type === "activity");
  const runs = created.map(({ item }) => item).filter((item): item is RunItem => item.type === "run");
  const calls = created.map(({ item }) => item).filter((item): item is LlmCallItem => item.type === "llm_call");

  // 2. Everything else in one server-side call (migration 0090): the same statements as one round
  // trip, rows passed as JSON documents (cheaper to encode than ~50 text[] parameters).
  const users = userRows(created.map(({ item }) => item));
  const mergedRuns = mergeRuns(runs);
  await tx.$executeRaw`
    SELECT app.ingest_write_batch(${workspaceId}::uuid, ${JSON.stringify(users.rows)}::jsonb,
                                  ${JSON.stringify(agentRows(runs, calls))}::jsonb,
                                  ${JSON.stringify(mergedRuns.map(runRow))}::jsonb,
                                  ${JSON.stringify(stageRows(mergedRuns))}::jsonb,
                                  ${JSON.stringify(calls.map(callRow))}::jsonb,
                                  ${JSON.stringify(activities.map(activityRow))}::jsonb,
                                  ${users.withEmail}::text[])`;
  return { created: created.map(({ index }) => index), duplicates };
}

function timestampOf(item: IngestItem): string {
  return item.type === "run" ? item.body.startedAt : item.timestamp;
}

/** One row per user of the batch: the latest e-mail given, the earliest time seen. */
function userRows(items: IngestItem[]): {
  rows: { external_id: string; email: Text; first_seen: string }[];
  withEmail: string[];
} {
  const users = new Map<string, { email: Text; firstSeen: string }>();
  for (const item of items) {
    const { userId, userEmail } = item.body;
    const seen = timestampOf(item);
    const known = users.get(userId);
    if (!known) users.set(userId, { email: userEmail ?? null, firstSeen: seen });
    else {
      if (userEmail) known.email = userEmail;
      if (Date.parse(seen) < Date.parse(known.firstSeen)) known.firstSeen = seen;
    }
  }
  const rows = [...users.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, user]) => ({ external_id: id, email: user.email, first_seen: user.firstSeen }));
  return { rows, withEmail: rows.filter((row) => row.email).map((row) => row.external_id) };
}

/** One row per agent of the batch; a name given by any event wins over none. */
function agentRows(runs: RunItem[], calls: LlmCallItem[]): { external_id: string; name: Text }[] {
  const agents = new Map<string, Text>();
  for (const { body } of [...runs, ...calls]) {
    if (!body.agentId) continue;
    const name = body.agentName ?? null;
    if (!agents.has(body.agentId) || name) agents.set(body.agentId, name ?? agents.get(body.agentId) ?? null);
  }
  return [...agents.keys()].sort().map((id) => ({ external_id: id, name: agents.get(id) ?? null }));
}

type MergedRun = {
  runId: string;
  agentId: string;
  userId: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  creditsConsumed: number | null;
  model: string | null;
  errorType: string | null;
  errorMessage: string | null;
  rating: number | null;
  stages: NonNullable<RunItem["body"]["stages"]> | null;
};

const isFinal = (status: RunStatus) => FINAL_RUN_STATUSES.includes(status);

/**
 * Several events of one run in a batch collapse into one row, by the same rule the database update
 * applies: later events fill in details; a final status (and its finish time) never changes again.
 */
export function mergeRunEvents(events: RunItem[]): MergedRun {
  const ordered = [...events].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  let merged: MergedRun | null = null;
  for (const { body } of ordered) {
    const stages = body.stages ?? null;
    const model = stages ? mainModel(stages) : null;
    if (!merged) {
      merged = {
        runId: body.runId,
        agentId: body.agentId,
        userId: body.userId,
        status: body.status,
        startedAt: body.startedAt,
        finishedAt: body.finishedAt ?? null,
        creditsConsumed: body.creditsConsumed ?? null,
        model,
        errorType: body.errorType ?? null,
        errorMessage: body.errorMessage ?? null,
        rating: body.rating ?? null,
        stages,
      };
      continue;
    }
    const locked = isFinal(merged.status);
    merged = {
      ...merged,
      status: locked ? merged.status : body.status,
      finishedAt: locked ? merged.finishedAt : (body.finishedAt ?? null),
      creditsConsumed: body.creditsConsumed ?? merged.creditsConsumed,
      model: model ?? merged.model,
      errorType: body.errorType ?? merged.errorType,
      errorMessage: body.errorMessage ?? merged.errorMessage,
      rating: body.rating ?? merged.rating,
      stages: stages ?? merged.stages,
    };
  }
  if (!merged) throw new Error("mergeRunEvents needs at least one event");
  return merged;
}

/** The model that did most of a run's work (most tokens), for agent_runs.model. */
function mainModel(stages: NonNullable<RunItem["body"]["stages"]>): string | null {
  let best: { model: string; tokens: number } | null = null;
  for (const stage of stages) {
    if (!stage.model) continue;
    const tokens = (stage.promptTokens ?? 0) + (stage.completionTokens ?? 0);
    if (!best || tokens > best.tokens) best = { model: stage.model, tokens };
  }
  return best?.model ?? null;
}

/** Several events of one run in the batch collapse into one row; rows sorted by run id. */
function mergeRuns(runs: RunItem[]): MergedRun[] {
  const byRun = new Map<string, RunItem[]>();
  for (const run of runs) {
    const events = byRun.get(run.body.runId);
    if (events) events.push(run);
    else byRun.set(run.body.runId, [run]);
  }
  return [...byRun.keys()].sort().map((runId) => mergeRunEvents(byRun.get(runId) ?? []));
}

// Rows for app.ingest_write_batch (0090): keys are its jsonb_to_recordset column names; an
// undefined value drops the key, which the function reads as NULL.
function runRow(run: MergedRun) {
  return {
    run_id: run.runId,
    agent_ext: run.agentId,
    user_ext: run.userId,
    status: run.status,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    credits: run.creditsConsumed,
    model: run.model,
    error_type: run.errorType,
    error_message: run.errorMessage,
    rating: run.rating,
  };
}

function stageRows(runs: MergedRun[]) {
  return runs.flatMap((run) =>
    (run.stages ?? []).map((stage, stageIndex) => ({
      run_ext: run.runId,
      stage_index: stageIndex,
      name: stage.name,
      model: stage.model,
      prompt_tokens: stage.promptTokens,
      completion_tokens: stage.completionTokens,
      cost_usd: stage.costUsd,
      duration_ms: stage.durationMs,
      status: stage.status,
    })),
  );
}

function callRow({ body, timestamp }: LlmCallItem) {
  return {
    run_ext: body.runId,
    agent_ext: body.agentId,
    user_ext: body.userId,
    provider: body.provider.toLowerCase(),
    model: body.model.toLowerCase(),
    prompt_tokens: body.promptTokens,
    completion_tokens: body.completionTokens,
    cost: body.costUsd,
    latency_ms: body.latencyMs,
    ttft_ms: body.timeToFirstTokenMs,
    finish_reason: body.finishReason,
    success: body.success,
    error_type: body.errorType,
    created_at: timestamp,
  };
}

function activityRow({ body, timestamp }: ActivityItem) {
  return {
    user_ext: body.userId,
    event_type: body.eventType,
    event_name: body.eventName,
    page_path: body.pagePath,
    session_id: body.sessionId,
    ip_address: body.ipAddress,
    user_agent: body.userAgent,
    referrer: body.referrer,
    metadata: body.metadata,
    created_at: timestamp,
  };
}
