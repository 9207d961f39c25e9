import { z } from "zod";
import { AccessError, resolveWorkspaceAccess } from "@/lib/access/authorize";
import { roleHasPermission, type Permission } from "@/lib/access/permissions";
import { bearerToken, verifyApiKey } from "@/lib/api-keys/keys";
import { clientIpFromHeaders, recordAuditEvent, type AuditAction } from "@/lib/accounts/audit";
import { withApiKeyReadContext, withUserContext, withUserReadContext, withWorkspaceContext } from "@/lib/db/context";
import { nextReplicaPrisma } from "@/lib/db/replicas";
import type { ReadTx } from "@/lib/db/read-tx";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import { FILTER_KEYS } from "./definitions";
import { MetricQueryError } from "./errors";
import { queryMetric, type MetricResult } from "./query";
import { Coalescer } from "./coalesce";
import { metricCsv } from "./csv";

/**
 * GET /api/v1/metrics and GET /api/v1/export/metrics (CSV): parse → authenticate (session or API
 * key with `read` scope) → authorize → queryMetric → respond. The handler is framework-free so
 * tests call it with a Request.
 */
export const metricsQuerySchema = z.object({
  metric: z.string({ error: 'Query parameter "metric" is required, e.g. metric=runs.' }).min(1).max(64),
  from: z.string({ error: 'Query parameter "from" is required (YYYY-MM-DD or an ISO timestamp).' }).max(40),
  to: z.string({ error: 'Query parameter "to" is required (YYYY-MM-DD or an ISO timestamp).' }).max(40),
  granularity: z.string().max(16).default("day"),
  groupBy: z.string().max(32).optional(),
  workspace: z.string().max(63).optional(),
  limit: z.coerce.number().int().min(1).max(50).optional(),
  agentId: z.string().max(200).optional(),
  userId: z.string().max(200).optional(),
  model: z.string().max(200).optional(),
  provider: z.string().max(200).optional(),
});
export type MetricsQuery = z.infer<typeof metricsQuerySchema>;

export type MetricsHandlerDeps = {
  /** Writes (audit events) and, without `readDb`, reads. */
  db: PrismaClient;
  /**
   * Where the metric reads go: the route passes the dashboard read pool (a replica, else
   * primaryReadPrisma), so metric readers never hold the connections ingest writes need.
   */
  readDb?: PrismaClient;
  /** The signed-in account (from the session cookie), or null. */
  sessionAccountId: () => Promise<string | null>;
};

// Identical concurrent metric reads share one database read (see Coalescer), keyed by who asks
// and everything asked.
const metricReads = new Coalescer<MetricResult>();

/** How many metric reads this process started, and how many requests joined one under way. */
export function metricReadCounts(): { started: number; joined: number } {
  return { ...metricReads.counts };
}

type Caller =
  | { kind: "account"; accountId: string; workspace: { id: string; timezone: string }; can: (p: Permission) => boolean }
  | { kind: "api_key"; workspace: { id: string; timezone: string } };

function json(status: number, body: unknown): Response {
  return Response.json(body, { status, headers: { "cache-control": "no-store" } });
}

async function identify(request: Request, query: MetricsQuery, deps: MetricsHandlerDeps): Promise<Caller | Response> {
  const token = bearerToken(request.headers.get("authorization"));
  if (token) {
    const key = await verifyApiKey(deps.db, token);
    if (!key) return json(401, { error: "The API key is unknown or revoked." });
    if (!key.scopes.includes("read")) {
      return json(403, {
        error: 'This API key lacks the "read" scope; create a key with scope "read" to query metrics.',
      });
    }
    if (query.workspace && query.workspace !== key.workspace.slug) {
      return json(403, { error: `This API key belongs to another workspace than "${query.workspace}".` });
    }
    return { kind: "api_key", workspace: { id: key.workspace.id, timezone: key.workspace.timezone } };
  }
  const accountId = await deps.sessionAccountId();
  if (!accountId)
    return json(401, { error: "Sign in, or send an API key with read scope as 'Authorization: Bearer <key>'." });
  if (!query.workspace)
    return json(400, { error: 'Query parameter "workspace" (the workspace slug) is required with a session.' });
  const access = await resolveWorkspaceAccess(accountId, query.workspace, "workspace.read", deps.db);
  const can = (permission: Permission) =>
    (access.role !== null && roleHasPermission(access.role, permission)) ||
    (access.isPlatformAdmin && (["workspace.read", "usage.read_all"] as Permission[]).includes(permission));
  return {
    kind: "account",
    accountId,
    workspace: { id: access.workspace.id, timezone: access.workspace.timezone },
    can,
  };
}

/**
 * Runs `fn` in the caller's row-level-security context, read-only with the statement timeout, on
 * `deps.readDb` (the route's dashboard read pool), else a read replica, else `deps.db`.
 */
function inContext<T>(caller: Caller, deps: MetricsHandlerDeps, fn: (tx: ReadTx) => Promise<T>): Promise<T> {
  const db = deps.readDb ?? nextReplicaPrisma() ?? deps.db;
  return caller.kind === "account"
    ? withUserReadContext(caller.accountId, fn, db)
    : withApiKeyReadContext(caller.workspace.id, fn, db);
}

/**
 * Exports and looks at one tracked user's usage are audited (issue: "exports, and any admin's view
 * of another user's usage"). Written on the primary after the read succeeded; an API key acts as
 * its workspace (no person).
 */
async function auditAccess(
  caller: Caller,
  db: PrismaClient,
  request: Request,
  action: AuditAction,
  details: Record<string, string | null>,
) {
  const event = { workspaceId: caller.workspace.id, action, details, ip: clientIpFromHeaders(request.headers) };
  if (caller.kind === "account") await withUserContext(caller.accountId, (tx) => recordAuditEvent(tx, event), db);
  else await withWorkspaceContext(caller.workspace.id, (tx) => recordAuditEvent(tx, event), db);
}

export async function handleMetricsRequest(
  request: Request,
  deps: MetricsHandlerDeps,
  format: "json" | "csv" = "json",
): Promise<Response> {
  const params = Object.fromEntries(new URL(request.url).searchParams);
  const parsed = metricsQuerySchema.safeParse(params);
  if (!parsed.success) {
    return json(400, {
      error: parsed.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; "),
    });
  }
  const query = parsed.data;
  try {
    const caller = await identify(request, query, deps);
    if (caller instanceof Response) return caller;
    // Other people's usage, one by one: seeing it needs usage.read_all, exporting it usage.export.
    const perUser = query.groupBy === "user" || query.userId !== undefined;
    if (caller.kind === "account" && perUser) {
      const needed: Permission = format === "csv" ? "usage.export" : "usage.read_all";
      if (!caller.can(needed)) {
        return json(403, {
          error:
            format === "csv"
              ? "Your role may not export per-user usage. Export without groupBy=user/userId, or ask an admin."
              : "Your role may not see other people's usage.",
        });
      }
    }
    const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, query[k]]));
    const input = {
      workspace: caller.workspace,
      metric: query.metric,
      from: query.from,
      to: query.to,
      granularity: query.granularity,
      groupBy: query.groupBy ?? null,
      filters,
      limit: query.limit,
    };
    // Who asks is part of the key: row-level security answers per account (or per key's workspace).
    const reader = caller.kind === "account" ? `account:${caller.accountId}` : `key:${caller.workspace.id}`;
    const result: MetricResult = await metricReads.run(JSON.stringify([reader, input]), () =>
      inContext(caller, deps, (tx) => queryMetric(tx, input)),
    );
    const audited = { metric: query.metric, groupBy: query.groupBy ?? null, userId: query.userId ?? null };
    if (format === "csv") await auditAccess(caller, deps.db, request, "export.downloaded", audited);
    else if (query.userId !== undefined && caller.kind === "account") {
      await auditAccess(caller, deps.db, request, "usage.viewed_other_user", audited);
    }
    if (format === "csv") {
      return new Response(metricCsv(result), {
        status: 200,
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="${result.metric}-${query.from}-${query.to}.csv"`,
          "cache-control": "no-store",
        },
      });
    }
    return json(200, {
      metric: result.metric,
      label: result.label,
      unit: result.unit,
      granularity: result.granularity,
      timezone: result.timezone,
      groupBy: result.groupBy,
      from: result.from,
      to: result.to,
      series: result.series,
    });
  } catch (error) {
    if (error instanceof MetricQueryError) return json(400, { error: error.message, code: error.code });
    if (error instanceof AccessError) return json(error.status, { error: error.message });
    throw error;
  }
}
