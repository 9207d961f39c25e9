import { cache } from "react";
import type { WorkspaceAccess } from "@/lib/access/authorize";
import { roleHasPermission, type Permission } from "@/lib/access/permissions";
import { withUserReadContext } from "@/lib/db/context";
import type { ReadTx } from "@/lib/db/read-tx";
import type { PrismaClient } from "@/lib/generated/prisma/client";
import type { MetricFilters, MetricName, GroupBy } from "@/lib/metrics/definitions";
import { queryMetric, queryMetricTotal, type MetricResult } from "@/lib/metrics/query";
import { dashboardFilters, dashboardRange, type DashboardRange, type RangePreset, type SearchParams } from "./range";

/** Everything a dashboard card needs to load its data: who, which workspace, which range/filters. */
export type DashboardScope = {
  accountId: string;
  workspace: { id: string; slug: string; name: string; timezone: string };
  range: DashboardRange;
  filters: MetricFilters;
  /** usage.read_all: may see other tracked users' usage one by one. */
  canSeeAllUsers: boolean;
  /** usage.export: may export other people's usage. */
  canExportUsers: boolean;
  searchParams: SearchParams;
  /** The app-role client (tests pass their database's; the app uses appPrisma()). */
  db?: PrismaClient;
};

export function dashboardScope(
  access: WorkspaceAccess,
  searchParams: SearchParams,
  options: { now?: Date; defaultPreset?: RangePreset } = {},
): DashboardScope {
  const can = (p: Permission) =>
    (access.role !== null && roleHasPermission(access.role, p)) || (access.isPlatformAdmin && p === "usage.read_all");
  return {
    accountId: access.account.id,
    workspace: access.workspace,
    range: dashboardRange(searchParams, access.workspace.timezone, options.now, options.defaultPreset),
    filters: dashboardFilters(searchParams),
    canSeeAllUsers: can("usage.read_all"),
    canExportUsers: can("usage.export"),
    searchParams,
  };
}

/**
 * Runs `fn` as the signed-in account (row-level security applies), read-only: on a read replica
 * when DATABASE_REPLICA_URLS is set, else on the primary's read pool, after waiting for one of the
 * process's DASHBOARD_DB_CONCURRENCY read slots (lib/db/context.ts). Dashboards only read.
 */
export function asAccount<T>(
  scope: Pick<DashboardScope, "accountId" | "db">,
  fn: (tx: ReadTx) => Promise<T>,
): Promise<T> {
  return scope.db ? withUserReadContext(scope.accountId, fn, scope.db) : withUserReadContext(scope.accountId, fn);
}

/** One catalogue query over the scope's range (or its previous period). */
export type ScopeMetricOptions = { groupBy?: GroupBy; filters?: MetricFilters; limit?: number; previous?: boolean };

export function scopeMetric(
  scope: DashboardScope,
  metric: MetricName,
  options: ScopeMetricOptions = {},
): Promise<MetricResult> {
  return asAccount(scope, (tx) => scopeMetricIn(tx, scope, metric, options));
}

/** The same, inside a transaction the caller already holds (several queries of one card). */
export function scopeMetricIn(
  tx: ReadTx,
  scope: DashboardScope,
  metric: MetricName,
  options: ScopeMetricOptions = {},
): Promise<MetricResult> {
  const range = options.previous ? scope.range.previous : scope.range;
  return queryMetric(tx, {
    workspace: scope.workspace,
    metric,
    from: range.from,
    to: range.to,
    granularity: scope.range.granularity,
    groupBy: options.groupBy ?? null,
    filters: options.filters ?? scope.filters,
    limit: options.limit,
  });
}

/** A KPI: the range total and the previous period's (cached per request by its arguments). */
export const scopeTotal = cache(
  (
    accountId: string,
    workspaceId: string,
    timezone: string,
    metric: MetricName,
    from: string,
    to: string,
    filtersJson: string,
  ) =>
    asAccount({ accountId }, (tx) =>
      queryMetricTotal(tx, {
        workspace: { id: workspaceId, timezone },
        metric,
        from,
        to,
        filters: JSON.parse(filtersJson) as MetricFilters,
      }),
    ),
);

export function kpi(scope: DashboardScope, metric: MetricName, filters: MetricFilters = scope.filters) {
  if (scope.db) {
    return asAccount(scope, (tx) =>
      queryMetricTotal(tx, { workspace: scope.workspace, metric, from: scope.range.from, to: scope.range.to, filters }),
    );
  }
  return scopeTotal(
    scope.accountId,
    scope.workspace.id,
    scope.workspace.timezone,
    metric,
    scope.range.from,
    scope.range.to,
    JSON.stringify(filters),
  );
}
