import type { Metadata } from "next";
import { notFound, redirect } from "next/navigation";
import { Suspense } from "react";
import { CardSkeleton, guarded } from "@/components/dashboard/card";
import { DataTable } from "@/components/dashboard/data-table";
import { DateRangePicker } from "@/components/dashboard/date-range-picker";
import { getSessionAccount } from "@/lib/auth/session";
import { isPlatformAdmin, platformSummary } from "@/lib/dashboards/platform";
import { dashboardRange, type DashboardRange, type SearchParams } from "@/lib/dashboards/range";
import { AccountHeader } from "@/components/account-header";

export const metadata: Metadata = { title: "Platform" };

/** Platform admins only: every workspace side by side. Others get a 404 (they learn nothing). */
export default async function PlatformPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const account = await getSessionAccount();
  if (!account) redirect("/login?callbackUrl=%2Fplatform");
  if (!(await isPlatformAdmin(account.id))) notFound();
  const range = dashboardRange(await searchParams, "UTC");
  return (
    <>
      <AccountHeader account={account} />
      <main className="page">
        <div className="page-header">
          <div>
            <h1 className="page-title">Platform</h1>
            <p className="page-subtitle">
              Every workspace · {range.from} – {range.to} (each workspace&apos;s own days)
            </p>
          </div>
        </div>
        <Suspense fallback={null}>
          <DateRangePicker
            preset={range.preset}
            from={range.from}
            to={range.to}
            granularity={range.granularity}
            compare={range.compare}
          />
        </Suspense>
        <Suspense fallback={<CardSkeleton title="Workspaces" height={400} />}>
          <Workspaces accountId={account.id} range={range} />
        </Suspense>
      </main>
    </>
  );
}

async function Workspaces({ accountId, range }: { accountId: string; range: DashboardRange }) {
  return guarded("Workspaces", async () => {
    const rows = await platformSummary(accountId, range.from, range.to);
    return (
      <DataTable
        title="Workspaces"
        filename={`workspaces-${range.from}-${range.to}.csv`}
        initialSort={{ key: "runs", dir: "desc" }}
        emptyText="No workspaces yet — create one with npm run admin."
        columns={[
          { key: "name", label: "Workspace", link: true },
          { key: "timezone", label: "Time zone" },
          { key: "members", label: "Members", format: "integer" },
          { key: "agents", label: "Agents", format: "integer" },
          { key: "runs", label: "Runs", format: "integer" },
          { key: "credits", label: "Credits", format: "credits" },
          { key: "cost_usd", label: "LLM cost", format: "usd" },
          { key: "active_users", label: "Active users", format: "integer" },
        ]}
        rows={rows.map((r) => ({
          id: r.workspace_id,
          values: {
            name: r.name,
            timezone: r.timezone,
            members: r.members,
            agents: r.agents,
            runs: r.runs,
            credits: r.credits,
            cost_usd: r.cost_usd,
            active_users: r.active_users,
          },
          hrefs: { name: `/w/${r.slug}` },
        }))}
      />
    );
  });
}
