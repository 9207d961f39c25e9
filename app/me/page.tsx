import type { Metadata } from "next";
import Link from "next/link";
import { redirect } from "next/navigation";
import { Suspense } from "react";
import { MetricKpi } from "@/components/dashboard/metric-kpi";
import { DashboardHeader } from "@/components/dashboard/page-header";
import { UsageSections } from "@/components/dashboard/usage";
import { EmptyState } from "@/components/empty-state";
import { KpiCardSkeleton } from "@/components/kpi-card";
import { getSessionAccount } from "@/lib/auth/session";
import { linkedTrackedUsers, myUsageScope } from "@/lib/dashboards/me";
import { withParams, type SearchParams } from "@/lib/dashboards/range";
import { AccountHeader } from "@/components/account-header";

export const metadata: Metadata = { title: "My usage" };

/** The signed-in person's own tracked usage (runs, tokens, cost), built from the usage components. */
export default async function MyUsagePage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const account = await getSessionAccount();
  if (!account) redirect("/login?callbackUrl=%2Fme");
  const params = await searchParams;
  const linked = await linkedTrackedUsers(account.id);
  if (linked.length === 0) {
    return (
      <>
        <AccountHeader account={account} />
        <main className="page">
          <h1 className="page-title">My usage</h1>
          <EmptyState title="No tracked usage linked to you">
            <p>
              Usage is linked to you when a platform reports a user with your e-mail address ({account.email}). Ask your
              workspace admin to send your e-mail with your runs and LLM calls.
            </p>
          </EmptyState>
        </main>
      </>
    );
  }
  const wanted = typeof params.workspace === "string" ? params.workspace : undefined;
  const current = linked.find((l) => l.slug === wanted) ?? linked[0];
  const scope = myUsageScope(account.id, current, params);
  return (
    <>
      <AccountHeader account={account} />
      <main className="page">
        <DashboardHeader scope={scope} title="My usage" subtitle={`In ${current.name}`}>
          {linked.length > 1 ? (
            <nav aria-label="Workspace" style={{ marginBottom: 16 }}>
              {linked.map((l) => (
                <Link
                  key={l.slug}
                  href={`/me${withParams(params, { workspace: l.slug })}`}
                  aria-current={l.slug === current.slug ? "page" : undefined}
                  style={{ marginRight: 12 }}
                >
                  {l.name}
                </Link>
              ))}
            </nav>
          ) : null}
        </DashboardHeader>
        <div className="kpi-grid" style={{ marginBottom: 16 }}>
          {(["runs", "success_rate", "credits"] as const).map((metric) => (
            <Suspense key={metric} fallback={<KpiCardSkeleton label={metric} />}>
              <MetricKpi scope={scope} metric={metric} />
            </Suspense>
          ))}
        </div>
        <UsageSections scope={scope} perUser={false} />
      </main>
    </>
  );
}
