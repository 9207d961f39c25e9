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
 * context is that workspace). Every table gets one `INSERT … SELECT FROM unnest(…)` (plus one
 * UPDATE for rows that already existed), never a statement per row. Inputs are sorted by their
 * natural key so concurrent batches lock rows in the same order and cannot deadlock each other.
 *
 * Arrays travel as text[] and are cast in SQL, so a NULL element means "absent" for every type.
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

  const touched: Date[] = [];
  const userIds = await upsertUsers(
    tx,
    workspaceId,
    created.map(({ item }) => item),
  );
  await upsertAgents(tx, workspaceId, runs, calls);
  touched.push(...(await upsertRuns(tx, workspaceId, runs)));
  touched.push(...(await insertLlmCalls(tx, workspaceId, calls)));
  touched.push(...(await insertActivities(tx, workspaceId, activities)));
  if (userIds.withEmail.length > 0) {
    await tx.$queryRaw`SELECT app.link_tracked_users_to_accounts(${userIds.withEmail}::text[])`;
  }
  // Last, so the hot (workspace, hour) rows are locked only for the moment before commit.
  await markDirtyHours(tx, workspaceId, touched);
  return { created: created.map(({ index }) => index), duplicates };
}

function timestampOf(item: IngestItem): string {
  return item.type === "run" ? item.body.startedAt : item.timestamp;
}

async function upsertUsers(tx: Tx, workspaceId: string, items: IngestItem[]): Promise<{ withEmail: string[] }> {
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
  const ids = [...users.keys()].sort();
  const emails = ids.map((id) => users.get(id)?.email ?? null);
  const firstSeen = ids.map((id) => users.get(id)?.firstSeen ?? null);
  await tx.$executeRaw`
    INSERT INTO public.users (workspace_id, external_id, email, created_at)
    SELECT ${workspaceId}::uuid, u.external_id, u.email, u.first_seen
      FROM unnest(${ids}::text[], ${emails}::text[], ${firstSeen}::text[]::timestamptz[]) AS u(external_id, email, first_seen)
     ORDER BY u.external_id
    ON CONFLICT (workspace_id, external_id) DO NOTHING`;
  // Only rows whose details changed are updated (an ON CONFLICT DO UPDATE would lock every row).
  const withEmail = ids.filter((id) => users.get(id)?.email);
  if (withEmail.length > 0) {
    await tx.$executeRaw`
      UPDATE public.users t SET email = u.email, created_at = least(t.created_at, u.first_seen), updated_at = now()
        FROM unnest(${ids}::text[], ${emails}::text[], ${firstSeen}::text[]::timestamptz[]) AS u(external_id, email, first_seen)
       WHERE t.workspace_id = ${workspaceId}::uuid AND t.external_id = u.external_id
         AND u.email IS NOT NULL AND t.email IS DISTINCT FROM u.email`;
  }
  return { withEmail };
}

async function upsertAgents(tx: Tx, workspaceId: string, runs: RunItem[], calls: LlmCallItem[]) {
  const agents = new Map<string, Text>();
  for (const { body } of [...runs, ...calls]) {
    if (!body.agentId) continue;
    const name = body.agentName ?? null;
    if (!agents.has(body.agentId) || name) agents.set(body.agentId, name ?? agents.get(body.agentId) ?? null);
  }
  if (agents.size === 0) return;
  const ids = [...agents.keys()].sort();
  const names = ids.map((id) => agents.get(id) ?? null);
  await tx.$executeRaw`
    INSERT INTO public.agents (workspace_id, external_id, name)
    SELECT ${workspaceId}::uuid, a.external_id, coalesce(a.name, a.external_id)
      FROM unnest(${ids}::text[], ${names}::text[]) AS a(external_id, name)
     ORDER BY a.external_id
    ON CONFLICT (workspace_id, external_id) DO NOTHING`;
  if (names.some((name) => name !== null)) {
    await tx.$executeRaw`
      UPDATE public.agents t SET name = a.name, updated_at = now()
        FROM unnest(${ids}::text[], ${names}::text[]) AS a(external_id, name)
       WHERE t.workspace_id = ${workspaceId}::uuid AND t.external_id = a.external_id
         AND a.name IS NOT NULL AND t.name <> a.name`;
  }
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

async function upsertRuns(tx: Tx, workspaceId: string, runs: RunItem[]): Promise<Date[]> {
  if (runs.length === 0) return [];
  const byRun = new Map<string, RunItem[]>();
  for (const run of runs) byRun.set(run.body.runId, [...(byRun.get(run.body.runId) ?? []), run]);
  const merged = [...byRun.keys()].sort().map((runId) => mergeRunEvents(byRun.get(runId) ?? []));

  const col = {
    runId: merged.map((r) => r.runId),
    agentId: merged.map((r) => r.agentId),
    userId: merged.map((r) => r.userId),
    status: merged.map((r) => r.status),
    startedAt: merged.map((r) => r.startedAt),
    finishedAt: merged.map((r) => r.finishedAt),
    credits: merged.map((r) => (r.creditsConsumed === null ? null : String(r.creditsConsumed))),
    model: merged.map((r) => r.model),
    errorType: merged.map((r) => r.errorType),
    errorMessage: merged.map((r) => r.errorMessage),
    rating: merged.map((r) => (r.rating === null ? null : String(r.rating))),
  };

  // New runs: inserted as they are. ON CONFLICT DO NOTHING waits for a concurrent inserter of the
  // same run to finish, so the UPDATE below (a new statement, a new snapshot) then sees its row.
  const insertedRows = await tx.$queryRaw<{ external_id: string; started_at: Date; finished_at: Date | null }[]>`
    INSERT INTO public.agent_runs (workspace_id, external_id, agent_id, user_id, status, started_at, finished_at,
                                   runtime_seconds, credits_consumed, model, error_type, error_message, rating)
    SELECT ${workspaceId}::uuid, i.run_id, a.id, u.id, i.status, i.started_at, i.finished_at,
           round(extract(epoch FROM i.finished_at - i.started_at), 3), coalesce(i.credits, 0), i.model,
           i.error_type, i.error_message, i.rating
      FROM unnest(${col.runId}::text[], ${col.agentId}::text[], ${col.userId}::text[], ${col.status}::text[],
                  ${col.startedAt}::text[]::timestamptz[], ${col.finishedAt}::text[]::timestamptz[],
                  ${col.credits}::text[]::numeric[], ${col.model}::text[], ${col.errorType}::text[],
                  ${col.errorMessage}::text[], ${col.rating}::text[]::smallint[])
           AS i(run_id, agent_ext, user_ext, status, started_at, finished_at, credits, model, error_type, error_message, rating)
      JOIN public.agents a ON a.workspace_id = ${workspaceId}::uuid AND a.external_id = i.agent_ext
      JOIN public.users u ON u.workspace_id = ${workspaceId}::uuid AND u.external_id = i.user_ext
     ORDER BY i.run_id
    ON CONFLICT (workspace_id, external_id) DO NOTHING
    RETURNING external_id, started_at, finished_at`;
  const insertedIds = insertedRows.map((row) => row.external_id);

  // Existing runs: a final status and its finish time stay; other details are filled in. The run's
  // own started_at is kept, so its hour (possibly long ago) is what gets marked dirty.
  const updatedRows = await tx.$queryRaw<{ started_at: Date; finished_at: Date | null }[]>`
    UPDATE public.agent_runs r SET
           status = CASE WHEN r.status = 'running' THEN i.status ELSE r.status END,
           finished_at = CASE WHEN r.status = 'running' THEN i.finished_at ELSE r.finished_at END,
           runtime_seconds = CASE WHEN r.status = 'running'
                                  THEN round(extract(epoch FROM i.finished_at - r.started_at), 3)
                                  ELSE r.runtime_seconds END,
           credits_consumed = coalesce(i.credits, r.credits_consumed),
           model = coalesce(i.model, r.model),
           error_type = coalesce(i.error_type, r.error_type),
           error_message = coalesce(i.error_message, r.error_message),
           rating = coalesce(i.rating, r.rating),
           updated_at = now()
      FROM unnest(${col.runId}::text[], ${col.status}::text[], ${col.finishedAt}::text[]::timestamptz[],
                  ${col.credits}::text[]::numeric[], ${col.model}::text[], ${col.errorType}::text[],
                  ${col.errorMessage}::text[], ${col.rating}::text[]::smallint[])
           AS i(run_id, status, finished_at, credits, model, error_type, error_message, rating)
     WHERE r.workspace_id = ${workspaceId}::uuid AND r.external_id = i.run_id
       AND NOT (i.run_id = ANY (${insertedIds}::text[]))
    RETURNING r.started_at, r.finished_at`;

  await upsertStages(tx, workspaceId, merged);

  const touched: Date[] = [];
  for (const row of [...insertedRows, ...updatedRows]) {
    touched.push(row.started_at);
    if (row.finished_at) touched.push(row.finished_at);
  }
  return touched;
}

async function upsertStages(tx: Tx, workspaceId: string, merged: MergedRun[]) {
  const rows = merged.flatMap((run) =>
    (run.stages ?? []).map((stage, stageIndex) => ({ runId: run.runId, stageIndex, stage })),
  );
  if (rows.length === 0) return;
  const str = (value: number | undefined) => (value === undefined ? null : String(value));
  await tx.$executeRaw`
    INSERT INTO public.run_stages (workspace_id, run_id, stage_index, name, model, prompt_tokens, completion_tokens,
                                   cost_usd, duration_ms, status, started_at)
    SELECT ${workspaceId}::uuid, r.id, s.stage_index, s.name, s.model, coalesce(s.prompt_tokens, 0),
           coalesce(s.completion_tokens, 0), s.cost_usd, s.duration_ms, coalesce(s.status, 'completed'), r.started_at
      FROM unnest(${rows.map((r) => r.runId)}::text[], ${rows.map((r) => String(r.stageIndex))}::text[]::int[],
                  ${rows.map((r) => r.stage.name)}::text[], ${rows.map((r) => r.stage.model ?? null)}::text[],
                  ${rows.map((r) => str(r.stage.promptTokens))}::text[]::int[],
                  ${rows.map((r) => str(r.stage.completionTokens))}::text[]::int[],
                  ${rows.map((r) => str(r.stage.costUsd))}::text[]::numeric[],
                  ${rows.map((r) => str(r.stage.durationMs))}::text[]::int[],
                  ${rows.map((r) => r.stage.status ?? null)}::text[])
           AS s(run_ext, stage_index, name, model, prompt_tokens, completion_tokens, cost_usd, duration_ms, status)
      JOIN public.agent_runs r ON r.workspace_id = ${workspaceId}::uuid AND r.external_id = s.run_ext
     ORDER BY r.id, s.stage_index
    ON CONFLICT (workspace_id, run_id, stage_index) DO UPDATE SET
           name = EXCLUDED.name, model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
           completion_tokens = EXCLUDED.completion_tokens, cost_usd = EXCLUDED.cost_usd,
           duration_ms = EXCLUDED.duration_ms, status = EXCLUDED.status`;
}

async function insertLlmCalls(tx: Tx, workspaceId: string, calls: LlmCallItem[]): Promise<Date[]> {
  if (calls.length === 0) return [];
  const str = (value: number | boolean | undefined) => (value === undefined ? null : String(value));
  const b = calls.map((call) => call.body);
  // Cost: the reported one, else the workspace's price in force at the call's time, else unknown
  // (NULL, "unpriced") — never a silent $0.
  const rows = await tx.$queryRaw<{ created_at: Date }[]>`
    WITH i AS (
      SELECT * FROM unnest(${b.map((c) => c.runId ?? null)}::text[], ${b.map((c) => c.agentId ?? null)}::text[],
                  ${b.map((c) => c.userId)}::text[], ${b.map((c) => c.provider.toLowerCase())}::text[],
                  ${b.map((c) => c.model.toLowerCase())}::text[], ${b.map((c) => String(c.promptTokens))}::text[]::int[],
                  ${b.map((c) => String(c.completionTokens))}::text[]::int[], ${b.map((c) => str(c.costUsd))}::text[]::numeric[],
                  ${b.map((c) => String(c.latencyMs))}::text[]::int[], ${b.map((c) => str(c.timeToFirstTokenMs))}::text[]::int[],
                  ${b.map((c) => c.finishReason ?? null)}::text[], ${b.map((c) => str(c.success))}::text[]::boolean[],
                  ${b.map((c) => c.errorType ?? null)}::text[], ${calls.map((c) => c.timestamp)}::text[]::timestamptz[])
           AS i(run_ext, agent_ext, user_ext, provider, model, prompt_tokens, completion_tokens, cost, latency_ms, ttft_ms,
                finish_reason, success, error_type, created_at)
    ), candidates AS MATERIALIZED (
      -- Price versions ranked once per distinct (provider, model) of the batch, not once per call.
      SELECT m.provider AS call_provider, m.model AS call_model, c.*
        FROM (SELECT DISTINCT provider, model FROM i WHERE cost IS NULL) m
        CROSS JOIN LATERAL app.price_candidates(${workspaceId}::uuid, m.provider, m.model) c
    )
    INSERT INTO public.llm_usage_logs (workspace_id, run_id, agent_id, user_id, provider, model, prompt_tokens,
                                       completion_tokens, input_cost_usd, output_cost_usd, total_cost_usd, cost_source,
                                       latency_ms, time_to_first_token_ms, finish_reason, success, error_type, created_at)
    SELECT ${workspaceId}::uuid, r.id, coalesce(a.id, r.agent_id), u.id, i.provider, i.model, i.prompt_tokens,
           i.completion_tokens,
           CASE WHEN i.cost IS NULL THEN round(i.prompt_tokens * p.input_usd_per_million / 1000000, 8) END,
           CASE WHEN i.cost IS NULL THEN round(i.completion_tokens * p.output_usd_per_million / 1000000, 8) END,
           coalesce(i.cost, round(i.prompt_tokens * p.input_usd_per_million / 1000000, 8)
                            + round(i.completion_tokens * p.output_usd_per_million / 1000000, 8)),
           CASE WHEN i.cost IS NOT NULL THEN 'reported'
                WHEN p.input_usd_per_million IS NOT NULL THEN 'price_table' ELSE 'unpriced' END,
           i.latency_ms, i.ttft_ms, i.finish_reason, coalesce(i.success, true), i.error_type, i.created_at
      FROM i
      JOIN public.users u ON u.workspace_id = ${workspaceId}::uuid AND u.external_id = i.user_ext
      LEFT JOIN public.agents a ON a.workspace_id = ${workspaceId}::uuid AND a.external_id = i.agent_ext
      LEFT JOIN public.agent_runs r ON r.workspace_id = ${workspaceId}::uuid AND r.external_id = i.run_ext
      LEFT JOIN LATERAL (
        SELECT c.input_usd_per_million, c.output_usd_per_million FROM candidates c
         WHERE i.cost IS NULL AND c.call_provider = i.provider AND c.call_model = i.model AND c.effective_from <= i.created_at
         ORDER BY c.priority, c.effective_from DESC LIMIT 1) p ON true
    RETURNING created_at`;
  return rows.map((row) => row.created_at);
}

async function insertActivities(tx: Tx, workspaceId: string, activities: ActivityItem[]): Promise<Date[]> {
  if (activities.length === 0) return [];
  const b = activities.map((a) => a.body);
  const rows = await tx.$queryRaw<{ created_at: Date }[]>`
    INSERT INTO analytics.user_activity (workspace_id, user_id, event_type, event_name, page_path, session_id,
                                         ip_address, user_agent, referrer, metadata, created_at)
    SELECT ${workspaceId}::uuid, u.id, i.event_type, i.event_name, i.page_path, i.session_id, i.ip_address,
           i.user_agent, i.referrer, coalesce(i.metadata, '{}'::jsonb), i.created_at
      FROM unnest(${b.map((a) => a.userId)}::text[], ${b.map((a) => a.eventType)}::text[],
                  ${b.map((a) => a.eventName ?? null)}::text[], ${b.map((a) => a.pagePath ?? null)}::text[],
                  ${b.map((a) => a.sessionId ?? null)}::text[]::uuid[], ${b.map((a) => a.ipAddress ?? null)}::text[]::inet[],
                  ${b.map((a) => a.userAgent ?? null)}::text[], ${b.map((a) => a.referrer ?? null)}::text[],
                  ${b.map((a) => (a.metadata === undefined ? null : JSON.stringify(a.metadata)))}::text[]::jsonb[],
                  ${activities.map((a) => a.timestamp)}::text[]::timestamptz[])
           AS i(user_ext, event_type, event_name, page_path, session_id, ip_address, user_agent, referrer, metadata, created_at)
      JOIN public.users u ON u.workspace_id = ${workspaceId}::uuid AND u.external_id = i.user_ext
    RETURNING created_at`;
  return rows.map((row) => row.created_at);
}

async function markDirtyHours(tx: Tx, workspaceId: string, touched: Date[]) {
  if (touched.length === 0) return;
  const hours = [...new Set(touched.map((t) => t.toISOString()))];
  // DO UPDATE (not DO NOTHING): if the rollup engine holds the row while recomputing, this waits
  // and then re-marks it, so a period changed during a recompute is never lost.
  await tx.$executeRaw`
    INSERT INTO analytics.rollup_dirty_hours (workspace_id, hour)
    SELECT DISTINCT ${workspaceId}::uuid, date_trunc('hour', t, 'UTC')
      FROM unnest(${hours}::text[]::timestamptz[]) AS t
     ORDER BY 2
    ON CONFLICT (workspace_id, hour) DO UPDATE SET marked_at = EXCLUDED.marked_at`;
}
