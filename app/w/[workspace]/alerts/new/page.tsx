import type { Metadata } from "next";
import { authorizePage } from "@/lib/access/authorize";
import { scopeOptions } from "@/lib/alerts/queries";
import { withUserContext } from "@/lib/db/context";
import { EMPTY_DRAFT, RuleForm } from "../rule-form";

export const metadata: Metadata = { title: "New alert rule" };

export default async function NewAlertRulePage({ params }: { params: Promise<{ workspace: string }> }) {
  const { workspace: slug } = await params;
  const access = await authorizePage(slug, "alerts.manage", `/w/${slug}/alerts/new`);
  const options = await withUserContext(access.account.id, (tx) => scopeOptions(tx, access.workspace.id));
  return (
    <main className="page">
      <div className="page-header">
        <h1 className="page-title">New alert rule</h1>
      </div>
      <RuleForm slug={slug} ruleId={null} initial={EMPTY_DRAFT} {...options} />
    </main>
  );
}
